// The host kernel as the independent reader. (1) Our images, mounted
// read-only on a loop device: every path, type, mode, owner, mtime (with
// nanoseconds), size, content, link target, device number, hard-link group
// and xattr (python3's os.getxattr) matches the source tree. (2) mkfs.erofs
// images of the same tree read by our reader exactly as the kernel reads
// them. Needs root and loop devices; skipped (and counted) where missing.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileDevice } from '../../src/node/io/file.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { extractTree } from '../../src/node/host/extract.js';
import { openErofs, prepareErofs, type ErofsOptions } from '../../src/core/fs/erofs/index.js';
import { loopUnavailable } from '../helpers/loop.js';
import { expectReadAsKernel, mountTrees, randomMountTrees, withKernelTree } from '../helpers/kernel-reader.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, mknod, setHostXattrs, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

async function writeFile(tree: FileTree, path: string, opts: ErofsOptions = {}): Promise<void> {
  const p = prepareErofs(tree, opts);
  const dev = FileDevice.create(path, p.size);
  try {
    await p.write(dev);
  } finally {
    dev.close();
  }
}

describe.skipIf(loopUnavailable() ?? missing({ tools: ['python3', 'mknod'] }))(
  'the host kernel mounts our EROFS images',
  () => {
    const { small, big } = mountTrees(true);
    const configs: ErofsOptions[] = [
      {},
      { inlineData: false, sparse: false },
      { sharedXattrs: 1, label: 'root', buildTime: 1700000001 },
      { allRoot: true, sharedXattrs: 0 },
    ];
    for (const c of configs) {
      const tree = c === configs[0] ? big : small;
      it(`${JSON.stringify(c)}${tree === big ? ' with a 100 MB file' : ''}`, async () => {
        const img = join(t.dir, `ours-${configs.indexOf(c)}.erofs`);
        await writeFile(tree, img, c);
        await withKernelTree(img, 'erofs', (back) => expectSameTree(tree, back, c.allRoot ? { owners: 'root' } : {}));
      }, 300000);
    }
  },
);

describe.skipIf(loopUnavailable() ?? missing({ tools: ['python3'] }))(
  'the host kernel mounts our images of random trees',
  () => {
    const trees = randomMountTrees();
    trees.forEach((tree, i) => {
      it(`random tree ${i}`, async () => {
        const img = join(t.dir, `random-${i}.erofs`);
        await writeFile(tree, img, { inlineData: i % 2 === 0, sharedXattrs: i % 3 });
        await withKernelTree(img, 'erofs', (back) => expectSameTree(tree, back));
      }, 60000);
    });
  },
);

describe.skipIf(loopUnavailable() ?? missing({ tools: ['mkfs.erofs', 'python3', 'mknod'] }))(
  'our reader reads mkfs.erofs images as the kernel does',
  () => {
    const tree = edgeTree({ bigDir: 1500, sparseHuge: false });
    // mkfs.erofs 1.5 fails on a 255-byte name ("Could not format the device"): 250 bytes then
    tree.remove('/' + 'L'.repeat(255));
    tree.addFile('/' + 'L'.repeat(250), 'long name');
    const src = join(t.dir, 'src');
    const ready = (async () => {
      await extractTree(tree, src, { mknod });
      setHostXattrs(src, tree);
    })();
    const variants: Array<[string, string[]]> = [
      ['defaults', []],
      ['fixed time, all root', ['-T', '1700000000', '--all-root']],
      ['no inline data', ['-E', 'noinline_data']],
      ['chunk-based files (64 KiB chunks)', ['--chunksize=65536']],
      ['no xattrs', ['-x', '-1']],
    ];
    for (const [name, args] of variants) {
      it(
        name,
        async () => {
          await ready;
          const img = join(t.dir, `mk-${variants.findIndex((v) => v[0] === name)}.erofs`);
          const r = run('mkfs.erofs', ['--quiet', ...args, img, src]);
          expect(r.code, r.stderr).toBe(0);
          await expectReadAsKernel(img, 'erofs', (dev) => openErofs(dev).tree);
        },
        300000,
      );
    }
  },
);
