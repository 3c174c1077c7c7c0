import { describe, expect, test } from 'vitest';
import { layoutProblems } from '../../src/core/binary/struct.js';
import {
  QCOW2_EXTENSION,
  QCOW2_FEATURE_NAME,
  QCOW2_HEADER,
  FEATURE_NAMES,
} from '../../src/core/container/qcow2/structs.js';
import { VHD_DYNAMIC_HEADER, VHD_FOOTER, vhdChecksum, vhdGeometry } from '../../src/core/container/vhd/structs.js';
import { VMDK_GRAIN_MARKER, VMDK_HEADER, VMDK_MARKER } from '../../src/core/container/vmdk/structs.js';
import { SPARSE_CHUNK, SPARSE_FILL, SPARSE_HEADER } from '../../src/core/container/sparse/structs.js';
import { l2Entry, planQcow2, HostRefs } from '../../src/core/container/qcow2/meta.js';
import { UnitMap } from '../../src/core/container/units.js';

describe('container struct tables', () => {
  test.each([
    [QCOW2_HEADER, 112],
    [QCOW2_EXTENSION, 8],
    [QCOW2_FEATURE_NAME, 48],
    [VHD_FOOTER, 512],
    [VHD_DYNAMIC_HEADER, 1024],
    [VMDK_HEADER, 512],
    [VMDK_MARKER, 16],
    [VMDK_GRAIN_MARKER, 12],
    [SPARSE_HEADER, 28],
    [SPARSE_CHUNK, 12],
    [SPARSE_FILL, 4],
  ] as const)('%s has a sound layout and the right size', (s, size) => {
    expect(layoutProblems(s)).toEqual([]);
    expect(s.size).toBe(size);
  });

  test('offsets the specifications name', () => {
    expect(QCOW2_HEADER.offsetOf('l1TableOffset')).toBe(40);
    expect(QCOW2_HEADER.offsetOf('incompatibleHi')).toBe(72);
    expect(QCOW2_HEADER.offsetOf('headerLength')).toBe(100);
    expect(QCOW2_HEADER.offsetOf('compressionType')).toBe(104);
    expect(VHD_FOOTER.offsetOf('currentSize')).toBe(48);
    expect(VHD_FOOTER.offsetOf('checksum')).toBe(64);
    expect(VHD_FOOTER.offsetOf('uniqueId')).toBe(68);
    expect(VHD_DYNAMIC_HEADER.offsetOf('blockSize')).toBe(32);
    expect(VHD_DYNAMIC_HEADER.offsetOf('parentLocators')).toBe(576);
    expect(VMDK_HEADER.offsetOf('gdOffsetLo')).toBe(56);
    expect(VMDK_HEADER.offsetOf('compressAlgorithm')).toBe(77);
    expect(SPARSE_HEADER.offsetOf('totalChunks')).toBe(20);
  });

  test('the feature name table has the eight entries QEMU writes (384 bytes)', () => {
    expect(FEATURE_NAMES.length * QCOW2_FEATURE_NAME.size).toBe(0x180);
  });
});

describe('VHD geometry and checksum', () => {
  test('CHS by the specification: small, medium and saturated sizes', () => {
    // 48 MiB: 98304 sectors -> 17 sectors/track, 6 heads, 963 cylinders (98226 sectors, below the size)
    expect(vhdGeometry(48 << 20)).toEqual({ cylinders: 963, heads: 6, sectorsPerTrack: 17 });
    // 1 GiB: too many cylinders at 17 and 31 sectors/track -> 63 sectors, 16 heads
    expect(vhdGeometry(2 ** 30)).toEqual({ cylinders: 2080, heads: 16, sectorsPerTrack: 63 });
    // beyond 65535*16*255 sectors (~127 GiB) the geometry saturates
    expect(vhdGeometry(2000 * 2 ** 30)).toEqual({ cylinders: 65535, heads: 16, sectorsPerTrack: 255 });
    for (const size of [1 << 20, 3 << 20, 100 << 20, 33 * 2 ** 30, 127 * 2 ** 30]) {
      const g = vhdGeometry(size);
      expect(g.cylinders * g.heads * g.sectorsPerTrack).toBeLessThanOrEqual(size / 512);
      expect(g.heads).toBeLessThanOrEqual(16);
    }
  });

  test('checksum is the complement of the byte sum with the field itself left out', () => {
    const b = new Uint8Array(512);
    b[0] = 1;
    b[1] = 2;
    b[64] = 0xff; // inside the checksum field: ignored
    expect(vhdChecksum(b, 64)).toBe(~3 >>> 0);
  });
});

describe('qcow2 table entries and layout', () => {
  test('a standard L2 entry has the copied flag; a compressed one the sector count above bit x', () => {
    expect(l2Entry(0x10000, 0, 16)).toEqual([0x80000000, 0x10000]);
    // x = 62 - (16 - 8) = 54: 3 additional sectors -> bits 54.. -> 3 << 22 in the high word, bit 62 set
    const [hi, lo] = l2Entry(0x12345, 4, 16);
    expect(lo).toBe(0x12345);
    expect(hi).toBe((0x40000000 | (3 << 22)) >>> 0);
  });

  test('the refcount tables count themselves', () => {
    const map = new UnitMap(1 << 20);
    const refs = new HostRefs();
    for (let u = 0; u < 40000; u++) {
      map.set(u, (u + 1) * 65536);
      refs.add(u + 1, u + 1);
    }
    const p = planQcow2({ clusterBits: 16, size: 2 ** 36, map, refs });
    const clusters = p.fileSize / 65536;
    expect(p.refcountBlocks * 32768).toBeGreaterThanOrEqual(clusters);
    expect(p.refcountTableClusters * 8192).toBeGreaterThanOrEqual(p.refcountBlocks);
    expect(p.l2Tables).toBe(Math.ceil(40000 / 8192));
  });
});

describe('incompressible units', () => {
  test('random bytes look incompressible; text, zeros and half-random units do not', async () => {
    const { looksIncompressible } = await import('../../src/core/container/compress.js');
    const { noise } = await import('./helpers.js');
    expect(looksIncompressible(noise(65536, 3))).toBe(true);
    expect(looksIncompressible(new TextEncoder().encode('the quick brown fox '.repeat(4000)).subarray(0, 65536))).toBe(
      false,
    );
    expect(looksIncompressible(new Uint8Array(65536))).toBe(false);
    const half = new Uint8Array(65536);
    half.set(noise(32768, 4));
    expect(looksIncompressible(half)).toBe(false);
  });
});

describe('format from a file name', () => {
  test('known extensions, case-insensitive; anything else is raw', async () => {
    const { containerFormatFromName } = await import('../../src/core/container/write.js');
    expect(containerFormatFromName('disk.QCOW2')).toEqual({ format: 'qcow2' });
    expect(containerFormatFromName('a/b.vhd')).toEqual({ format: 'vhd' });
    expect(containerFormatFromName('x.vmdk')).toEqual({ format: 'vmdk' });
    expect(containerFormatFromName('system.simg')).toEqual({ format: 'sparse' });
    expect(containerFormatFromName('disk.img')).toBeUndefined();
    expect(containerFormatFromName('qcow2')).toBeUndefined();
  });
});
