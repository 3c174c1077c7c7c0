/**
 * Fuzzing every reader through openImage: mutations of valid images (made by
 * our writers) and random bytes must never hang, never allocate memory sized
 * by a forged field, and fail only with the library's typed errors.
 *
 * Cases per format: FUZZ_CASES (default 150 mutations + 50 random inputs)
 * for each of 8 formats = 1,600 cases in CI.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { cpioChunks } from '../../src/core/archive/cpio/index.js';
import { concatChunks, gzipChunks } from '../../src/core/compress/gzip.js';
import { writeExt4 } from '../../src/core/fs/ext4/index.js';
import { writeFat } from '../../src/core/fs/fat/index.js';
import { buildDisk } from '../../src/core/image/disk.js';
import { openImage, isDisk } from '../../src/node/open.js';
import { TinyImageError } from '../../src/core/errors.js';
import { readContent } from '../../src/core/tree/content.js';
import { extractTree } from '../../src/node/host/extract.js';
import { tmpDir } from '../helpers/tmp.js';

const scratch = tmpDir('tinyimage-fuzz-');
afterAll(() => scratch.cleanup());

const CASES = Number(process.env.FUZZ_CASES ?? 150);
const RANDOM = Math.max(10, Math.round(CASES / 3));

function sampleTree(): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/etc/inittab', '::sysinit:/etc/init.d/rcS\n'.repeat(3));
  t.addFile(
    '/bin/busybox',
    new Uint8Array(9000).map((_, i) => (i * 7) & 0xff),
    { mode: 0o755 },
  );
  t.addSymlink('/bin/sh', 'busybox');
  t.addHardLink('/bin/ash', '/bin/busybox');
  for (let i = 0; i < 40; i++) t.addFile(`/usr/share/doc/file-with-a-long-name-${i}.txt`, `line ${i}\n`);
  t.mkdir('/tmp', { mode: 0o1777 });
  return t;
}

async function images(): Promise<Array<[string, Uint8Array]>> {
  const cpio = await concatChunks(cpioChunks(sampleTree()));
  const gz = await concatChunks(gzipChunks(cpioChunks(sampleTree())));
  const ext = async (type: 'ext2' | 'ext4', bs: 1024 | 4096, size: number) => {
    const d = new MemoryDevice(size);
    await writeExt4(sampleTree(), d, { type, blockSize: bs, size });
    return d.bytes;
  };
  const fat = async (type: 'fat12' | 'fat16', size: number) => {
    const d = new MemoryDevice(size);
    await writeFat(sampleTree(), d, { type });
    return d.bytes;
  };
  const disk = async (table: 'mbr' | 'gpt') => {
    const d = new MemoryDevice(16 << 20);
    await buildDisk(
      { table, size: 16 << 20, partitions: [{ type: 'linux', fs: 'ext4', size: 'rest', tree: sampleTree() }] },
      d,
    );
    return d.bytes;
  };
  return [
    ['cpio', cpio],
    ['cpio.gz', gz],
    ['ext2-1k', await ext('ext2', 1024, 2 << 20)],
    ['ext4-4k', await ext('ext4', 4096, 10 << 20)],
    ['fat12', await fat('fat12', 1 << 20)],
    ['fat16', await fat('fat16', 20 << 20)],
    ['mbr', await disk('mbr')],
    ['gpt', await disk('gpt')],
  ];
}

/** Open and read everything; returns normally or throws. */
async function exercise(bytes: Uint8Array): Promise<void> {
  const img = await openImage(new MemoryDevice(bytes));
  const views = isDisk(img) ? img.partitions.flatMap((p) => (p.fs ? [p.fs] : [])) : [img];
  for (const v of views) {
    for (const e of v.walk()) {
      if (e.node.type !== 'file') continue;
      // stream like a real consumer; a forged size may describe a huge sparse file, so stop after 16 MiB
      let seen = 0;
      for await (const chunk of e.node.content.stream()) {
        expect(chunk.length).toBeLessThanOrEqual(64 << 20);
        seen += chunk.length;
        if (seen > 16 << 20) break;
      }
      if (e.node.content.size < 1 << 20) await readContent(e.node.content);
    }
  }
}

