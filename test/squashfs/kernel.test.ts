// The host kernel as the independent reader. (1) Our images, written through
// the Node API (node:zlib on the thread pool, atomic host file), mounted
// read-only on a loop device: every path, type, mode, owner, mtime (whole
// seconds, clamped to 1970..2106), size, content, link target, device number,
// hard-link group and xattr (python3's os.getxattr) matches the source tree.
// (2) mksquashfs images (gzip and zstd) of the same tree read by our reader
// exactly as the kernel reads them. Needs root and loop devices; skipped (and counted) where
// they are missing.
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { treeArb } from '../helpers/arbitrary.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { extractTree } from '../../src/node/host/extract.js';
import { openSquashfs, type SquashfsOptions } from '../../src/core/fs/squashfs/index.js';
import { writeSquashfsFile } from '../../src/node/squashfs/write.js';
import { loopUnavailable, withLoop, withMount } from '../helpers/loop.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, generatedContent, hostTree, mknod, setHostXattrs, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

/** Run `fn` on the tree the kernel shows for `img` (contents are read while it is mounted). */
function withKernelTree(img: string, fn: (tree: FileTree) => Promise<void>): Promise<void> {
  return withLoop(img, ({ disk }) => withMount(disk, 'squashfs', (dir) => fn(hostTree(dir))));
}

describe.skipIf(loopUnavailable() ?? missing({ tools: ['python3', 'mknod'] }))(
  'the host kernel mounts our squashfs images',
  () => {
    const small = edgeTree({ bigDir: 3000, sparseHuge: false });
    small.addFile('/big/empty1', '');
    small.addFile('/big/empty2', '', { mode: 0o600, uid: 7 });
    // the 100 MB file only once: writing and comparing it is most of this file's time
    const big = edgeTree({ bigDir: 3000, sparseHuge: false });
    big.addFile('/big/100MB', generatedContent(100 * 2 ** 20));
    big.addFile('/big/empty1', '');
    const configs: SquashfsOptions[] = [
      {},
      { blockSize: 4096, tailPacking: true },
      { blockSize: 1 << 20, fragments: false, exportTable: false },
      { allRoot: true, dedupe: false, sparse: false },
    ];
    for (const c of configs) {
      const tree = c === configs[0] ? big : small;
      it(`${JSON.stringify(c)}${tree === big ? ' with a 100 MB file' : ''}`, async () => {
        const img = join(t.dir, `ours-${c.blockSize ?? 0}.sqfs`);
        await writeSquashfsFile(tree, img, { mkfsTime: 1700000000, ...c });
        await withKernelTree(img, (back) => expectSameTree(tree, back, c.allRoot ? { owners: 'root' } : {}));
      }, 300000);
    }
  },
);

describe.skipIf(loopUnavailable() ?? missing({ tools: ['python3'] }))(
  'the host kernel mounts our images of random trees',
  () => {
    // user.* is left out (the VFS does not read it on symlinks, devices, FIFOs and sockets), and so is
    // security.capability (the VFS reads only well-formed capability sets; the edge tree has one)
    const trees = fc.sample(treeArb({ maxEntries: 40, xattrNames: ['security.selinux', 'trusted.x', 'trusted.yy'] }), {
      numRuns: 8,
      seed: 17,
    });
    trees.forEach((tree, i) => {
      it(`random tree ${i}`, async () => {
        const img = join(t.dir, `random-${i}.sqfs`);
        await writeSquashfsFile(tree, img, {
          mkfsTime: 1700000000,
          blockSize: i % 2 ? 4096 : 131072,
          tailPacking: i % 3 === 0,
        });
        await withKernelTree(img, (back) => expectSameTree(tree, back));
      }, 60000);
    });
  },
);

describe.skipIf(loopUnavailable() ?? missing({ tools: ['mksquashfs', 'python3', 'mknod'] }))(
  'our reader reads mksquashfs images as the kernel does',
  () => {
    const tree = edgeTree({ bigDir: 1500, sparseHuge: false });
    const src = join(t.dir, 'src');
    const ready = (async () => {
      await extractTree(tree, src, { mknod });
      setHostXattrs(src, tree);
    })();
    const variants: Array<[string, string[]]> = [
      ['gzip', ['-comp', 'gzip']],
      ['gzip, 4 KiB blocks, tail packing', ['-comp', 'gzip', '-b', '4096', '-always-use-fragments']],
      [
        'gzip, no fragments, no duplicate check, no exports',
        ['-comp', 'gzip', '-no-fragments', '-no-duplicates', '-no-exports'],
      ],
      ['zstd', ['-comp', 'zstd']],
      ['zstd, 1 MiB blocks', ['-comp', 'zstd', '-b', '1M', '-Xcompression-level', '19']],
    ];
    for (const [name, args] of variants) {
      it(
        name,
        async () => {
          await ready;
          const img = join(t.dir, `mk-${args.join('')}.sqfs`);
          const r = run('mksquashfs', [src, img, '-noappend', '-no-progress', ...args]);
          expect(r.code, r.stderr).toBe(0);
          const dev = FileDevice.open(img);
          try {
            const ours = openSquashfs(dev).tree;
            await withKernelTree(img, async (kernel) => {
              const d = await diffTrees(kernel, ours, { mtime: true });
              if (d.length) console.log(formatDiff(d).slice(0, 3000));
              expect(d).toEqual([]);
            });
          } finally {
            dev.close();
          }
        },
        300000,
      );
    }
  },
);
