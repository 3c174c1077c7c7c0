/** BlockDevice.readInto (optional, no allocation) reads what readAt reads, with the same range checks. */
import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDevice, SubDevice, type BlockDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import { bytesContent, readContent } from '../../src/core/tree/content.js';

describe('readInto', () => {
  it('matches readAt on memory, file and sub-devices, and refuses out-of-range reads', () => {
    const data = new Uint8Array(10_000).map((_, i) => (i * 31 + 7) & 0xff);
    const dir = mkdtempSync(join(tmpdir(), 'ti-ri-'));
    try {
      writeFileSync(join(dir, 'f'), data);
      const file = FileDevice.open(join(dir, 'f'));
      try {
        const devs: BlockDevice[] = [
          new MemoryDevice(data.slice()),
          file,
          new SubDevice(file, 1000, 5000),
          new SubDevice(
            { size: data.length, readAt: (o, l) => data.slice(o, o + l), writeAt() {}, flush() {} },
            3,
            9000,
          ),
        ];
        for (const d of devs) {
          for (const [off, len] of [
            [0, 0],
            [0, 1],
            [17, 4096],
            [d.size - 5, 5],
            [123, d.size - 123],
          ] as const) {
            const t = new Uint8Array(len).fill(0xee);
            d.readInto!(off, t);
            expect(t).toEqual(d.readAt(off, len));
          }
          expect(() => d.readInto!(d.size - 1, new Uint8Array(2))).toThrow(
            expect.objectContaining({ code: 'E_IO_RANGE' }),
          );
          expect(() => d.readInto!(-1, new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
        }
      } finally {
        file.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('readContent uses Content.readInto and returns a copy the caller owns', async () => {
    const src = new Uint8Array([1, 2, 3, 4, 5]);
    const c = bytesContent(src);
    const got = await readContent(c);
    expect(got).toEqual(src);
    got[0] = 99;
    expect(src[0]).toBe(1);
    const short = {
      size: 4,
      stream: async function* () {},
      readInto: (_p: number, t: Uint8Array) => {
        t.set([1, 2].slice(0, t.length));
        return Math.min(2, t.length);
      },
    };
    await expect(
      readContent({ ...short, readInto: (p: number, t: Uint8Array) => (p >= 2 ? 0 : short.readInto(p, t)) }),
    ).rejects.toThrow(/yielded 2 bytes, declared 4/);
  });
});