let extractions = 0;
/** Extract what opens (every 3rd case): a failed extraction leaves nothing behind, not even its temporary directory. */
async function extractCheck(bytes: Uint8Array): Promise<void> {
  if (extractions++ % 3 !== 0) return;
  let img;
  try {
    img = await openImage(new MemoryDevice(bytes));
  } catch {
    return;
  }
  const views = isDisk(img) ? img.partitions.flatMap((p) => (p.fs ? [p.fs] : [])) : [img];
  for (const v of views) {
    const parent = mkdtempSync(join(scratch.dir, 'x-'));
    const dest = join(parent, 'out');
    try {
      await extractTree(v.tree, dest, { warn: () => {} });
    } catch (e) {
      if (!(e instanceof TinyImageError)) throw new Error(`untyped error: ${(e as Error)?.stack ?? e}`, { cause: e });
      expect(readdirSync(parent)).toEqual([]);
    }
    rmSync(parent, { recursive: true, force: true });
  }
}

async function check(bytes: Uint8Array): Promise<void> {
  const before = process.memoryUsage().arrayBuffers;
  try {
    await exercise(bytes);
    await extractCheck(bytes);
  } catch (e) {
    if (!(e instanceof TinyImageError)) throw new Error(`untyped error: ${(e as Error)?.stack ?? e}`, { cause: e });
  }
  const grown = process.memoryUsage().arrayBuffers - before;
  // a forged size must not turn into a huge allocation (the images are <= 20 MiB)
  expect(grown).toBeLessThan(256 << 20);
}

describe('fuzzing every reader through openImage', async () => {
  const imgs = await images();
  for (const [name, valid] of imgs) {
    it(`${name}: the valid image opens and reads`, async () => {
      await exercise(valid);
    });
    it(`${name}: ${CASES} mutated images fail only with typed errors`, async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.nat(valid.length - 1), fc.integer({ min: 0, max: 255 })), {
            minLength: 1,
            maxLength: 24,
          }),
          fc.boolean(),
          async (flips, truncate) => {
            const b = valid.slice(0, truncate ? Math.max(64, flips[0]![0]) : valid.length);
            // bias mutations towards metadata: most flips land in the first 64 KiB
            for (const [pos, val] of flips) {
              const p = pos % Math.min(b.length, pos % 3 === 0 ? b.length : 65536);
              b[p] = val;
            }
            await check(b);
          },
        ),
        { numRuns: CASES, seed: 42 },
      );
    }, 300_000);
  }
  it(`${RANDOM} random byte strings (with valid magics planted) fail only with typed errors`, async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.uint8Array({ minLength: 0, maxLength: 70_000 }),
        fc.integer({ min: 0, max: 5 }),
        async (b, magic) => {
          if (b.length > 1100) {
            if (magic === 1) b.set(new TextEncoder().encode('070701'), 0);
            if (magic === 2) {
              b[0] = 0x1f;
              b[1] = 0x8b;
              b[2] = 8;
            }
            if (magic === 3) {
              b[1080] = 0x53;
              b[1081] = 0xef;
            }
            if (magic === 4) {
              b[0] = 0xeb;
              b[1] = 0x3c;
              b[2] = 0x90;
              b[11] = 0;
              b[12] = 2;
              b[13] = 1;
              b[14] = 1;
              b[16] = 2;
              b[510] = 0x55;
              b[511] = 0xaa;
            }
            if (magic === 5) {
              b[510] = 0x55;
              b[511] = 0xaa;
              b[450] = 0xee;
            }
          }
          await check(b);
        },
      ),
      { numRuns: RANDOM * 8, seed: 7 },
    );
  }, 300_000);
});
