// The host's own Linux kernel as the reader: our ext2/3/4 images are attached
// to a loop device, mounted read-only by the kernel's ext4 driver, and the
// mounted directory is read back with node:fs into the tree model and compared
// with the tree we wrote: type, mode, owner, size, every byte, link targets,
// device numbers, hard-link groups and (with 256-byte inodes) nanosecond
// mtimes, including before 1970 and after 2038. Also a partition of a GPT disk,
// mounted through the loop device's partition node. Needs root and loop
// devices; skipped (and counted as skipped) where they are missing.
import { afterAll, describe, expect, it } from 'vitest';
import { join } from 'node:path';
import { FileDevice } from '../../src/node/io/file.js';
import { buildDisk, planDisk, type DiskLayout } from '../../src/core/image/disk.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { loopUnavailable, withLoop, withMount } from '../helpers/loop.js';
import { edgeTree, tmp, writeImage } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

async function kernelSees(src: FileTree, mounted: string, opts: DiffOptions): Promise<void> {
  const back = treeFromHostDir(mounted);
  // node:fs cannot read xattrs; e2fsck and debugfs check those (write.test.ts)
  const d = await diffTrees(src, back, { ...opts, ignoreFields: ['xattrs'] });
  if (d.length) console.log(formatDiff(d).slice(0, 3000));
  expect(d).toEqual([]);
}

describe.skipIf(loopUnavailable())('the host kernel mounts our ext2/3/4 images and reads back the tree', () => {
  const configs = [
    { type: 'ext4', blockSize: 4096, inodeSize: 256, features: '', huge: true },
    { type: 'ext4', blockSize: 1024, inodeSize: 256, features: '+inline_data' },
    { type: 'ext4', blockSize: 2048, inodeSize: 256, features: '^metadata_csum,^flex_bg,^64bit' },
    { type: 'ext3', blockSize: 4096, inodeSize: 256, features: '' },
    { type: 'ext2', blockSize: 1024, inodeSize: 128, features: '' },
  ] as const;
  for (const c of configs) {
    it(`${c.type} ${c.blockSize}-byte blocks, ${c.inodeSize}-byte inodes ${c.features}`, async () => {
      const tree = edgeTree({ bigDir: 3000, sparseHuge: 'huge' in c });
      const img = join(t.dir, `${c.type}-${c.blockSize}.img`);
      await writeImage(tree, img, {
        type: c.type,
        blockSize: c.blockSize,
        inodeSize: c.inodeSize,
        features: c.features,
        epoch: 1700000000,
      });
      await withLoop(img, ({ disk }) =>
        withMount(disk, c.type, (dir) =>
          // 128-byte inodes hold whole seconds from 1901 to 2038 only
          kernelSees(tree, dir, { mtime: c.inodeSize === 256 }),
        ),
      );
    }, 300000);
  }

  it('ext4 in the second partition of a GPT disk, through the partition device', async () => {
    const tree = edgeTree({ bigDir: 500, sparseHuge: false });
    const layout: DiskLayout = {
      table: 'gpt',
      seed: 'host-mount',
      partitions: [
        { fs: 'fat32', size: 40 * 2 ** 20, type: 'esp' },
        { fs: 'ext4', size: 'fit', type: 'root-x86-64', tree },
      ],
    };
    const img = join(t.dir, 'disk.img');
    const dev = FileDevice.create(img, planDisk(layout).size);
    try {
      await buildDisk(layout, dev);
    } finally {
      dev.close();
    }
    await withLoop(
      img,
      ({ partitions }) => withMount(partitions.get(2)!, 'ext4', (dir) => kernelSees(tree, dir, { mtime: true })),
      { partitions: true },
    );
  }, 300000);
});
