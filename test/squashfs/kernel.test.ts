// The host kernel as the independent reader. (1) Our images, written through
// the Node API (node:zlib on the thread pool, atomic host file), mounted
// read-only on a loop device: every path, type, mode, owner, mtime (whole
// seconds, clamped to 1970..2106), size, content, link target, device number,
// hard-link group and xattr (python3's os.getxattr) matches the source tree;
// gzip and zstd.
// (2) mksquashfs images (gzip and zstd) of the same tree read by our reader
// exactly as the kernel reads them. Needs root and loop devices; skipped (and counted) where
// they are missing.
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { extractTree } from '../../src/node/host/extract.js';
import { openSquashfs, type SquashfsOptions } from '../../src/core/fs/squashfs/index.js';
import { writeSquashfsFile } from '../../src/node/squashfs/write.js';
import { loopUnavailable } from '../helpers/loop.js';
import { expectReadAsKernel, mountTrees, randomMountTrees, withKernelTree } from '../helpers/kernel-reader.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectSameTree, mknod, setHostXattrs, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

describe.skipIf(loopUnavailable() ?? missing({ tools: ['python3', 'mknod'] }))(
  'the host kernel mounts our squashfs images',
  () => {
    const { small, big } = mountTrees(false);
    const configs: SquashfsOptions[] = [
      {},
      { blockSize: 4096, tailPacking: true },
      { blockSize: 1 << 20, fragments: false, exportTable: false },
      { allRoot: true, dedupe: false, sparse: false },
      { compression: 'zstd', level: 3, blockSize: 65536, tailPacking: true },
    ];
    for (const c of configs) {
      const tree = c === configs[0] ? big : small;
      it(`${JSON.stringify(c)}${tree === big ? ' with a 100 MB file' : ''}`, async () => {
        const img = join(t.dir, `ours-${c.blockSize ?? 0}-${c.compression ?? 'gzip'}.sqfs`);
        await writeSquashfsFile(tree, img, { mkfsTime: 1700000000, ...c });
        await withKernelTree(img, 'squashfs', (back) =>
          expectSameTree(tree, back, c.allRoot ? { owners: 'root' } : {}),
        );
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
        const img = join(t.dir, `random-${i}.sqfs`);
        await writeSquashfsFile(tree, img, {
          mkfsTime: 1700000000,
          blockSize: i % 2 ? 4096 : 131072,
          tailPacking: i % 3 === 0,
        });
        await withKernelTree(img, 'squashfs', (back) => expectSameTree(tree, back));
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
          await expectReadAsKernel(img, 'squashfs', (dev) => openSquashfs(dev).tree);
        },
        300000,
      );
    }
  },
);
