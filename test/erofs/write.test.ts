// The writer's promises, checked by fsck.erofs and dump.erofs (erofs-utils)
// and by reading the bytes back: identical images for the same input, every
// node type and the standard edge trees accepted, compact inodes where they
// fit and extended ones where they must, inline tails, shared xattrs,
// stream-only contents, option validation and capacity errors.
import fc from 'fast-check';
import { crc32cUpdate } from '../../src/core/binary/crc.js';
import { afterAll, describe, expect, it } from 'vitest';
import { CapacityError, UsageError } from '../../src/core/errors.js';
import { openErofs, prepareErofs } from '../../src/core/fs/erofs/index.js';
import { INODE_COMPACT, ISLOT_SIZE, SUPERBLOCK, SUPER_OFFSET } from '../../src/core/fs/erofs/structs.js';
import { MemoryDevice, SubDevice } from '../../src/core/io/device.js';
import { sparseContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { treeArb } from '../helpers/arbitrary.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { expectStreamContents } from '../helpers/stream-content.js';
import { equalBytes, expectSameTree, fsck, generatedContent, memImage, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

describe.skipIf(missing({ tools: ['fsck.erofs', 'dump.erofs'] }))('fsck.erofs and dump.erofs accept our images', () => {
  it('random trees (fast-check), with and without inline data and shared xattrs', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(treeArb({ maxEntries: 40 }), fc.boolean(), fc.nat({ max: 3 }), async (tree, inline, shared) => {
        const { bytes } = await memImage(tree, { inlineData: inline, sharedXattrs: shared });
        const r = fsck(t.path(`random-${n++}.erofs`), bytes);
        expect(r.code, r.out).toBe(0);
      }),
      { numRuns: 30 },
    );
  }, 120000);

  it('the edge tree: 0-byte and 100 MB files, holes, 255-byte names, every type, xattrs, 3000-entry directory', async () => {
    const tree = edgeTree({ bigDir: 3000, sparseHuge: true });
    tree.addFile('/big/100MB', generatedContent(100 * 2 ** 20));
    tree.addFile('/big/empty', '');
    const { bytes, summary } = await memImage(tree);
    const img = t.path('edge.erofs');
    const r = fsck(img, bytes);
    expect(r.code, r.out).toBe(0);
    expect(summary.chunkedFiles).toBe(2);
    // fsck.erofs as a second reader: what it extracts is the tree, but for what erofs-utils 1.5's extraction
    // loses: xattrs (not extracted), hard links (extracted as copies), the holes of chunk-based files (left
    // out of what it writes) and setuid/setgid bits (chown after chmod clears them); our reader checks those
    const out = t.path('edge-extracted');
    const x = fsck(img, undefined, [`--extract=${out}`]);
    expect(x.code, x.out).toBe(0);
    const back = treeFromHostDir(out);
    for (const p of ['/sparse', '/fragmented', '/suid', '/sgid']) {
      tree.remove(p);
      back.remove(p);
    }
    await expectSameTree(tree, back, { ignoreFields: ['xattrs', 'links'] });
  }, 120000);

  it('is a real check: a damaged directory entry or superblock is reported', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: false });
    const { bytes } = await memImage(tree);
    const dirent = bytes.slice();
    // the root's third directory entry (after "." and ".."): its nid now lies past the image's end;
    // the superblock checksum (it covers block 0) made right again, so only the entry is wrong
    new DataView(dirent.buffer).setUint32(36 * ISLOT_SIZE + INODE_COMPACT.size + 2 * 12, 0xffffff, true);
    const sum = SUPER_OFFSET + SUPERBLOCK.offsetOf('checksum');
    dirent.fill(0, sum, sum + 4);
    new DataView(dirent.buffer).setUint32(sum, crc32cUpdate(0xffffffff, dirent, SUPER_OFFSET, 4096), true);
    const r = fsck(t.path('bad-dirent.erofs'), dirent);
    expect(r.code).not.toBe(0);
    expect(r.out).not.toMatch(/chksum/);
    const sb = bytes.slice();
    sb[SUPER_OFFSET + SUPERBLOCK.offsetOf('buildTime')]! ^= 1;
    expect(fsck(t.path('bad-sb.erofs'), sb).out).toMatch(/chksum/);
  });

  it('dump.erofs reads the superblock we meant to write', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: false });
    const { bytes, summary } = await memImage(tree, { uuid: '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', label: 'tiny' });
    const img = t.path('dump.erofs');
    fsck(img, bytes);
    const r = run('dump.erofs', ['-s', img]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`Filesystem blocks:\\s+${summary.blocks}\\b`));
    expect(r.stdout).toMatch(/Filesystem root nid:\s+36\b/);
    expect(r.stdout).toMatch(new RegExp(`Filesystem inode count:\\s+${summary.inodes}\\b`));
    expect(r.stdout).toMatch(/Filesystem UUID:\s+0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0/);
    expect(r.stdout).toMatch(/Filesystem features:\s+sb_csum/);
    const ls = run('dump.erofs', ['--ls', '--nid=36', img]);
    expect(ls.stdout).toMatch(/\bhello\.txt\b/);
  });
});

