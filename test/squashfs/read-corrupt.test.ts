// Damaged images: flipped bytes anywhere, truncation at every table, and
// hostile superblock counts and offsets. Opening and reading every file must
// give a typed TinyImageError or a result, never a RangeError/TypeError, a
// hang or a huge allocation. Images from our writer and from mksquashfs.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../src/core/io/device.js';
import { openSquashfs, SUPERBLOCK_TABLE as SB } from './corrupt-helpers.js';
import { extractTree } from '../../src/node/host/extract.js';
import { readOutcome } from '../helpers/corrupt.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { memImage, mknod, setHostXattrs, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

/** Open and read everything (at most 16 MiB per file); returns 'ok' or the error code. */
function consume(bytes: Uint8Array): string {
  return readOutcome(
    () => openSquashfs(new MemoryDevice(bytes)).tree,
    (c, buf) => {
      for (let p = 0; p < Math.min(c.size, 16 << 20); p += buf.length) c.readInto!(p, buf);
    },
  );
}

const images: Array<[string, Uint8Array]> = [];

beforeAll(async () => {
  const tree = edgeTree({ bigDir: 300, sparseHuge: false });
  images.push(['ours', (await memImage(tree)).bytes]);
  images.push([
    'ours, 4 KiB blocks, tails packed',
    (await memImage(tree, { blockSize: 4096, tailPacking: true })).bytes,
  ]);
  if (!missing({ tools: ['mksquashfs', 'python3', 'mknod'] }) && process.getuid?.() === 0) {
    const src = join(t.dir, 'src');
    await extractTree(tree, src, { mknod });
    setHostXattrs(src, tree);
    for (const comp of ['gzip', 'zstd']) {
      const img = join(t.dir, `mk-${comp}.sqfs`);
      const r = run('mksquashfs', [src, img, '-noappend', '-no-progress', '-comp', comp]);
      if (r.code === 0) images.push([`mksquashfs ${comp}`, new Uint8Array(readFileSync(img))]); // a copy: Buffer#slice would not copy
    }
  }
}, 120000);

describe('squashfs reader on damaged images', () => {
  it('reads the undamaged images', () => {
    for (const [name, b] of images) expect(consume(b), name).toBe('ok');
  });

  it('flipped bytes give a typed error or a result', () => {
    for (const [, img] of images) {
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat({ max: img.length - 1 }), fc.integer({ min: 1, max: 255 })), {
            minLength: 1,
            maxLength: 8,
          }),
          (flips) => {
            const b = img.slice();
            for (const [pos, x] of flips) b[pos]! ^= x;
            const t0 = Date.now();
            consume(b);
            expect(Date.now() - t0).toBeLessThan(5000);
          },
        ),
        { numRuns: 40 },
      );
    }
  }, 120000);

  it('truncation before bytes_used is a typed error (the padding after it may go)', () => {
    for (const [, img] of images) {
      const used = SB.decode(img).bytesUsed;
      for (let cut = 0; cut < img.length; cut += Math.max(1, Math.floor(img.length / 60))) {
        const code = consume(img.subarray(0, cut));
        if (cut < used) expect(code).toMatch(/^E_/);
        else expect(code).toBe('ok');
      }
    }
  });

  it('hostile superblock counts and offsets', () => {
    const fields = [
      'inodes',
      'blockSize',
      'fragments',
      'blockLog',
      'noIds',
      'rootInode',
      'bytesUsed',
      'idTableStart',
      'xattrIdTableStart',
      'inodeTableStart',
      'directoryTableStart',
      'fragmentTableStart',
      'lookupTableStart',
    ] as const;
    const values = [0, 1, 3, 0xffff, 0x7fffffff, 0xffffffff, 2 ** 40, 2 ** 53 - 1];
    const seen = new Set<string>();
    for (const [, img] of images) {
      for (const f of fields) {
        for (const v of values) {
          const b = img.slice();
          const sb = SB.decode(b);
          try {
            SB.encode({ ...sb, [f]: v }, b);
          } catch {
            continue;
          }
          seen.add(consume(b));
        }
      }
    }
    expect([...seen].every((c) => c === 'ok' || c.startsWith('E_'))).toBe(true);
  }, 120000);
});
