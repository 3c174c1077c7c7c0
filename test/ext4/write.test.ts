import { describe, expect, it, afterAll } from 'vitest';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, run } from '../helpers/prereq.js';
import { readContent } from '../../src/core/tree/content.js';
import type { TreeNode } from '../../src/core/tree/types.js';
import { DEBUGFS_TYPE, edgeTree, fsck, tmp, writeImage, debugfsStats } from './helpers.js';

const skip = missing({ tools: ['e2fsck', 'debugfs', 'dumpe2fs'] });
const t = tmp();
afterAll(() => t.cleanup());
const EPOCH = 1700000000;

describe.skipIf(skip)('ext writer: e2fsck -fn accepts edge trees', () => {
  for (const type of ['ext4', 'ext3', 'ext2'] as const) {
    for (const blockSize of [4096, 1024]) {
      it(`${type} at block size ${blockSize}`, async () => {
        const img = join(t.dir, `${type}-${blockSize}.img`);
        await writeImage(edgeTree(), img, { type, blockSize, epoch: EPOCH, label: 'edge' });
        const r = fsck(img);
        if (r.code !== 0) console.log(r.out);
        expect(r.code).toBe(0);
      }, 120000);
    }
  }
  for (const blockSize of [4096, 1024]) {
    it(`a 20,000-entry directory (htree) at block size ${blockSize}: ext4 half_md4, ext2 tea, ext3 legacy`, async () => {
      const { FileTree } = await import('../../src/core/tree/tree.js');
      const tree = new FileTree({ defaultTime: EPOCH });
      for (let i = 0; i < 20000; i++) tree.addFile(`/big/entry-${i.toString(36)}-${'x'.repeat(i % 30)}`, '');
      for (const [type, hashAlg] of [
        ['ext4', 'half_md4'],
        ['ext2', 'tea'],
        ['ext3', 'legacy'],
      ] as const) {
        const img = join(t.dir, `big-${type}-${blockSize}.img`);
        await writeImage(tree, img, { type, blockSize, epoch: EPOCH, hashAlg });
        expect(run('dumpe2fs', ['-h', img]).stdout).toMatch(new RegExp(`Default directory hash:\\s+${hashAlg}`));
        const r = fsck(img);
        if (r.code !== 0) console.log(r.out.slice(0, 3000));
        expect(r.code).toBe(0);
        const h = run('debugfs', ['-R', 'htree /big', img]).stdout;
        expect(h).toMatch(blockSize === 1024 ? /Indirect levels: 1/ : /Indirect levels: 0/);
        const ls = run('debugfs', ['-R', 'ls /big', img]).stdout;
        expect(ls).toContain('entry-' + (19999).toString(36));
      }
    }, 180000);
  }
});