describe('EROFS writer', () => {
  it('is deterministic, and derives a different UUID for a different tree', async () => {
    const tree = edgeTree({ bigDir: 500, sparseHuge: false });
    tree.addFile('/gen', generatedContent(3 << 20));
    const a = await memImage(tree);
    const b = await memImage(tree);
    expect(equalBytes(a.bytes, b.bytes)).toBe(true);
    tree.addFile('/one-more', 'x');
    const c = await memImage(tree);
    expect(c.summary.uuid).not.toBe(a.summary.uuid);
    expect(openErofs(a.dev).info.uuid).toBe(a.summary.uuid);
  });

  it('uses compact inodes where they fit and extended ones where times, owners or sizes need them', async () => {
    const tree = new FileTree({ defaultTime: 1700000000 });
    tree.addFile('/compact', 'a');
    tree.addFile('/nsec', 'b', { mtime: { sec: 1700000000, nsec: 5 } });
    tree.addFile('/uid', 'c', { uid: 65536 });
    tree.addFile('/gid', 'd', { gid: 70000 });
    tree.addFile('/huge', sparseContent(2 ** 32 + 5, []));
    tree.addFile('/old', 'e', { mtime: -100 });
    const { bytes, summary } = await memImage(tree);
    expect(summary.buildTime).toEqual({ sec: 1700000000, nsec: 0 });
    expect(summary.extendedInodes).toBe(5);
    expect(summary.compactInodes).toBe(2); // the root and /compact
    const v = openErofs(new MemoryDevice(bytes));
    // every inode's i_format bit 0 says which, at the nid its directory entry gives
    const format = (nid: number) => INODE_COMPACT.decode(bytes, nid * ISLOT_SIZE).format & 1;
    const nids = listNids(bytes);
    expect(format(nids.get('compact')!)).toBe(0);
    for (const p of ['nsec', 'uid', 'gid', 'huge', 'old']) expect(format(nids.get(p)!), p).toBe(1);
    tree.remove('/huge'); // 4 GiB of zeros: compared by size alone
    expect(v.tree.get('/huge')).toMatchObject({ type: 'file', content: { size: 2 ** 32 + 5 } });
    v.tree.remove('/huge');
    await expectSameTree(tree, v.tree);
    // with the build time set to the odd one out, it is the compact one
    const other = await memImage(tree, { buildTime: { sec: 1700000000, nsec: 5 } });
    expect(INODE_COMPACT.decode(other.bytes, listNids(other.bytes).get('nsec')! * ISLOT_SIZE).format & 1).toBe(0);
  });

  it('keeps tails beside their inodes, or all data in blocks with inlineData: false', async () => {
    const tree = new FileTree({ defaultTime: 1 });
    tree.addFile('/small', 'x'.repeat(100));
    tree.addFile('/tail', 'y'.repeat(3 * 4096 + 10));
    tree.addSymlink('/link', 'small');
    const on = await memImage(tree);
    const off = await memImage(tree, { inlineData: false });
    expect(on.summary.inlineInodes).toBe(4); // the root directory too
    expect(on.summary.dataBlocks).toBe(3);
    expect(off.summary.inlineInodes).toBe(0);
    expect(off.summary.dataBlocks).toBe(1 + 4 + 1 + 1);
    await expectSameTree(tree, openErofs(on.dev).tree);
    await expectSameTree(tree, openErofs(off.dev).tree);
  });

  it('shares attributes many inodes carry, and keeps ACLs; names EROFS lacks are left out with a warning', async () => {
    const tree = new FileTree({ defaultTime: 1 });
    const label = 'system_u:object_r:' + 'x'.repeat(100);
    for (let i = 0; i < 200; i++)
      tree.addFile(`/f${i}`, 'x', { xattrs: { 'security.selinux': label, 'user.i': String(i) } });
    tree.addFile('/acl', 'x', {
      xattrs: { 'system.posix_acl_access': 'zz', 'system.other': 'no', 'user.ok': 'yes' },
    });
    const warnings: string[] = [];
    const { dev, summary } = await memImage(tree, { warn: (m) => warnings.push(m) });
    expect(summary.sharedXattrs).toBe(1);
    expect(summary.skippedXattrs).toEqual(['/acl: system.other']);
    expect(warnings.join('\n')).toMatch(/system\.other/);
    const v = openErofs(dev).tree;
    expect(new TextDecoder().decode(v.get('/f7')!.xattrs.get('security.selinux'))).toBe(label);
    expect([...v.get('/acl')!.xattrs.keys()].sort()).toEqual(['system.posix_acl_access', 'user.ok']);
    const none = await memImage(tree, { sharedXattrs: 0 });
    expect(none.summary.sharedXattrs).toBe(0);
    expect(none.dev.size).toBeGreaterThan(dev.size);
    // an inode whose attributes do not fit a block beside it gets them shared
    const big = new FileTree();
    big.addFile('/x', 'x', { xattrs: { 'user.a': 'a'.repeat(3000), 'user.b': 'b'.repeat(3000) } });
    const b = await memImage(big, { sharedXattrs: 0 });
    expect(b.summary.sharedXattrs).toBeGreaterThan(0);
    await expectSameTree(big, openErofs(b.dev).tree);
  });

  it('reads stream-only contents and rejects a content that lies about its size, naming the path', async () => {
    await expectStreamContents(memImage, (img) => openErofs(img.dev).tree);
  });

  it('rejects bad options and what EROFS cannot hold', async () => {
    const tree = new FileTree();
    expect(() => prepareErofs(tree, { label: 'x'.repeat(17) })).toThrow(UsageError);
    expect(() => prepareErofs(tree, { uuid: 'nope' })).toThrow(UsageError);
    expect(() => prepareErofs(tree, { sharedXattrs: -1 })).toThrow(UsageError);
    const link = new FileTree();
    link.addSymlink('/d/l', 'x'.repeat(4096));
    expect(() => prepareErofs(link)).toThrow(CapacityError);
    expect(() => prepareErofs(link)).toThrow(/\/d\/l/);
    const x = new FileTree();
    x.addFile('/v', 'x', { xattrs: { 'user.big': new Uint8Array(70000) } });
    expect(() => prepareErofs(x)).toThrow(/\/v: extended attribute user.big/);
    const p = prepareErofs(edgeTree({ bigDir: 10, sparseHuge: false }));
    await expect(p.write(new MemoryDevice(p.size - 4096))).rejects.toThrow(CapacityError);
  });

  it('writes onto a partition window, and the superblock checksum covers block 0', async () => {
    const tree = edgeTree({ bigDir: 10, sparseHuge: false });
    const { bytes } = await memImage(tree);
    const disk = new MemoryDevice(bytes.length + (1 << 20));
    await prepareErofs(tree).write(new SubDevice(disk, 1 << 20, bytes.length));
    expect(equalBytes(disk.bytes.subarray(1 << 20), bytes)).toBe(true);
    const broken = bytes.slice();
    broken[SUPER_OFFSET + SUPERBLOCK.size + 5]! ^= 1; // inside block 0, after the superblock: the root inode
    expect(() => openErofs(new MemoryDevice(broken))).toThrow(/checksum/);
  });
});

/** name -> nid for the root directory's entries (our reader's listing through the raw dirents). */
function listNids(bytes: Uint8Array): Map<string, number> {
  const out = new Map<string, number>();
  const r = run('dump.erofs', ['--ls', '--nid=36', writeTmp(bytes)]);
  for (const line of r.stdout.split('\n')) {
    const m = /^\s*(\d+)\s+\d+\s+(\S+)$/.exec(line);
    if (m) out.set(m[2]!, Number(m[1]));
  }
  return out;
}

let tmpN = 0;
function writeTmp(bytes: Uint8Array): string {
  const p = t.path(`nids-${tmpN++}.erofs`);
  fsck(p, bytes);
  return p;
}
