// The writer's own promises: identical bytes for the same input whatever the
// thread count, option validation, duplicates, holes, stream-only contents,
// clamped times, xattr namespaces squashfs lacks, and the id table limit.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CapacityError, HostIOError, UsageError } from '../../src/core/errors.js';
import { openSquashfs } from '../../src/core/fs/squashfs/index.js';
import { writeSquashfsFile } from '../../src/node/squashfs/write.js';
import { nodeGzipCompressor } from '../../src/node/squashfs/compress.js';
import { bytesContent, readContent, sparseContent, streamContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectStreamContents } from '../helpers/stream-content.js';
import { equalBytes, generatedContent, memImage, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

describe('squashfs writer', () => {
  it('is deterministic: same tree and options, same bytes, for 1, 2 or 4 threads', async () => {
    const tree = edgeTree({ bigDir: 500, sparseHuge: false });
    tree.addFile('/gen', generatedContent(3 << 20));
    const a = (await memImage(tree)).bytes;
    expect(equalBytes((await memImage(tree)).bytes, a)).toBe(true);
    // the pure default compressor (fflate) is deterministic too, and readable
    const small = edgeTree({ bigDir: 50, sparseHuge: false });
    const f1 = await memImage(small, { compressor: undefined });
    expect(equalBytes((await memImage(small, { compressor: undefined })).bytes, f1.bytes)).toBe(true);
    expect(openSquashfs(f1.dev).info.inodes).toBe(f1.summary.inodes);
    const files = [];
    for (const threads of [1, 2, 4]) {
      const p = join(t.dir, `det-${threads}.sqfs`);
      await writeSquashfsFile(tree, p, { mkfsTime: 1, compressor: nodeGzipCompressor({ threads }) });
      files.push(readFileSync(p));
    }
    expect(equalBytes(files[1]!, files[0]!)).toBe(true);
    expect(equalBytes(files[2]!, files[0]!)).toBe(true);
  }, 60000);

  it('rejects bad options with usage errors', async () => {
    const tree = new FileTree();
    await expect(memImage(tree, { blockSize: 3000 })).rejects.toThrow(UsageError);
    await expect(memImage(tree, { blockSize: 2048 })).rejects.toThrow(/4096 to 1048576/);
    await expect(memImage(tree, { compression: 'xz' })).rejects.toThrow(UsageError);
    await expect(memImage(tree, { level: 10, compressor: undefined })).rejects.toThrow(UsageError);
  });

  it('stores identical files once and all-zero blocks as holes', async () => {
    const tree = new FileTree({ defaultTime: 1 });
    const data = generatedContent(700 * 1024, 5);
    tree.addFile('/a', data);
    tree.addFile('/b', generatedContent(700 * 1024, 5));
    tree.addFile('/c', generatedContent(700 * 1024, 6));
    tree.addFile('/small1', 'same small file');
    tree.addFile('/small2', 'same small file');
    tree.addFile('/zeros', sparseContent(64 << 20, [{ offset: 5 << 20, data: new Uint8Array([1]) }]));
    tree.addFile('/zeros-dense', new Uint8Array(4 << 20));
    const { dev, summary } = await memImage(tree);
    expect(summary.duplicates).toBe(2);
    expect(dev.size).toBeLessThan(3 * 700 * 1024);
    const v = openSquashfs(dev);
    for (const p of ['/a', '/b', '/c', '/small1', '/small2', '/zeros-dense']) {
      const n = v.tree.get(p)!;
      const src = tree.get(p)!;
      if (n.type !== 'file' || src.type !== 'file') throw new Error('not a file');
      expect(equalBytes(await readContent(n.content), await readContent(src.content)), p).toBe(true);
    }
    const z = v.tree.get('/zeros')!;
    if (z.type !== 'file') throw new Error('not a file');
    expect(z.content.readAt!(5 << 20, 2)).toEqual(new Uint8Array([1, 0]));
  }, 60000);

  it('reads stream-only contents and rejects a content that lies about its size, naming the path', async () => {
    await expectStreamContents(memImage, (img) => openSquashfs(img.dev).tree);
  });

  it('clamps times to 1970..2106, leaves out xattrs of other namespaces, and says so', async () => {
    const tree = new FileTree();
    tree.addFile('/old', 'x', { mtime: -5 });
    tree.addFile('/future', 'x', { mtime: 2 ** 33 });
    tree.addFile('/acl', 'x', { xattrs: { 'system.posix_acl_access': 'zz', 'user.ok': 'yes' } });
    const warnings: string[] = [];
    const { dev, summary } = await memImage(tree, { warn: (m) => warnings.push(m), mkfsTime: undefined });
    expect(summary.clampedTimes).toBe(2);
    expect(summary.skippedXattrs).toEqual(['/acl: system.posix_acl_access']);
    expect(warnings.join('\n')).toMatch(/clamped/);
    const v = openSquashfs(dev).tree;
    expect(v.get('/old')!.mtime.sec).toBe(0);
    expect(v.get('/future')!.mtime.sec).toBe(0xffffffff);
    expect([...v.get('/acl')!.xattrs.keys()]).toEqual(['user.ok']);
    expect(summary.mkfsTime).toBe(0xffffffff);
  });

  it('shares out-of-line xattr values and whole xattr sets', async () => {
    const tree = new FileTree();
    const label = 'system_u:object_r:' + 'x'.repeat(100);
    for (let i = 0; i < 50; i++)
      tree.addFile(`/f${i}`, 'x', { xattrs: { 'security.selinux': label, 'user.i': String(i % 5) } });
    const { dev, summary } = await memImage(tree);
    expect(summary.xattrIds).toBe(5);
    const v = openSquashfs(dev).tree;
    expect(new TextDecoder().decode(v.get('/f7')!.xattrs.get('security.selinux'))).toBe(label);
    expect(new TextDecoder().decode(v.get('/f7')!.xattrs.get('user.i'))).toBe('2');
  });

  it('fails with a capacity error past 65536 distinct uid/gid values', async () => {
    const tree = new FileTree();
    for (let i = 0; i < 32769; i++) tree.addFile(`/f${i}`, bytesContent(''), { uid: i, gid: 100000 + i });
    await expect(memImage(tree)).rejects.toThrow(CapacityError);
  }, 60000);

  it('an error while emitting inodes ends the write (no hang), as does one while reading data', async () => {
    const tree = new FileTree();
    for (let i = 0; i < 60; i++) tree.addFile(`/d/f${i}`, generatedContent(150000, i));
    tree.addSymlink('/d/long', 'x'.repeat(5000));
    await expect(memImage(tree)).rejects.toThrow(CapacityError);
    tree.remove('/d/long');
    tree.addFile(
      '/d/z-short',
      streamContent(300000, async function* () {
        yield new Uint8Array(10);
      }),
    );
    await expect(memImage(tree)).rejects.toThrow(HostIOError);
  }, 60000);

  it('writes onto a block device window', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: false });
    const { bytes } = await memImage(tree);
    const dev = new MemoryDevice(bytes.length + 4096);
    const { DeviceOutput, writeSquashfs } = await import('../../src/core/fs/squashfs/index.js');
    await writeSquashfs(tree, new DeviceOutput(dev), { mkfsTime: 1700000000, compressor: nodeGzipCompressor() });
    expect(equalBytes(dev.bytes.subarray(0, bytes.length), bytes)).toBe(true);
    await expect(writeSquashfs(tree, new DeviceOutput(new MemoryDevice(4096)))).rejects.toThrow(CapacityError);
  });
});
