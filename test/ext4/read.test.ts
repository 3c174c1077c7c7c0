/**
 * ext4 reader against images made by the real tools (mke2fs -d, e2fsck -D),
 * compared entry by entry with the source directory.
 * - golden fixtures (fixtures/ext4/*.img.gz, made by fixtures/ext4/make.sh)
 * - live: the same script run now into a temp dir, compared with its source
 *   tree including every mtime, plus debugfs as a second independent reader.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openExt4, readExt4Info, Ext4Reader } from '../../src/core/fs/ext4/read.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import { readContent } from '../../src/core/tree/content.js';
import { missing, run } from '../helpers/prereq.js';
import { compareWithHost, FIXTURE_NAMES, FIXTURES, fixtureBytes, fixtureDevice } from './read-helpers.js';

const isRoot = process.getuid?.() === 0;
const skipLive =
  missing({ tools: ['mke2fs', 'e2fsck', 'debugfs', 'python3', 'mknod'] }) ??
  (isRoot ? undefined : 'needs root (mknod, chown)');

/** Entries the fixture script sets explicit times on (the rest get "now" when the tree is regenerated). */
const TOUCHED = new Set(['/small', '/medium', '/large', '/fastlink', '/owned', '/sgid', '/dir/sub']);

/** mke2fs -d keeps 32-bit seconds; make.sh patches /small and /owned with nanoseconds and epoch bits where inodes have room. */
const timeOpts = (name: string) => ({
  times: 'mke2fs' as const,
  exactPaths: name === 'ext4-128' ? new Set<string>() : new Set(['/small', '/owned']),
  // mke2fs 1.47 -O inline_data drops the trailing hole of /sparse (debugfs also reports 70000640 bytes)
  skipContent: name === 'ext4-inline' ? new Set(['/sparse']) : new Set<string>(),
});

let src = '';
let live = '';
beforeAll(() => {
  if (!isRoot || skipLive) return;
  const base = mkdtempSync(join(tmpdir(), 'ext4r-'));
  src = join(base, 'src');
  live = join(base, 'img');
  execFileSync(join(FIXTURES, 'make.sh'), [live], { env: { ...process.env, SRC: src }, stdio: 'ignore' });
}, 600_000);
afterAll(() => {
  if (src) rmSync(join(src, '..'), { recursive: true, force: true });
});

