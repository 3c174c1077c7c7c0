// Our reader reads our writer's images back: every field of the edge tree
// (all node types, xattrs, hard links, holes, 255-byte names, big
// directories, times outside 1970..2106), with each option combination.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { treeArb } from '../helpers/arbitrary.js';
import { openSquashfs } from '../../src/core/fs/squashfs/index.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, memImage } from './helpers.js';

describe('squashfs round trip through our reader', () => {
  it('random trees (fast-check): every field, directory xattrs and hard links included', async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb({ maxEntries: 40 }),
        fc.constantFrom(4096, 131072),
        fc.boolean(),
        async (tree, blockSize, tailPacking) => {
          const { dev } = await memImage(tree, { blockSize, tailPacking });
          await expectSameTree(tree, openSquashfs(dev).tree);
        },
      ),
      { numRuns: 40 },
    );
  }, 120000);

  it('reports holes: a 5 GiB sparse file keeps only its data ranges', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: true });
    const { dev } = await memImage(tree);
    const n = openSquashfs(dev).tree.get('/sparse')!;
    if (n.type !== 'file') throw new Error('not a file');
    const bs = 131072;
    expect(n.content.dataRanges!()).toEqual([
      [0, bs],
      [4.5 * 2 ** 30, 4.5 * 2 ** 30 + bs],
      [5 * 2 ** 30, 5 * 2 ** 30 + 77],
    ]);
    expect(n.content.readAt!(4.5 * 2 ** 30 + 9998, 4)).toEqual(new Uint8Array([7, 7, 0, 0]));
  });

  const tree = edgeTree({ bigDir: 3000, sparseHuge: false });
  const configs = [
    {},
    { blockSize: 4096 },
    { blockSize: 1 << 20, tailPacking: true },
    { fragments: false, dedupe: false, sparse: false, exportTable: false },
    { allRoot: true },
  ];
  for (const c of configs) {
    it(
      JSON.stringify(c),
      async () => {
        const { dev, summary } = await memImage(tree, c);
        const v = openSquashfs(dev);
        expect(v.info.inodes).toBe(summary.inodes);
        await expectSameTree(tree, v.tree, c.allRoot ? { owners: 'root' } : {});
      },
      60000,
    );
  }
});
