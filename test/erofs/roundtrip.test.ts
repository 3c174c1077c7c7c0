// Our reader reads our writer's images back: every field of the edge tree
// (all node types, xattrs, hard links, holes, 255-byte names, big
// directories, times outside 1970..2106 with nanoseconds), with each option
// combination, and random trees.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { treeArb } from '../helpers/arbitrary.js';
import { openErofs } from '../../src/core/fs/erofs/index.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, memImage } from './helpers.js';

describe('EROFS round trip through our reader', () => {
  it('random trees (fast-check): every field, directory xattrs and hard links included', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb({ maxEntries: 40 }), fc.boolean(), fc.nat({ max: 3 }), async (tree, inline, shared) => {
        const { dev } = await memImage(tree, { inlineData: inline, sharedXattrs: shared });
        await expectSameTree(tree, openErofs(dev).tree);
      }),
      { numRuns: 60 },
    );
  }, 120000);

  it('reports holes: a 5 GiB sparse file keeps only its data chunks', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: true });
    const { dev, summary } = await memImage(tree);
    expect(summary.chunkedFiles).toBe(2);
    const n = openErofs(dev).tree.get('/sparse')!;
    if (n.type !== 'file') throw new Error('not a file');
    const chunk = 512 * 1024;
    expect(n.content.dataRanges!()).toEqual([
      [0, chunk],
      [4.5 * 2 ** 30, 4.5 * 2 ** 30 + chunk],
      [5 * 2 ** 30, 5 * 2 ** 30 + 77],
    ]);
    expect(n.content.readAt!(4.5 * 2 ** 30 + 9998, 4)).toEqual(new Uint8Array([7, 7, 0, 0]));
    expect(dev.size).toBeLessThan(16 << 20);
  });

  const tree = edgeTree({ bigDir: 3000, sparseHuge: false });
  const configs = [{}, { inlineData: false }, { sparse: false, sharedXattrs: 1 }, { allRoot: true, xattrs: false }];
  for (const c of configs) {
    it(
      JSON.stringify(c),
      async () => {
        const { dev, summary } = await memImage(tree, c);
        const v = openErofs(dev);
        expect(v.info.inodes).toBe(summary.inodes);
        await expectSameTree(tree, v.tree, {
          ...(c.allRoot ? { owners: 'root' as const } : {}),
          ...(c.xattrs === false ? { ignoreFields: ['xattrs' as const] } : {}),
        });
      },
      60000,
    );
  }
});
