/**
 * Shared by the EROFS and squashfs kernel tests: the host kernel, through a
 * loop device and a read-only mount, as the independent reader of an image.
 */
import fc from 'fast-check';
import { expect } from 'vitest';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { FileDevice } from '../../src/node/io/file.js';
import { edgeTree } from '../ext4/helpers.js';
import { generatedContent, hostTree } from '../squashfs/helpers.js';
import { treeArb } from './arbitrary.js';
import { withLoop, withMount } from './loop.js';

/** Run `fn` on the tree the kernel shows for `img` mounted as `type` (contents are read while it is mounted). */
export function withKernelTree(img: string, type: string, fn: (tree: FileTree) => Promise<void>): Promise<void> {
  return withLoop(img, ({ disk }) => withMount(disk, type, (dir) => fn(hostTree(dir))));
}

/**
 * The trees of "the host kernel mounts our images": a small edge tree (with a
 * sparse huge file when `sparseHuge`), and a big one with a 100 MB file, to be
 * written only once: writing and comparing it is most of such a file's time.
 */
export function mountTrees(sparseHuge: boolean): { small: FileTree; big: FileTree } {
  const small = edgeTree({ bigDir: 3000, sparseHuge });
  small.addFile('/big/empty1', '');
  small.addFile('/big/empty2', '', { mode: 0o600, uid: 7 });
  const big = edgeTree({ bigDir: 3000, sparseHuge: false });
  big.addFile('/big/100MB', generatedContent(100 * 2 ** 20));
  big.addFile('/big/empty1', '');
  return { small, big };
}

/**
 * Eight random trees for the kernel to read back. user.* is left out (the VFS
 * does not read it on symlinks, devices, FIFOs and sockets), and so is
 * security.capability (the VFS reads only well-formed capability sets).
 */
export function randomMountTrees(): FileTree[] {
  return fc.sample(treeArb({ maxEntries: 40, xattrNames: ['security.selinux', 'trusted.x', 'trusted.yy'] }), {
    numRuns: 8,
    seed: 17,
  });
}

/** Assert our reader (`open`) sees the image `img` exactly as the kernel does when it mounts it as `type`. */
export async function expectReadAsKernel(
  img: string,
  type: string,
  open: (dev: FileDevice) => FileTree,
): Promise<void> {
  const dev = FileDevice.open(img);
  try {
    const ours = open(dev);
    await withKernelTree(img, type, async (kernel) => {
      const d = await diffTrees(kernel, ours, { mtime: true });
      if (d.length) console.log(formatDiff(d).slice(0, 3000));
      expect(d).toEqual([]);
    });
  } finally {
    dev.close();
  }
}
