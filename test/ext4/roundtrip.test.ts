// Writer -> our reader (openExt4) -> the same tree. The independent checks
// (e2fsck, debugfs) live in write.test.ts; this one ties writer and reader.
import { describe, expect, it } from 'vitest';
import { MemoryDevice } from '../../src/core/io/device.js';
import { openExt4, prepareExt4 } from '../../src/core/fs/ext4/index.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { edgeTree } from './helpers.js';

describe('ext writer -> reader round trip', () => {
  for (const [type, blockSize, features] of [
    ['ext4', 4096, ''],
    ['ext4', 1024, '+inline_data'],
    ['ext3', 4096, ''],
    ['ext2', 1024, ''],
  ] as const) {
    it(`${type} ${blockSize} ${features}: openExt4 gives back the tree`, async () => {
      const tree = edgeTree({ bigDir: 300, sparseHuge: false });
      const p = prepareExt4(tree, { type, blockSize, features, epoch: 1700000000 });
      const dev = new MemoryDevice(p.minimumSize);
      await p.write(dev);
      const vol = openExt4(dev);
      expect(vol.info.type).toBe(type);
      const d = await diffTrees(tree, vol.tree, { mtime: true });
      // the writer adds lost+found
      const rest = d.filter((e) => e.path !== '/lost+found');
      if (rest.length) console.log(formatDiff(rest).slice(0, 3000));
      expect(rest).toEqual([]);
    }, 120000);
  }
});
