/**
 * Property: random byte flips and zeroed blocks in a valid image never make
 * the reader throw anything but a TinyImageError, and never hang. Flips are
 * aimed at metadata (superblock, descriptors, bitmaps, inode tables,
 * directory, extent and xattr blocks) half of the time, and checksums are
 * switched off half of the time so flips reach the structural checks.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isTinyImageError } from '../../src/core/errors.js';
import { Ext4Reader, openExt4 } from '../../src/core/fs/ext4/read.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { fixtureBytes } from './read-helpers.js';

/** Blocks holding metadata in a pristine image. */
function metadataBlocks(bytes: Uint8Array): number[] {
  const r = new Ext4Reader(new MemoryDevice(bytes));
  const out = new Set<number>([0, 1, 2, 3]);
  for (let g = 0; g < r.groupCount; g++) {
    const gd = r.group(g);
    out.add(gd.blockBitmap);
    out.add(gd.inodeBitmap);
    const itBlocks = Math.ceil((r.inodesPerGroup * r.inodeSize) / r.blockSize);
    for (let i = 0; i < Math.min(itBlocks, 64); i++) out.add(gd.inodeTable + i);
  }
  const { tree, reader } = openExt4(new MemoryDevice(bytes));
  for (const e of tree.walk()) {
    const ino = reader.lookup(e.path);
    if (!ino) continue;
    if (ino.fileAcl) out.add(ino.fileAcl);
    if (e.node.type === 'dir' || e.path === '/fragmented')
      for (const run of reader.runs(ino)) for (let k = 0; k < Math.min(run.length, 8); k++) out.add(run.physical + k);
    if (e.path === '/fragmented' || e.path === '/sparse') {
      // extent index / indirect blocks referenced from i_block
      const v = new DataView(ino.iBlock.buffer, ino.iBlock.byteOffset);
      if (ino.flags & 0x80000) out.add(v.getUint32(12 + 4, true));
      else for (const i of [12, 13, 14]) if (v.getUint32(i * 4, true)) out.add(v.getUint32(i * 4, true));
    }
  }
  return [...out].filter((b) => b < r.blocksCount);
}

async function exercise(bytes: Uint8Array, verify: boolean): Promise<void> {
  try {
    const { tree, info } = openExt4(new MemoryDevice(bytes), { verify });
    expect(info.blockSize).toBeGreaterThan(0);
    for (const e of tree.walk()) {
      if (e.node.type !== 'file') continue;
      const c = e.node.content;
      c.dataRanges?.();
      c.readAt?.(0, 1 << 16);
      if (c.size > 0) c.readAt?.(Math.max(0, c.size - 100), 100);
      let n = 0;
      for await (const chunk of c.stream()) {
        n += chunk.length;
        if (n > 1 << 20) break;
      }
    }
  } catch (e) {
    if (!isTinyImageError(e)) throw e;
  }
}

for (const name of ['ext4-1k', 'ext4-inline', 'ext2-1k', 'ext4-bigalloc']) {
  describe(`${name}: random corruption`, () => {
    const pristine = fixtureBytes(name);
    const meta = metadataBlocks(pristine);
    const bs = new Ext4Reader(new MemoryDevice(pristine)).blockSize;

    it('byte flips never escape as untyped errors or hang', async () => {
      await fc.assert(
        fc.asyncProperty(
          fc.array(fc.record({ where: fc.nat(), meta: fc.boolean(), xor: fc.integer({ min: 1, max: 255 }) }), {
            minLength: 1,
            maxLength: 12,
          }),
          fc.boolean(),
          async (flips, verify) => {
            const bytes = pristine.slice();
            for (const f of flips) {
              const pos = f.meta
                ? meta[f.where % meta.length]! * bs + (Math.floor(f.where / meta.length) % bs)
                : f.where % bytes.length;
              bytes[pos]! ^= f.xor;
            }
            const t0 = performance.now();
            await exercise(bytes, verify);
            expect(performance.now() - t0).toBeLessThan(5000);
          },
        ),
        { numRuns: Number(process.env.EXT4_FUZZ_RUNS ?? 40) },
      );
    });

    it('zeroed or duplicated metadata blocks never escape as untyped errors', async () => {
      await fc.assert(
        fc.asyncProperty(fc.nat(), fc.nat(), fc.boolean(), async (a, b, zero) => {
          const bytes = pristine.slice();
          const dst = meta[a % meta.length]!;
          const src = meta[b % meta.length]!;
          if (zero) bytes.fill(0, dst * bs, (dst + 1) * bs);
          else bytes.copyWithin(dst * bs, src * bs, (src + 1) * bs);
          await exercise(bytes, false);
        }),
        { numRuns: Number(process.env.EXT4_FUZZ_RUNS ?? 40) },
      );
    });
  });
}