describe.skipIf(skip)('ext writer: debugfs agrees with the tree', () => {
  for (const [type, blockSize] of [
    ['ext4', 4096],
    ['ext4', 1024],
    ['ext3', 4096],
    ['ext2', 1024],
  ] as const) {
    it(`${type} ${blockSize}: type, mode, owner, size, times, links, devices, symlinks, xattrs, contents`, async () => {
      const tree = edgeTree({ bigDir: 300 });
      const img = join(t.dir, `agree-${type}-${blockSize}.img`);
      await writeImage(tree, img, { type, blockSize, epoch: EPOCH });
      const entries = [...tree.walk()];
      const stats = debugfsStats(
        img,
        entries.map((e) => e.path),
        t.dir,
      );
      const links = tree.linkCounts();
      const inoOf = new Map<TreeNode, number>();
      for (const e of entries) {
        const s = stats.get(e.path);
        expect(s, e.path).toBeDefined();
        const n = e.node;
        expect(s!.type, e.path).toBe(DEBUGFS_TYPE[n.type]);
        expect(s!.mode, e.path).toBe(n.mode);
        expect(s!.uid, e.path).toBe(n.uid);
        expect(s!.gid, e.path).toBe(n.gid);
        if (n.type !== 'dir') {
          expect(s!.links, e.path).toBe(links.get(n));
          if (inoOf.has(n)) expect(s!.ino, `${e.path} is a hard link`).toBe(inoOf.get(n));
          inoOf.set(n, s!.ino);
        }
        // seconds (low 32 bits + epoch bits) and nanoseconds from the extra field
        const sec = (s!.mtime!.lo | 0) + (s!.mtime!.extra & 3) * 2 ** 32;
        expect(sec, e.path).toBe(n.mtime.sec);
        expect(s!.mtime!.extra >>> 2, e.path).toBe(n.mtime.nsec);
        if (n.type === 'file') expect(s!.size, e.path).toBe(n.content.size);
        if (n.type === 'symlink') {
          const len = new TextEncoder().encode(n.target).length;
          expect(s!.size).toBe(len);
          if (len < 60) expect(s!.fastLink).toBe(n.target);
        }
        if (n.type === 'chardev' || n.type === 'blockdev') expect(s!.dev).toEqual({ major: n.major, minor: n.minor });
        if (n.xattrs.size) {
          expect([...s!.xattrs.keys()].sort()).toEqual([...n.xattrs.keys()].sort());
          expect(s!.xattrs.get('user.a')).toBe(n.xattrs.has('user.a') ? '"b"' : undefined);
        }
      }
      // the sparse file: only 4 data blocks at 4 KiB (holes stay holes), at the right offsets
      const sp = stats.get('/sparse')!;
      expect(sp.size).toBe(5 * 2 ** 30 + 77);
      if (blockSize === 4096 && type === 'ext4') {
        expect(sp.extents).toBe(
          '(0):' +
            sp.extents!.split('):')[1]!.split(',')[0] +
            ', (1179648-1179650):' +
            sp.extents!.split('(1179648-1179650):')[1]!.split(',')[0] +
            ', (1310720):' +
            sp.extents!.split('(1310720):')[1],
        );
        expect(sp.blockcount).toBe(5 * 8);
      }
      // the fragmented file: a multi-level extent tree on ext4, identical content through debugfs dump
      if (type === 'ext4')
        expect(run('debugfs', ['-R', 'stat /fragmented', img]).stdout).toMatch(/Level Entries|EXTENTS:\n\(ETB0\)/);
      // contents: rdump everything but the 5 GiB sparse file, compare bytes, modes and link targets
      const out = join(t.dir, `rdump-${type}-${blockSize}`);
      run('mkdir', ['-p', out]);
      const top = [...tree.root.children.keys()]
        .filter((k) => k !== 'sparse' && k !== 'lost+found')
        .map((k) => `"/${k}"`)
        .join(' ');
      run('debugfs', ['-R', `rdump ${top} ${out}`, img]);
      let files = 0;
      for (const e of entries) {
        if (e.path === '/' || e.path.startsWith('/sparse') || e.path.startsWith('/lost+found')) continue;
        const hp = join(out, e.path);
        const n = e.node;
        if (n.type === 'file') {
          expect(Buffer.compare(readFileSync(hp), Buffer.from(await readContent(n.content))), e.path).toBe(0);
          // rdump's chown after chmod drops setuid/setgid; the special bits are checked through stat above
          expect(lstatSync(hp).mode & 0o777, e.path).toBe(n.mode & 0o777);
          files++;
        } else if (n.type === 'symlink') {
          expect(readlinkSync(hp)).toBe(n.target);
        } else if (n.type === 'dir') {
          expect(lstatSync(hp).isDirectory()).toBe(true);
          expect(readdirSync(hp).sort()).toEqual(
            [...n.children.keys()].filter((k) => ['file', 'dir', 'symlink'].includes(n.children.get(k)!.type)).sort(),
          );
        }
      }
      expect(files).toBeGreaterThan(300);
      expect(existsSync(join(out, 'bigfile'))).toBe(true);
    }, 180000);
  }
});

