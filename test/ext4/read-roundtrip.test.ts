/**
 * Round trip: our writer -> our reader gives back the source tree (every
 * type, times with nanoseconds and epoch bits, xattrs, hard links, sparse
 * data), for ext4/ext3/ext2 at 1 KiB and 4 KiB blocks, and for random trees.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { writeExt4, ext4MinimumSize, type Ext4Options } from '../../src/core/fs/ext4/index.js';
import { openExt4 } from '../../src/core/fs/ext4/read.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { edgeTree } from './helpers.js';
import { expectSameTree } from './read-helpers.js';

async function roundTrip(tree: FileTree, opts: Ext4Options): Promise<FileTree> {
  const size = ext4MinimumSize(tree, opts);
  const dev = new MemoryDevice(size);
  await writeExt4(tree, dev, { ...opts, size });
  const v = openExt4(dev);
  expect(v.info.type).toBe(opts.type ?? 'ext4');
  return v.tree;
}

describe('writeExt4 -> openExt4', () => {
  const configs: Array<[string, Ext4Options]> = [
    ['ext4 4k', { type: 'ext4', blockSize: 4096 }],
    ['ext4 1k', { type: 'ext4', blockSize: 1024 }],
    ['ext3 1k', { type: 'ext3', blockSize: 1024 }],
    ['ext2 4k', { type: 'ext2', blockSize: 4096 }],
    ['ext4 no csum, uninit_bg', { type: 'ext4', blockSize: 4096, features: '^metadata_csum,uninit_bg' }],
  ];
  it.each(configs)(
    '%s: edge tree',
    async (_n, opts) => {
      const src = edgeTree({ bigDir: 1500, sparseHuge: opts.type !== 'ext2' || opts.blockSize === 4096 });
      await expectSameTree(await roundTrip(src, opts), src);
    },
    300_000,
  );

  it('128-byte inodes keep 32-bit seconds', async () => {
    const src = edgeTree({ bigDir: 50, sparseHuge: false });
    await expectSameTree(await roundTrip(src, { type: 'ext4', blockSize: 1024, inodeSize: 128 }), src, {
      secondsOnly: 'clamp',
    });
  });
});

const nameArb = fc
  .string({ unit: fc.constantFrom('a', 'b', 'Z', '0', 'é', '日', '-', ' ', '.'), minLength: 1, maxLength: 30 })
  .filter((s) => s !== '.' && s !== '..' && s !== 'lost+found');
// the whole range of 256-byte inodes: signed 32-bit seconds plus 2 epoch bits
const timeArb = fc.record({
  sec: fc.integer({ min: -(2 ** 31), max: 3 * 2 ** 32 + 2 ** 31 - 1 }),
  nsec: fc.integer({ min: 0, max: 999_999_999 }),
});
const metaArb = fc.record({
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.nat({ max: 0xffffffff }),
  gid: fc.nat({ max: 0xffffffff }),
  mtime: timeArb,
  atime: timeArb,
  ctime: timeArb,
  xattrs: fc.dictionary(
    fc.constantFrom('user.a', 'user.long-name', 'security.selinux', 'trusted.x'),
    fc.uint8Array({ maxLength: 200 }),
    { maxKeys: 3 },
  ),
});
const entryArb = fc.record({
  dir: fc.array(nameArb, { maxLength: 3 }),
  name: nameArb,
  meta: metaArb,
  kind: fc.oneof(
    fc.record({ t: fc.constant('file' as const), data: fc.uint8Array({ maxLength: 9000 }) }),
    fc.record({
      t: fc.constant('symlink' as const),
      target: fc.string({ minLength: 1, maxLength: 200 }).filter((s) => !s.includes('\0')),
    }),
    fc.record({ t: fc.constant('dev' as const), major: fc.nat({ max: 0xfff }), minor: fc.nat({ max: 0xfffff }) }),
    fc.record({ t: fc.constant('fifo' as const) }),
    fc.record({ t: fc.constant('link' as const), to: fc.nat() }),
  ),
});

describe('random trees', () => {
  it('read back equal to what was written', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(entryArb, { maxLength: 25 }),
        fc.constantFrom<Ext4Options>(
          { type: 'ext4' },
          { type: 'ext4', blockSize: 1024 },
          { type: 'ext2', blockSize: 1024 },
        ),
        async (entries, opts) => {
          const t = new FileTree();
          const files: string[] = [];
          for (const e of entries) {
            const dir = '/' + e.dir.join('/');
            const p = (dir === '/' ? '' : dir) + '/' + e.name;
            try {
              if (e.dir.length) t.mkdir(dir, e.meta);
              if (t.has(p)) continue;
              const k = e.kind;
              if (k.t === 'file') {
                t.addFile(p, k.data, e.meta);
                files.push(p);
              } else if (k.t === 'symlink') t.addSymlink(p, k.target, e.meta);
              else if (k.t === 'dev') t.addDevice(p, 'char', k.major, k.minor, e.meta);
              else if (k.t === 'fifo') t.addFifo(p, e.meta);
              else if (files.length) t.addHardLink(p, files[k.to % files.length]!);
            } catch {
              /* a path clash with an existing non-directory: skip */
            }
          }
          await expectSameTree(await roundTrip(t, opts), t);
        },
      ),
      { numRuns: 25 },
    );
  }, 300_000);
});

describe('large directories', () => {
  it('a 20,000-entry directory with a two-level htree reads back whole', async () => {
    const t = new FileTree({ defaultTime: 1700000000 });
    for (let i = 0; i < 20000; i++) t.addFile(`/many/entry-${i}-${'x'.repeat(i % 40)}`, i % 3 ? `${i}` : '');
    const opts: Ext4Options = { type: 'ext4', blockSize: 1024 };
    const size = ext4MinimumSize(t, opts);
    const dev = new MemoryDevice(size);
    await writeExt4(t, dev, { ...opts, size });
    const { tree, reader } = openExt4(dev);
    const dir = reader.lookup('/many')!;
    expect(dir.flags & 0x1000).toBe(0x1000);
    const root = reader.readData(dir, 0, 1024);
    expect(root[0x1e]).toBeGreaterThanOrEqual(1); // indirect_levels
    await expectSameTree(tree, t);
  }, 300_000);
});

describe('POSIX ACLs', () => {
  it('are stored in ext4 form by the writer and come back in VFS form', async () => {
    const vfs = Buffer.from(
      '0200000001000600ffffffff02000400e803000004000400ffffffff10000400ffffffff20000000ffffffff',
      'hex',
    );
    const t = new FileTree();
    t.addFile('/f', 'x', { xattrs: { 'system.posix_acl_access': new Uint8Array(vfs) } });
    t.mkdir('/d', { xattrs: { 'system.posix_acl_default': new Uint8Array(vfs) } });
    const size = ext4MinimumSize(t, {});
    const dev = new MemoryDevice(size);
    await writeExt4(t, dev, { size });
    const { tree, reader } = openExt4(dev);
    const raw = reader.rawXattrs(reader.lookup('/f')!)[0]!;
    expect(raw.value![0]).toBe(1); // ext4's own ACL version
    await expectSameTree(tree, t);
  });
});
