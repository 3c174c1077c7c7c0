// zstd writing (mksquashfs -comp zstd): the WebAssembly encoder's frames, one
// per block, each declaring its size. Our reader reads them back field for
// field; unsquashfs (unsquashfs.test.ts) and the host kernel
// (kernel.test.ts) check them independently. A compression the writer
// cannot write is a usage error naming the ones it can.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { openSquashfs, zstdCompressor } from '../../src/core/fs/squashfs/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { treeArb } from '../helpers/arbitrary.js';
import { edgeTree } from '../ext4/helpers.js';
import { runCli } from '../helpers/cli.js';
import { FileDevice } from '../../src/node/io/file.js';
import { equalBytes, expectSameTree, generatedContent, memImage, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

const zstd = { compression: 'zstd', compressor: undefined } as const;

describe('squashfs zstd writing', () => {
  it('random trees read back field for field, with 4 KiB and 128 KiB blocks', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb({ maxEntries: 30 }), fc.constantFrom(4096, 131072), async (tree, blockSize) => {
        const { dev, summary } = await memImage(tree, { ...zstd, level: 1, blockSize });
        expect(summary.compression).toBe('zstd');
        const { tree: back, info } = openSquashfs(dev);
        expect(info.compression).toBe('zstd');
        await expectSameTree(tree, back);
      }),
      { numRuns: 15 },
    );
  }, 120000);

  it('compresses (data, fragments, metadata), deterministically, and the level matters', async () => {
    const tree = edgeTree({ bigDir: 300, sparseHuge: false });
    tree.addFile('/gen', generatedContent(1 << 20));
    const a = await memImage(tree, { ...zstd, tailPacking: true, level: 3 });
    expect(equalBytes((await memImage(tree, { ...zstd, tailPacking: true, level: 3 })).bytes, a.bytes)).toBe(true);
    await expectSameTree(tree, openSquashfs(a.dev).tree);
    const fast = await memImage(tree, { ...zstd, tailPacking: true, level: 1 });
    expect(equalBytes(fast.bytes, a.bytes)).toBe(false);
    const gz = await memImage(tree, { tailPacking: true });
    expect(a.summary.bytesUsed).toBeLessThan(gz.summary.bytesUsed);
    // a given compressor names its compression
    const c = await zstdCompressor(2);
    expect((await memImage(tree, { compressor: c })).summary.compression).toBe('zstd');
  }, 120000);

  it('refuses compressions it cannot write, naming the ones it can, and bad levels', async () => {
    const tree = new FileTree();
    tree.addFile('/a', 'a');
    for (const name of ['xz', 'lz4', 'lzo', 'lzma'] as const) {
      const e = await memImage(tree, { compression: name, compressor: undefined }).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(UsageError);
      expect(e).toMatchObject({ code: 'E_USAGE_SQUASHFS_COMPRESSION', data: { actual: name } });
      expect((e as Error).message).toMatch(/available: gzip, zstd/);
    }
    // the gzip compressor given does not write zstd
    await expect(memImage(tree, { compression: 'zstd' })).rejects.toMatchObject({
      code: 'E_USAGE_SQUASHFS_COMPRESSION',
    });
    await expect(memImage(tree, { ...zstd, level: 23 })).rejects.toMatchObject({ code: 'E_USAGE_SQUASHFS_LEVEL' });
    await expect(zstdCompressor(0)).rejects.toThrow(UsageError);
  });

  it('tinyimage mkfs squashfs --compress zstd --level N; --compress xz is refused naming gzip and zstd', async () => {
    const src = join(t.dir, 'cli-src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'd', 'f'), 'zstd '.repeat(1000));
    const img = join(t.dir, 'cli.sqfs');
    const r = await runCli(['mkfs', 'squashfs', '--root', src, '--compress', 'zstd', '--level', '19', '-o', img]);
    expect(r.code, r.stderr).toBe(0);
    const dev = FileDevice.open(img);
    try {
      const { tree, info } = openSquashfs(dev);
      expect(info.compression).toBe('zstd');
      expect(tree.get('/d/f')?.type).toBe('file');
    } finally {
      dev.close();
    }
    const bad = await runCli(['mkfs', 'squashfs', '--root', src, '--compress', 'xz', '-o', join(t.dir, 'x.sqfs')]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/gzip/);
    expect(bad.stderr).toMatch(/zstd/);
    const level = await runCli(['mkfs', 'squashfs', '--root', src, '--level', '12', '-o', join(t.dir, 'y.sqfs')]);
    expect(level.code).toBe(2);
    expect(level.stderr).toMatch(/gzip level 12/);
  });
});