describe.skipIf(skip)('ext writer: features, determinism, capacity', () => {
  it('dumpe2fs -h shows the intended default features per type', async () => {
    const { defaultFeatures } = await import('../../src/core/fs/ext4/options.js');
    for (const type of ['ext4', 'ext3', 'ext2'] as const) {
      const img = join(t.dir, `feat-${type}.img`);
      const s = await writeImage(edgeTree({ bigDir: 10, sparseHuge: false }), img, {
        type,
        epoch: EPOCH,
        label: 'lbl',
      });
      const h = run('dumpe2fs', ['-h', img]).stdout;
      const line = /Filesystem features:\s+(.*)/.exec(h)![1]!.trim().split(/\s+/);
      expect(line).toEqual(defaultFeatures(type));
      expect(s.features).toEqual(line);
      expect(h).toMatch(/Filesystem volume name:\s+lbl/);
      expect(h).toMatch(new RegExp(`Filesystem UUID:\\s+${s.uuid}`));
      if (type !== 'ext2') expect(h).toMatch(/Journal inode:\s+8/);
    }
    expect(defaultFeatures('ext4')).toEqual([
      'has_journal',
      'ext_attr',
      'dir_index',
      'filetype',
      'extent',
      '64bit',
      'flex_bg',
      'sparse_super',
      'large_file',
      'huge_file',
      'dir_nlink',
      'extra_isize',
      'metadata_csum',
    ]);
  }, 60000);

  const toggles: Array<[string, Record<string, unknown>, string[], string[]]> = [
    ['^has_journal', {}, [], ['has_journal']],
    ['^metadata_csum', {}, ['uninit_bg'], ['metadata_csum']],
    ['^dir_index', {}, [], ['dir_index']],
    ['^64bit,^flex_bg', {}, [], ['64bit', 'flex_bg']],
    ['^huge_file,^extra_isize,^dir_nlink', {}, [], ['huge_file', 'extra_isize']],
    ['^metadata_csum,^uninit_bg,^sparse_super', { blockSize: 2048 }, [], ['uninit_bg', 'sparse_super']],
    ['', { inodeSize: 128, blockSize: 1024 }, [], ['extra_isize']],
    ['+inline_data', {}, ['inline_data'], []],
    ['^filetype', { blockSize: 1024 }, [], ['filetype']],
    ['inline_data,^metadata_csum', { blockSize: 1024 }, ['inline_data', 'uninit_bg'], ['metadata_csum']],
  ];
  for (const [features, extra, on, off] of toggles) {
    it(`ext4 with features '${features}' ${JSON.stringify(extra)} passes e2fsck`, async () => {
      const img = join(t.dir, `tog-${features.replace(/\W/g, '_')}-${Object.values(extra).join('_')}.img`);
      await writeImage(edgeTree({ bigDir: 800, sparseHuge: false }), img, {
        type: 'ext4',
        features,
        epoch: EPOCH,
        ...extra,
      });
      const r = fsck(img);
      if (r.code !== 0) console.log(r.out.slice(0, 3000));
      expect(r.code).toBe(0);
      const fl = /Filesystem features:\s+(.*)/
        .exec(run('dumpe2fs', ['-h', img]).stdout)![1]!
        .trim()
        .split(/\s+/);
      for (const f of on) expect(fl).toContain(f);
      for (const f of off) expect(fl).not.toContain(f);
      if (features.includes('inline_data')) {
        expect(run('debugfs', ['-R', 'stat /hundred', img]).stdout).toMatch(/Size of inline data: 100/);
        expect(run('debugfs', ['-R', 'cat /hundred', img]).stdout).toBe('h'.repeat(59) + '|' + 'i'.repeat(40));
        // debugfs cat pads inline files below 60 bytes with NULs (same for mke2fs -O inline_data images)
        expect(run('debugfs', ['-R', 'cat /hello.txt', img]).stdout.replace(/\0+$/, '')).toBe('hello world\n');
        expect(run('debugfs', ['-R', 'stat /hello.txt', img]).stdout).toMatch(/Size: 12\b/);
      }
    }, 60000);
  }

  it('identical xattr sets beyond the inode share one block (h_refcount), 128-byte inodes', async () => {
    const { FileTree } = await import('../../src/core/tree/tree.js');
    const tree = new FileTree({ defaultTime: EPOCH });
    const label = { 'security.selinux': 'system_u:object_r:usr_t:s0\0' };
    for (let i = 0; i < 1100; i++) tree.addFile(`/f${i}`, 'x', { xattrs: label });
    tree.addFile('/other', 'y', { xattrs: { 'user.k': 'v' } });
    const img = join(t.dir, 'xshare.img');
    await writeImage(tree, img, { inodeSize: 128, epoch: EPOCH });
    const r = fsck(img);
    if (r.code !== 0) console.log(r.out.slice(0, 3000));
    expect(r.code).toBe(0);
    const st = debugfsStats(img, ['/f0', '/f1099', '/f1023', '/f1024', '/other'], t.dir);
    expect(st.get('/f0')!.xattrs.get('security.selinux')).toBe('"system_u:object_r:usr_t:s0\\000"');
    const cmds = join(t.dir, 'xshare.cmds');
    writeFileSync(cmds, [...tree.root.children.keys()].map((k) => `stat /${k}`).join('\n'));
    const out = run('debugfs', ['-f', cmds, img]).stdout;
    const counts = new Map<string, number>();
    for (const m of out.matchAll(/File ACL: (\d+)/g)) counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
    expect([...counts.values()].sort((a, b) => a - b)).toEqual([1, 76, 1024]);
  }, 60000);

  it("POSIX ACLs given in the Linux xattr format are stored in ext4's format (debugfs converts them back)", async () => {
    const { FileTree } = await import('../../src/core/tree/tree.js');
    const acl = (entries: Array<[number, number, number]>) => {
      const b = Buffer.alloc(4 + entries.length * 8);
      b.writeUInt32LE(2, 0);
      entries.forEach(([tag, perm, id], i) => {
        b.writeUInt16LE(tag, 4 + i * 8);
        b.writeUInt16LE(perm, 6 + i * 8);
        b.writeUInt32LE(id, 8 + i * 8);
      });
      return new Uint8Array(b);
    };
    // ids of the short entries: the kernel reports 0xffffffff, e2fsprogs 0; they are not stored on disk
    const access = acl([
      [1, 6, 0xffffffff],
      [2, 4, 1000],
      [4, 4, 0xffffffff],
      [8, 4, 100],
      [0x10, 4, 0xffffffff],
      [0x20, 0, 0xffffffff],
    ]);
    const back = acl([
      [1, 6, 0],
      [2, 4, 1000],
      [4, 4, 0],
      [8, 4, 100],
      [0x10, 4, 0],
      [0x20, 0, 0],
    ]);
    const tree = new FileTree({ defaultTime: EPOCH });
    tree.addFile('/acl', 'x', { mode: 0o640, xattrs: new Map([['system.posix_acl_access', access]]) });
    const img = join(t.dir, 'acl.img');
    await writeImage(tree, img, { epoch: EPOCH });
    expect(fsck(img).code).toBe(0);
    const out = join(t.dir, 'acl.val');
    run('debugfs', ['-R', `ea_get -f ${out} /acl system.posix_acl_access`, img]);
    expect(Buffer.compare(readFileSync(out), Buffer.from(back))).toBe(0);
    expect(run('debugfs', ['-R', 'ea_list /acl', img]).stdout).toContain(
      '(36) = 01 00 00 00 01 00 06 00 02 00 04 00 e8 03 00 00',
    );
  }, 60000);

  it('an empty tree, and a tree bringing its own lost+found, pass e2fsck', async () => {
    const { FileTree } = await import('../../src/core/tree/tree.js');
    const empty = join(t.dir, 'empty.img');
    const s = await writeImage(new FileTree(), empty, { epoch: EPOCH });
    expect(s.size).toBeLessThanOrEqual(16 << 20);
    expect(fsck(empty).code).toBe(0);
    const own = new FileTree({ defaultTime: EPOCH });
    own.mkdir('/lost+found', { mode: 0o755, uid: 7 });
    own.addFile('/lost+found/#12', 'orphan');
    own.mkdir('/lost+found/sub');
    const img = join(t.dir, 'own-lpf.img');
    await writeImage(own, img, { epoch: EPOCH });
    expect(fsck(img).code).toBe(0);
    const st = run('debugfs', ['-R', 'stat /lost+found', img]).stdout;
    expect(st).toMatch(/Inode: 11\s/);
    expect(st).toMatch(/Mode:\s+0755/);
    expect(st).toMatch(/Links: 3/);
    expect(run('debugfs', ['-R', 'cat /lost+found/#12', img]).stdout).toBe('orphan');
    const { PathError } = await import('../../src/core/errors.js');
    const bad = new FileTree();
    bad.addFile('/lost+found', 'not a dir');
    await expect(writeImage(bad, join(t.dir, 'bad.img'), { size: 16 << 20 })).rejects.toBeInstanceOf(PathError);
  }, 60000);

  it('a content that yields fewer or more bytes than its size is an E_IO_CONTENT_SIZE error', async () => {
    const { FileTree } = await import('../../src/core/tree/tree.js');
    const { streamContent } = await import('../../src/core/tree/content.js');
    const { writeExt4 } = await import('../../src/core/fs/ext4/index.js');
    const { MemoryDevice } = await import('../../src/core/io/device.js');
    for (const actual of [5000, 15000]) {
      const tree = new FileTree();
      tree.addFile(
        '/liar',
        streamContent(10000, async function* () {
          yield new Uint8Array(actual).fill(1);
        }),
      );
      await expect(writeExt4(tree, new MemoryDevice(16 << 20), {})).rejects.toMatchObject({
        code: 'E_IO_CONTENT_SIZE',
        data: { path: '/liar' },
      });
    }
  });

  it('rejects unknown and unsupported features with a UsageError', async () => {
    const { writeExt4 } = await import('../../src/core/fs/ext4/index.js');
    const { MemoryDevice } = await import('../../src/core/io/device.js');
    const dev = new MemoryDevice(8 << 20);
    await expect(
      writeExt4(edgeTree({ bigDir: 1, sparseHuge: false }), dev, { features: 'bogus' }),
    ).rejects.toMatchObject({ code: 'E_USAGE_FEATURE' });
    await expect(
      writeExt4(edgeTree({ bigDir: 1, sparseHuge: false }), dev, { features: '+bigalloc' }),
    ).rejects.toMatchObject({ code: 'E_USAGE_FEATURE' });
    await expect(
      writeExt4(edgeTree({ bigDir: 1, sparseHuge: false }), dev, { features: '^extent' }),
    ).rejects.toMatchObject({ code: 'E_USAGE_FEATURE' });
    await expect(
      writeExt4(edgeTree({ bigDir: 1, sparseHuge: false }), dev, { features: '+inline_data', inodeSize: 128 }),
    ).rejects.toMatchObject({ code: 'E_USAGE_FEATURE' });
  });

  it('is deterministic: same tree and options give identical bytes', async () => {
    const a = join(t.dir, 'det-a.img');
    const b = join(t.dir, 'det-b.img');
    const sa = await writeImage(edgeTree({ bigDir: 500, sparseHuge: false }), a, { epoch: EPOCH, label: 'det' });
    const sb = await writeImage(edgeTree({ bigDir: 500, sparseHuge: false }), b, { epoch: EPOCH, label: 'det' });
    expect(sa).toEqual(sb);
    expect(Buffer.compare(readFileSync(a), readFileSync(b))).toBe(0);
    const c = join(t.dir, 'det-c.img');
    const sc = await writeImage(edgeTree({ bigDir: 500, sparseHuge: false }), c, { epoch: EPOCH + 1, label: 'det' });
    expect(sc.uuid).not.toBe(sa.uuid);
    const d = join(t.dir, 'det-d.img');
    const sd = await writeImage(edgeTree({ bigDir: 500, sparseHuge: false }), d, {
      epoch: EPOCH,
      label: 'det',
      uuid: '01234567-89ab-cdef-0123-456789abcdef',
      hashSeed: '11111111-2222-3333-4444-555555555555',
    });
    expect(sd.uuid).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(run('dumpe2fs', ['-h', d]).stdout).toMatch(/Directory Hash Seed:\s+11111111-2222-3333-4444-555555555555/);
  }, 60000);

  it('fails with CapacityError E_SPACE_FS naming the bytes needed, before writing anything', async () => {
    const { writeExt4 } = await import('../../src/core/fs/ext4/index.js');
    const { MemoryDevice } = await import('../../src/core/io/device.js');
    const dev = new MemoryDevice(12 << 20);
    const tree = edgeTree({ bigDir: 10, sparseHuge: false });
    const { bytesContent } = await import('../../src/core/tree/content.js');
    tree.addFile('/fill', bytesContent(new Uint8Array(20 << 20).fill(1)));
    const err = await writeExt4(tree, dev, {}).catch((e) => e);
    expect(err).toMatchObject({ name: 'CapacityError', code: 'E_SPACE_FS' });
    expect(err.message).toMatch(/needs about \d+ bytes/);
    expect(err.data.expected).toBeGreaterThan(20 << 20);
    expect(dev.bytes.every((x: number) => x === 0)).toBe(true);
  });

  for (const features of ['', '^metadata_csum', '^flex_bg']) {
    it(`marks empty groups BLOCK_UNINIT/INODE_UNINIT and e2fsck agrees (features '${features}')`, async () => {
      const img = join(t.dir, `uninit${features}.img`);
      await writeImage(edgeTree({ bigDir: 50, sparseHuge: false }), img, {
        size: 64 << 20,
        blockSize: 1024,
        features,
        epoch: EPOCH,
      });
      const d = run('dumpe2fs', [img]).stdout;
      expect(d).toMatch(/Group 3: .*\[INODE_UNINIT, BLOCK_UNINIT, ITABLE_ZEROED\]/);
      expect(d).toMatch(/Group 7: .*\[INODE_UNINIT, ITABLE_ZEROED\]/);
      const r = fsck(img);
      if (r.code !== 0) console.log(r.out.slice(0, 3000));
      expect(r.code).toBe(0);
    }, 60000);
  }

  it('a 64 GiB filesystem for a small tree: quick, sparse, e2fsck-clean', async () => {
    const img = join(t.dir, 'large.img');
    const t0 = Date.now();
    const s = await writeImage(edgeTree({ bigDir: 10, sparseHuge: false }), img, { size: 64 * 2 ** 30, epoch: EPOCH });
    const ms = Date.now() - t0;
    expect(s.groups).toBe(512);
    expect(lstatSync(img).blocks * 512).toBeLessThan(80 << 20);
    expect(ms).toBeLessThan(20000);
    const r = fsck(img);
    if (r.code !== 0) console.log(r.out.slice(0, 3000));
    expect(r.code).toBe(0);
  }, 120000);

  it('uses the whole device, keeps free space as holes and honours reserved percent', async () => {
    const img = join(t.dir, 'holes.img');
    const s = await writeImage(edgeTree({ bigDir: 10, sparseHuge: false }), img, {
      size: 256 << 20,
      reservedPercent: 1,
      epoch: EPOCH,
    });
    expect(s.size).toBe(256 << 20);
    const st = lstatSync(img);
    expect(st.size).toBe(256 << 20);
    expect(st.blocks * 512).toBeLessThan(40 << 20);
    expect(run('dumpe2fs', ['-h', img]).stdout).toMatch(
      new RegExp(`Reserved block count:\\s+${Math.floor((256 << 20) / 4096 / 100)}`),
    );
    expect(fsck(img).code).toBe(0);
  }, 60000);
});
