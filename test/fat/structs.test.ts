import { describe, expect, test } from 'vitest';
import { layoutProblems } from '../../src/core/binary/struct.js';
import {
  BPB,
  DIRENT,
  EBPB16,
  EBPB32,
  FSINFO,
  LFN,
  BOOT_CODE_OFFSET_16,
  BOOT_CODE_OFFSET_32,
} from '../../src/core/fs/fat/structs.js';
import { bootCode, bootJump, NOT_BOOTABLE_MESSAGE } from '../../src/core/fs/fat/bootcode.js';

describe('FAT struct tables', () => {
  test.each([
    [BPB, 36],
    [EBPB16, 26],
    [EBPB32, 54],
    [FSINFO, 512],
    [DIRENT, 32],
    [LFN, 32],
  ] as const)('%s has a sound layout and the right size', (s, size) => {
    expect(layoutProblems(s)).toEqual([]);
    expect(s.size).toBe(size);
  });

  test('well-known offsets', () => {
    expect(BPB.offsetOf('bytesPerSector')).toBe(11);
    expect(BPB.offsetOf('hiddenSectors')).toBe(28);
    expect(BPB.offsetOf('totalSectors32')).toBe(32);
    expect(36 + EBPB16.offsetOf('volumeId')).toBe(39);
    expect(36 + EBPB16.offsetOf('fsType')).toBe(54);
    expect(36 + EBPB32.offsetOf('rootCluster')).toBe(44);
    expect(36 + EBPB32.offsetOf('volumeId')).toBe(67);
    expect(36 + EBPB32.offsetOf('fsType')).toBe(82);
    expect(FSINFO.offsetOf('freeCount')).toBe(488);
    expect(FSINFO.offsetOf('trailSignature')).toBe(508);
    expect(DIRENT.offsetOf('clusterHi')).toBe(20);
    expect(DIRENT.offsetOf('fileSize')).toBe(28);
    expect(LFN.offsetOf('checksum')).toBe(13);
    expect(LFN.offsetOf('name3')).toBe(28);
    expect([BOOT_CODE_OFFSET_16, BOOT_CODE_OFFSET_32]).toEqual([62, 90]);
  });

  test('boot code: jump target, message pointer, fits before the signature', () => {
    for (const off of [62, 90]) {
      expect([...bootJump(off)]).toEqual([0xeb, off - 2, 0x90]);
      const code = bootCode(off);
      expect(off + code.length).toBeLessThanOrEqual(510);
      const msgAddr = code[5]! | (code[6]! << 8);
      const msgOff = msgAddr - 0x7c00 - off;
      const text = new TextDecoder().decode(code.subarray(msgOff, code.length - 1));
      expect(text).toBe(NOT_BOOTABLE_MESSAGE);
      expect(code[code.length - 1]).toBe(0);
      // int 10h, int 16h, int 19h present
      const hex = Buffer.from(code.subarray(0, msgOff)).toString('hex');
      expect(hex).toContain('cd10');
      expect(hex).toContain('cd16');
      expect(hex).toContain('cd19');
    }
  });
});
