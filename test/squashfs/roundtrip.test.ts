// Our reader reads our writer's images back: every field of the edge tree
// (all node types, xattrs, hard links, holes, 255-byte names, big
// directories, times outside 1970..2106), with each option combination.
import { describe, expect, it } from 'vitest';
import { openSquashfs } from '../../src/fs/squashfs/index.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, memImage } from './helpers.js';

describe('squashfs round trip through our reader', () => {
  const tree = edgeTree({ bigDir: 3000, sparseHuge: false });
  const configs = [
    {},
    { blockSize: 4096 },
    { blockSize: 1 << 20, tailPacking: true },
    { fragments: false, dedupe: false, sparse: false, exportTable: false },
    { allRoot: true },
  ];
  for (const c of configs) {
    it(JSON.stringify(c), async () => {
      const { dev, summary } = await memImage(tree, c);
      const v = openSquashfs(dev);
      expect(v.info.inodes).toBe(summary.inodes);
      await expectSameTree(tree, v.tree, c.allRoot ? { owners: 'root' } : {});
    }, 60000);
  }
});
