/**
 * openImage is lazy: opening an ext4 or FAT image and walking all its
 * metadata reads a small fraction of the device; file data is read only when
 * a file is read, and then only that file's blocks.
 */
import { describe, expect, it } from 'vitest';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice, type BlockDevice } from '../../src/core/io/device.js';
import { writeExt4 } from '../../src/core/fs/ext4/index.js';
import { writeFat } from '../../src/core/fs/fat/index.js';
import { openImage, isDisk } from '../../src/node/open.js';

class CountingDevice implements BlockDevice {
  bytesRead = 0;
  constructor(private readonly inner: MemoryDevice) {}
  get size() {
    return this.inner.size;
  }
  readAt(o: number, l: number) {
    this.bytesRead += l;
    return this.inner.readAt(o, l);
  }
  readInto(o: number, t: Uint8Array) {
    this.bytesRead += t.length;
    this.inner.readInto(o, t);
  }
  writeAt() {
    throw new Error('read-only');
  }
  flush() {}
}

function manyFiles(n: number, size: number): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  for (let i = 0; i < n; i++) t.addFile(`/d${i % 20}/f${i}`, new Uint8Array(size).fill(i & 0xff));
  return t;
}

describe('lazy opening', () => {
  for (const fs of ['ext4', 'fat32'] as const) {
    it(`${fs}: open + walk reads metadata only; readFile reads that file`, async () => {
      const n = 2000,
        size = 8192;
      const mem = new MemoryDevice(fs === 'ext4' ? 40 << 20 : 64 << 20);
      if (fs === 'ext4') await writeExt4(manyFiles(n, size), mem, { size: mem.size });
      else await writeFat(manyFiles(n, size), mem, { type: 'fat32' });
      const dev = new CountingDevice(mem);
      const img = await openImage(dev);
      if (isDisk(img)) throw new Error('disk?');
      let files = 0;
      for (const e of img.walk())
        if (e.node.type === 'file') {
          files++;
          expect(e.node.content.size).toBe(size);
        }
      expect(files).toBe(n);
      const meta = dev.bytesRead;
      expect(meta).toBeLessThan((n * size) / 8); // well under the 16 MiB of file data
      const got = await img.readFile('/d7/f1987');
      expect(got).toEqual(new Uint8Array(size).fill(1987 & 0xff));
      expect(dev.bytesRead - meta).toBeLessThanOrEqual(size + 64 * 1024);
    });
  }
});
