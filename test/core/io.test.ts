import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice, SubDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';

describe('block devices', () => {
  it('memory device reads and writes, and rejects out-of-range reads with a typed error', () => {
    const d = new MemoryDevice(1024);
    d.writeAt(1000, new Uint8Array([1, 2, 3]));
    expect([...d.readAt(999, 5)]).toEqual([0, 1, 2, 3, 0]);
    expect(() => d.readAt(1020, 8)).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
    expect(() => d.writeAt(1022, new Uint8Array(4))).toThrow(RangeError);
  });
  it('sub-window maps offsets and keeps writes inside', () => {
    const d = new MemoryDevice(4096);
    const w = new SubDevice(d, 1024, 2048);
    w.writeAt(0, new Uint8Array([9]));
    expect(d.bytes[1024]).toBe(9);
    expect(() => w.writeAt(2047, new Uint8Array(2))).toThrow(RangeError);
    expect(() => w.readAt(2048, 1)).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
    expect(() => new SubDevice(d, 3000, 2000)).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
  });
  it('file device keeps holes: zero blocks are never written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-io-'));
    try {
      const p = join(dir, 'img');
      const size = 64 << 20;
      const f = FileDevice.create(p, size);
      f.writeAt(0, new Uint8Array(32 << 20)); // all zeros: must stay a hole
      const data = new Uint8Array(8192);
      data[5000] = 7;
      f.writeAt(40 << 20, data); // one 4 KiB block with data, one zero block
      f.flush();
      expect(f.bytesWritten).toBe(4096);
      // once written, a block takes later zero writes
      f.writeAt((40 << 20) + 4096, new Uint8Array(4096));
      f.writeAt(40 << 20, new Uint8Array(8192));
      expect([...f.readAt((40 << 20) + 5000 - 4096 + 4096, 1)]).toEqual([0]);
      f.close();
      const st = statSync(p);
      expect(st.size).toBe(size);
      expect(st.blocks * 512).toBeLessThanOrEqual(64 * 1024);
      const r = FileDevice.open(p);
      expect(r.size).toBe(size);
      expect(() => r.writeAt(0, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'E_IO_READONLY' }));
      r.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('opening a missing file is a typed error naming the path', () => {
    expect(() => FileDevice.open('/nonexistent/x.img')).toThrow(
      expect.objectContaining({ code: 'E_IO_ENOENT', message: expect.stringContaining('/nonexistent/x.img') }),
    );
  });
});