describe('golden fixtures', () => {
  it.each(FIXTURE_NAMES)('%s: info', (name) => {
    const info = readExt4Info(fixtureDevice(name));
    expect(info.label).toBe(name);
    expect(info.uuid).toBe('0f0e0d0c-0b0a-4908-8706-050403020100');
    expect(info.type).toBe(name.slice(0, 4));
    expect(info.blockSize).toBe(
      name === 'ext4-64k' ? 65536 : name.endsWith('4k') || name === 'ext4-inline' ? 4096 : 1024,
    );
    expect(info.inodesCount).toBeGreaterThanOrEqual(640);
    expect(info.hashSeed).toBe('01020304-0506-4708-890a-0b0c0d0e0f10');
    expect(info.mkfsTime).toBe(1700000000);
    expect(info.state).toBe('clean');
    expect(info.creatorOs).toBe('Linux');
    // (64 MiB of 64 KiB blocks is too small for mke2fs to add a journal)
    if (name !== 'ext2-1k' && name !== 'ext2-4k' && name !== 'ext4-64k') expect(info.journalInode).toBe(8);
    expect(info.features).toContain('filetype');
    if (name === 'ext4-inline') expect(info.features).toContain('inline_data');
    if (name === 'ext4-metabg') expect(info.features).toContain('meta_bg');
    if (name === 'ext4-bigalloc') expect(info.features).toContain('bigalloc');
  });

  it('info agrees with dumpe2fs -h', () => {
    if (missing({ tools: ['dumpe2fs'] })) return;
    const dir = mkdtempSync(join(tmpdir(), 'ext4r-d-'));
    try {
      const p = join(dir, 'x.img');
      execFileSync('sh', ['-c', `gunzip -c ${join(FIXTURES, 'ext4-1k.img.gz')} > ${p}`]);
      const out = run('dumpe2fs', ['-h', p]).stdout;
      const field = (k: string) => out.match(new RegExp(`^${k}:\\s+(.*)$`, 'm'))?.[1]?.trim();
      const info = readExt4Info(fixtureDevice('ext4-1k'));
      expect(info.features.join(' ')).toBe(field('Filesystem features'));
      expect(String(info.blocksCount)).toBe(field('Block count'));
      expect(String(info.freeBlocks)).toBe(field('Free blocks'));
      expect(String(info.freeInodes)).toBe(field('Free inodes'));
      expect(String(info.reservedBlocks)).toBe(field('Reserved block count'));
      expect(String(info.inodeSize)).toBe(field('Inode size'));
      expect(info.hashVersion).toBe(field('Default directory hash'));
      expect(info.uuid).toBe(field('Filesystem UUID'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each(FIXTURE_NAMES)('%s: same tree as the source', async (name) => {
    if (skipLive) return;
    const { tree } = openExt4(fixtureDevice(name));
    const n = await compareWithHost(tree, src, { mtimePaths: TOUCHED, ...timeOpts(name), xattrs: true });
    expect(n).toBeGreaterThan(420);
  });

  it('reads every structure kind the fixtures hold', async () => {
    const dev = fixtureDevice('ext4-1k');
    const { tree, reader } = openExt4(dev);
    // extent tree of depth 2 (400 separate runs)
    const frag = reader.lookup('/fragmented')!;
    expect(new DataView(frag.iBlock.buffer, frag.iBlock.byteOffset).getUint16(6, true)).toBe(2);
    const fnode = tree.get('/fragmented');
    if (fnode?.type !== 'file') throw new Error('not a file');
    expect(fnode.content.dataRanges!().length).toBe(400);
    expect(new TextDecoder().decode(fnode.content.readAt!(399 * 2048, 10))).toBe('run 00399 ');
    expect(fnode.content.readAt!(1024, 1024).every((b) => b === 0)).toBe(true);
    // htree directory
    expect(reader.lookup('/bigdir')!.flags & 0x1000).toBe(0x1000);
    const big = tree.get('/bigdir');
    expect(big?.type === 'dir' && big.children.size).toBe(400);
    // hard links are one node
    expect(tree.get('/dir/a')).toBe(tree.get('/hardlink-top'));
    expect(tree.get('/dir/a')).toBe(tree.get('/dir/a-link'));
    // times: nanoseconds, post-2038 and pre-1970
    expect(tree.get('/small')!.mtime).toEqual({ sec: 1614834367, nsec: 123456789 });
    expect(tree.get('/owned')!.mtime).toEqual({ sec: 4102542245, nsec: 500000000 });
    expect(tree.get('/sgid')!.mtime.sec).toBe(-301938650);
    // xattrs: in-inode and external block
    const med = tree.get('/medium')!;
    expect(med.xattrs.get('user.big')?.length).toBe(768);
    expect(reader.lookup('/medium')!.fileAcl).toBeGreaterThan(0);
    expect(tree.get('/suid')!.xattrs.get('security.capability')?.length).toBe(20);
    // POSIX ACLs: ext4's compact on-disk form (version 1) comes back in the VFS form (version 2)
    const raw = reader.rawXattrs(reader.lookup('/acl-file')!).find((x) => x.name === 'system.posix_acl_access')!;
    expect(raw.value![0]).toBe(1);
    const acl = tree.get('/acl-file')!.xattrs.get('system.posix_acl_access')!;
    expect(Buffer.from(acl).toString('hex')).toBe(
      '0200000001000600ffffffff02000400e803000004000400ffffffff10000400ffffffff20000000ffffffff',
    );
    expect(tree.get('/acl-dir')!.xattrs.has('system.posix_acl_default')).toBe(true);
    // sparse file: holes as holes
    const sp = tree.get('/sparse');
    if (sp?.type !== 'file') throw new Error('not a file');
    expect(sp.content.size).toBe(70010000);
    const ranges = sp.content.dataRanges!();
    expect(ranges.length).toBe(3);
    expect(ranges[2]![0]).toBeLessThanOrEqual(70000000);
    expect(new TextDecoder().decode(sp.content.readAt!(70000000, 6))).toBe('farfar');
  });

  it('ext2 1k: triple-indirect block map', async () => {
    const { tree, reader } = openExt4(fixtureDevice('ext2-1k'));
    const ino = reader.lookup('/sparse')!;
    expect(new DataView(ino.iBlock.buffer, ino.iBlock.byteOffset).getUint32(14 * 4, true)).not.toBe(0);
    const sp = tree.get('/sparse');
    if (sp?.type !== 'file') throw new Error('not a file');
    expect(new TextDecoder().decode(sp.content.readAt!(70000000 + 297, 3))).toBe('far');
  });

  it('inline data files and directories', async () => {
    const { tree, reader } = openExt4(fixtureDevice('ext4-inline'));
    expect(reader.lookup('/small')!.flags & 0x10000000).toBe(0x10000000);
    expect(reader.lookup('/dir')!.flags & 0x10000000).toBe(0x10000000);
    const small = tree.get('/small');
    if (small?.type !== 'file') throw new Error('not a file');
    expect(new TextDecoder().decode(await readContent(small.content))).toBe('hello, ext4\n');
    // the size mke2fs wrote (its inline_data path drops the trailing hole), as debugfs reports it
    expect(reader.lookup('/sparse')!.size).toBe(70000640);
  });

  it('file contents are lazy: nothing past the metadata is read at open', () => {
    const bytes = fixtureBytes('ext4-4k');
    const dev = new MemoryDevice(bytes);
    let read = 0;
    const counting = {
      get size() {
        return dev.size;
      },
      readAt: (o: number, l: number) => {
        read += l;
        return dev.readAt(o, l);
      },
      writeAt: () => {
        throw new Error('read-only');
      },
      flush() {},
    };
    const { tree } = openExt4(counting);
    const before = read;
    const large = tree.get('/large');
    if (large?.type !== 'file') throw new Error('not a file');
    expect(before).toBeLessThan(bytes.length / 4);
    large.content.readAt!(100, 10);
    expect(read - before).toBe(10);
  });

  it('Ext4Reader exposes groups and inodes for inspect', () => {
    const r = new Ext4Reader(fixtureDevice('ext4-1k'));
    const g = r.group(0);
    expect(g.inodeTable).toBeGreaterThan(0);
    const root = r.inode(2);
    expect(root.type).toBe('dir');
    expect(root.linksCount).toBeGreaterThan(3);
    expect(() => r.inode(0)).toThrow(expect.objectContaining({ code: 'E_FORMAT_RANGE' }));
  });
});

describe.skipIf(!!skipLive)('live mke2fs -d images', () => {
  it.each(FIXTURE_NAMES)('%s: same tree as the source, every mtime', async (name) => {
    const { tree } = openExt4(fixtureDevice(name, live));
    await compareWithHost(tree, src, { ...timeOpts(name), xattrs: true });
  });

  it('genext2fs image (ext2 revision 1 without the filetype feature, 128-byte inodes)', async () => {
    if (missing({ tools: ['genext2fs'] })) return;
    const dir = mkdtempSync(join(tmpdir(), 'ext4r-gen-'));
    try {
      const p = join(dir, 'g.img');
      // genext2fs writes holes as data: 80 MB holds the 70 MB sparse file
      execFileSync('genext2fs', ['-B', '1024', '-b', '80000', '-N', '700', '-d', src, p], { stdio: 'ignore' });
      const dev = FileDevice.open(p);
      try {
        const { tree, info } = openExt4(dev);
        expect(info.type).toBe('ext2');
        expect(info.features).not.toContain('filetype');
        // genext2fs keeps 16-bit ids and only the old 8:8 device encoding: 300:70000 becomes 44:112 (debugfs agrees)
        await compareWithHost(tree, src, { times: 'mke2fs', ids16: true, skipContent: new Set(['/bigdev']) });
        const d = tree.get('/bigdev');
        expect(d?.type === 'chardev' && [d.major, d.minor]).toEqual([44, 112]);
      } finally {
        dev.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('ea_inode: an xattr value stored in its own inode', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ext4r-ea-'));
    try {
      execFileSync(
        'sh',
        [
          '-c',
          'mkdir src && printf x > src/f && python3 -c \'import os; os.setxattr("src/f", "user.huge", bytes((i * 7) % 256 for i in range(3000)))\' && : > e.img && mke2fs -q -F -t ext4 -b 1024 -O ea_inode -d src e.img 4M',
        ],
        { cwd: dir, stdio: 'ignore' },
      );
      const dev = FileDevice.open(join(dir, 'e.img'));
      try {
        const { tree, reader } = openExt4(dev);
        expect(reader.rawXattrs(reader.lookup('/f')!)[0]).toMatchObject({ name: 'user.huge', valueSize: 3000 });
        expect(reader.rawXattrs(reader.lookup('/f')!)[0]!.valueInode).toBeGreaterThan(0);
        const v = tree.get('/f')!.xattrs.get('user.huge')!;
        expect(v.length).toBe(3000);
        expect(v.every((b, i) => b === (i * 7) % 256)).toBe(true);
      } finally {
        dev.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('agrees with debugfs on inode numbers, sizes and link counts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ext4r-dbg-'));
    try {
      const p = join(dir, 'x.img');
      execFileSync('sh', ['-c', `gunzip -c ${join(live, 'ext4-4k.img.gz')} > ${p}`]);
      const { reader } = openExt4(fixtureDevice('ext4-4k', live));
      for (const path of ['/small', '/dir/a', '/sparse', '/fragmented', '/slowlink', '/bigdev', '/bigdir']) {
        const out = run('debugfs', ['-R', `stat ${path}`, p]).stdout;
        const ino = reader.lookup(path)!;
        expect(out).toContain(`Inode: ${ino.ino} `);
        expect(out).toMatch(new RegExp(`Links: ${ino.linksCount}\\b`));
        expect(out).toMatch(new RegExp(`Size: ${ino.size}\\b`));
        expect(out).toMatch(new RegExp(`Generation: ${ino.generation}\\b`));
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
