/**
 * `tinyimage inspect --json` and `tinyimage ls` against the classic tools, on
 * images those tools made: sfdisk --json (MBR with logical partitions, GPT by
 * sgdisk), dumpe2fs -h (ext2/3/4 by mke2fs -d with label, inode size and
 * reserved percentage), fsck.fat -v + fatlabel (FAT12/16/32 by mkfs.fat) and
 * cpio -tvn (an archive by GNU cpio with every file type and a hard link).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync, linkSync, chmodSync, lchownSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';
import { missing, run } from '../helpers/prereq.js';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

async function cli(...argv: string[]): Promise<string> {
  const c = capture();
  const code = await main(argv, c);
  expect(code, c.err()).toBe(0);
  return c.out();
}
const inspect = async (img: string) => JSON.parse(await cli('inspect', '--json', img)) as Record<string, any>;

let dir = '';
let src = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ti-agree-'));
  src = join(dir, 'src');
  mkdirSync(join(src, 'etc/deep/er'), { recursive: true });
  writeFileSync(join(src, 'etc/inittab'), '::sysinit:/etc/init.d/rcS\n');
  writeFileSync(join(src, 'etc/deep/er/big'), Buffer.alloc(70_000, 7));
  writeFileSync(join(src, 'hello.txt'), 'hello\n');
  linkSync(join(src, 'hello.txt'), join(src, 'hard'));
  symlinkSync('hello.txt', join(src, 'link'));
  symlinkSync('/nowhere/at/all', join(src, 'dangling'));
  writeFileSync(join(src, 'suid'), '#!/bin/sh\n');
  chmodSync(join(src, 'suid'), 0o4755);
  mkdirSync(join(src, 'sticky'));
  chmodSync(join(src, 'sticky'), 0o1777);
  writeFileSync(join(src, 'owned'), 'x');
  if (IS_ROOT) {
    lchownSync(join(src, 'owned'), 1234, 5678);
    lchownSync(join(src, 'link'), 42, 43);
    execFileSync('mknod', [join(src, 'null'), 'c', '1', '3']);
    execFileSync('mknod', [join(src, 'sda'), 'b', '8', '0']);
  }
  execFileSync('mkfifo', [join(src, 'fifo')]);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe.skipIf(missing({ tools: ['sfdisk', 'sgdisk'] }))('disks: inspect and ls agree with sfdisk --json', () => {
  /** sfdisk's view, in our units; the MBR extended container is not a partition in our table (only its logicals are). */
  const sfdisk = (img: string) => {
    const t = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
    return {
      kind: t.label === 'dos' ? 'mbr' : 'gpt',
      diskId: t.label === 'dos' ? t.id.replace(/^0x/, '') : t.id.toLowerCase(),
      sectorSize: t.sectorsize,
      partitions: (t.partitions as Array<Record<string, any>>)
        .filter((p) => !(t.label === 'dos' && ['5', 'f', '85'].includes(p.type)))
        .map((p) => ({
          index: Number(/(\d+)$/.exec(p.node)![1]),
          offset: p.start * t.sectorsize,
          size: p.size * t.sectorsize,
          type: t.label === 'dos' ? `0x${p.type.padStart(2, '0')}` : p.type.toLowerCase(),
          ...(p.uuid ? { partuuid: p.uuid.toLowerCase() } : {}),
          ...(p.name !== undefined ? { name: p.name } : {}),
          bootable: t.label === 'dos' ? p.bootable === true : /LegacyBIOSBootable/.test(p.attrs ?? ''),
        })),
    };
  };
  const ours = (rep: Record<string, any>) => ({
    kind: rep.kind,
    diskId: rep.diskId,
    sectorSize: rep.sectorSize,
    partitions: (rep.partitions as Array<Record<string, any>>).map((p) => ({
      index: p.index,
      offset: p.offset,
      size: p.size,
      type: p.type,
      ...(rep.kind === 'gpt' ? { partuuid: p.partuuid } : {}),
      ...(p.name ? { name: p.name } : {}), // sfdisk leaves out empty names
      bootable: p.bootable,
    })),
  });

  it('MBR with primaries, an extended partition and logicals (sfdisk)', async () => {
    const img = join(dir, 'mbr.img');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync('sfdisk', ['-q', img], {
      input:
        'label: dos\nlabel-id: 0xdeadbeef\nstart=2048,size=4096,type=83,bootable\nstart=8192,size=40000,type=f\nstart=10240,size=2048,type=c\nstart=14336,size=4096,type=82\nstart=20480,size=20000,type=83\nstart=50000,size=20000,type=ef\n',
    });
    const rep = await inspect(img);
    const sf = sfdisk(img);
    expect(ours(rep)).toEqual(sf);
    expect(sf.partitions.map((p) => p.index)).toEqual([1, 3, 5, 6, 7]);
    for (const p of rep.partitions) expect(p.partuuid).toBe(`deadbeef-${String(p.index).padStart(2, '0')}`);
    const ls = JSON.parse(await cli('ls', '--json', img));
    expect(ls.partitions.map((p: any) => [p.index, p.offset, p.size, p.type])).toEqual(
      sf.partitions.map((p) => [p.index, p.offset, p.size, p.type]),
    );
    const text = await cli('ls', img);
    expect(text).toMatch(/^MBR disk, id deadbeef/);
    for (const p of sf.partitions)
      expect(text).toContain(`  ${p.index}  start ${p.offset}  size ${p.size}  type ${p.type}`);
  });

  it('GPT with names, attributes and filesystems inside (sgdisk)', async () => {
    const img = join(dir, 'gpt.img');
    execFileSync('truncate', ['-s', '64M', img]);
    execFileSync(
      'sgdisk',
      [
        '-U',
        '11111111-2222-3333-4444-555555555555',
        '-n1:2048:+8M',
        '-t1:ef00',
        '-c1:EFI system',
        '-n2:0:+16M',
        '-t2:8300',
        '-c2:root',
        '-A2:set:2',
        '-n3:0:+1M',
        '-t3:ef02',
        img,
      ],
      { stdio: 'ignore' },
    );
    const esp = join(dir, 'esp.img');
    execFileSync('mkfs.fat', ['-C', '-F', '16', '-s', '1', esp, String(8 * 1024)], { stdio: 'ignore' });
    execFileSync('dd', [`if=${esp}`, `of=${img}`, 'bs=512', 'seek=2048', 'conv=notrunc', 'status=none']);
    const rep = await inspect(img);
    const sf = sfdisk(img);
    expect(ours(rep)).toEqual(sf);
    expect(rep.diskId).toBe('11111111-2222-3333-4444-555555555555');
    expect(rep.partitions[1].attributes).toBe('0x4');
    expect(rep.partitions[0].filesystem.kind).toBe('fat16');
    expect(rep.partitions[1].filesystem).toBeNull();
    const ls = JSON.parse(await cli('ls', '--json', img));
    expect(ls.partitions.map((p: any) => [p.index, p.partuuid, p.name || undefined, p.fs ?? null])).toEqual(
      sf.partitions.map((p, i) => [p.index, p.partuuid, p.name, i === 0 ? 'fat16' : null]),
    );
  });
});

describe.skipIf(missing({ tools: ['mke2fs', 'dumpe2fs'] }))('ext2/3/4: inspect agrees with dumpe2fs -h', () => {
  for (const [type, extra] of [
    ['ext2', ['-I', '128', '-m', '0', '-L', 'two', '-b', '1024']],
    ['ext3', ['-I', '256', '-m', '3', '-L', 'three', '-b', '2048']],
    ['ext4', ['-I', '512', '-m', '10', '-L', 'four-label', '-b', '4096', '-O', '^metadata_csum']],
    ['ext4', ['-m', '5', '-N', '3000', '-E', 'root_owner=0:0']],
  ] as const) {
    it(`${type} ${extra.join(' ')}`, async () => {
      const img = join(dir, `${type}-${extra.length}.img`);
      execFileSync('mke2fs', ['-q', '-F', '-t', type, ...extra, '-d', src, img, '16M'], {
        env: { ...process.env, E2FSPROGS_FAKE_TIME: '1700000000' },
      });
      if (type === 'ext3')
        execFileSync('tune2fs', ['-o', 'journal_data_writeback,nobarrier,discard,debug,^acl', img], {
          stdio: 'ignore',
        });
      const rep = await inspect(img);
      const dump = run('dumpe2fs', ['-h', img]).stdout;
      const field = (n: string) => {
        const m = new RegExp(`^${n.replace(/[#()]/g, '\\$&')}:\\s+(.*)$`, 'm').exec(dump);
        return m ? m[1]!.trim() : undefined;
      };
      const num = (n: string) => Number(field(n));
      expect(rep.kind).toBe(type);
      expect(rep.blockSize).toBe(num('Block size'));
      expect(rep.blocksCount).toBe(num('Block count'));
      expect(rep.freeBlocks).toBe(num('Free blocks'));
      expect(rep.reservedBlocks).toBe(num('Reserved block count'));
      expect(rep.inodesCount).toBe(num('Inode count'));
      expect(rep.freeInodes).toBe(num('Free inodes'));
      expect(rep.inodeSize).toBe(num('Inode size'));
      expect(rep.firstInode).toBe(num('First inode'));
      expect(rep.firstDataBlock).toBe(num('First block'));
      expect(rep.blocksPerGroup).toBe(num('Blocks per group'));
      expect(rep.inodesPerGroup).toBe(num('Inodes per group'));
      expect(rep.reservedGdtBlocks).toBe(field('Reserved GDT blocks') === undefined ? 0 : num('Reserved GDT blocks'));
      expect(rep.label).toBe(field('Filesystem volume name') === '<none>' ? '' : field('Filesystem volume name'));
      expect(rep.uuid).toBe(field('Filesystem UUID'));
      expect(rep.state).toBe(field('Filesystem state'));
      expect(rep.errorsBehavior).toBe(field('Errors behavior')!.toLowerCase());
      expect(rep.creatorOs).toBe(field('Filesystem OS type'));
      expect(rep.revision).toBe(Number(field('Filesystem revision #')!.split(' ')[0]));
      expect([...rep.features].sort()).toEqual(field('Filesystem features')!.split(/\s+/).sort());
      expect(rep.hashVersion).toBe(field('Default directory hash'));
      expect(rep.hashSeed).toBe(field('Directory Hash Seed'));
      expect(rep.journalInode).toBe(field('Journal inode') === undefined ? 0 : num('Journal inode'));
      expect(rep.defaultMountOptionNames).toBe(field('Default mount options'));
      expect(rep.mkfsTime).toBe(1_700_000_000);
      // usage as dumpe2fs implies it, and entries as the tree holds them
      expect(rep.blocksCount - rep.freeBlocks).toBeGreaterThan(0);
      expect(rep.files).toBe(5); // regular-file inodes: hello.txt and hard are one
    });
  }
});

describe.skipIf(missing({ tools: ['mkfs.fat', 'fsck.fat', 'fatlabel', 'mcopy'] }))(
  'FAT12/16/32: inspect agrees with fsck.fat -v and fatlabel',
  () => {
    for (const [bits, sizeKb, opts] of [
      [12, 1440, ['-n', 'FLOPPY', '-i', '0a0b0c0d']],
      [16, 32768, ['-s', '8', '-n', 'SIXTEEN', '-i', 'deadbeef']],
      [32, 70000, ['-s', '1', '-i', '01234567']],
    ] as const) {
      it(`FAT${bits} ${opts.join(' ')}`, async () => {
        const img = join(dir, `fat${bits}.img`);
        execFileSync('mkfs.fat', ['-C', '-F', String(bits), ...opts, img, String(sizeKb)], { stdio: 'ignore' });
        execFileSync('mcopy', ['-s', '-i', img, join(src, 'etc'), join(src, 'hello.txt'), '::'], {
          env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
        });
        const rep = await inspect(img);
        const v = run('fsck.fat', ['-v', '-n', img]).stdout;
        const m = (re: RegExp) => {
          const r = re.exec(v);
          expect(r, String(re)).not.toBeNull();
          return r!;
        };
        expect(rep.kind).toBe(`fat${bits}`);
        expect(`fat${m(/(\d+) FATs, (\d+) bit entries/)[2]}`).toBe(rep.kind);
        expect(rep.fatCount).toBe(Number(m(/(\d+) FATs,/)[1]));
        expect(rep.sectorSize).toBe(Number(m(/(\d+) bytes per logical sector/)[1]));
        expect(rep.clusterSize).toBe(Number(m(/(\d+) bytes per cluster/)[1]));
        expect(rep.reservedSectors).toBe(Number(m(/(\d+) reserved sectors?\b/)[1]));
        expect(rep.fatSectors).toBe(Number(m(/bytes per FAT \(= (\d+) sectors\)/)[1]));
        expect(rep.hiddenSectors).toBe(Number(m(/(\d+) hidden sectors/)[1]));
        expect(rep.totalSectors).toBe(Number(m(/(\d+) sectors total/)[1]));
        expect(rep.media).toBe(parseInt(m(/Media byte 0x([0-9a-f]+)/)[1], 16));
        expect(rep.oemName).toBe(m(/System ID "([^"]*)"/)[1]);
        if (bits !== 32) expect(rep.rootEntries).toBe(Number(m(/(\d+) root directory entries/)[1]));
        expect(rep.clusters).toBe(Number(m(/(\d+) data clusters/)[1]));
        const [, used, total] = m(/: \d+ files, (\d+)\/(\d+) clusters/);
        expect(rep.clusters).toBe(Number(total));
        expect(rep.freeClusters).toBe(Number(total) - Number(used));
        expect(rep.label).toBe(
          run('fatlabel', [img]).stdout.trim() === 'NO NAME' ? '' : run('fatlabel', [img]).stdout.trim(),
        );
        expect(rep.volumeIdString.replace('-', '').toLowerCase()).toBe(
          run('fatlabel', ['-i', img]).stdout.trim().toLowerCase(),
        );
        expect(rep.volumeIdString.replace('-', '').toLowerCase()).toBe(opts[opts.indexOf('-i') + 1]);
      });
    }
  },
);

describe.skipIf(missing({ tools: ['cpio'] }))('cpio: ls -lR agrees with cpio -tvn', () => {
  it('names, modes, links, owners, sizes, device numbers and link targets', async () => {
    const a = join(dir, 'a.cpio');
    execFileSync('sh', ['-c', `cd "${src}" && find . | cpio -o -H newc --quiet > "${a}"`]);
    const gnu = run('sh', ['-c', `cpio -tvn --quiet < "${a}"`])
      .stdout.trim()
      .split('\n')
      .filter((l) => !/ \.$/.test(l));
    // mode nlink uid gid size-or-dev month day time name [-> target]
    const parse = (l: string) => {
      const m = /^(\S{10})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+,\s*\d+|\d+)\s+\S+\s+\d+\s+\S+\s+(.*)$/.exec(l)!;
      expect(m, l).not.toBeNull();
      const [name, target] = m[6]!.split(' -> ');
      return {
        name: name!.replace(/^\.\//, ''),
        mode: m[1],
        nlink: Number(m[2]),
        uid: Number(m[3]),
        gid: Number(m[4]),
        size: m[5]!.replace(/\s+/g, ' '),
        target,
      };
    };
    const theirs = new Map(gnu.map(parse).map((e) => [e.name, e]));
    const out = await cli('ls', '-lR', a);
    const ours = out
      .trim()
      .split('\n')
      .map((l) => {
        const m = /^(\S{10})\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+,\s*\d+|\d+)\s+\S+ \S+ (\/.*)$/.exec(l)!;
        expect(m, l).not.toBeNull();
        const [name, target] = m[6]!.split(' -> ');
        return {
          name: name!.slice(1),
          mode: m[1],
          nlink: Number(m[2]),
          uid: Number(m[3]),
          gid: Number(m[4]),
          size: m[5]!.replace(/\s+/g, ' '),
          target,
        };
      });
    expect(ours.map((e) => e.name).sort()).toEqual([...theirs.keys()].sort());
    // GNU cpio stores a hard-link group's data with its last member: the others list size 0
    const groupSize = new Map<string, string>();
    for (const e of theirs.values())
      if (e.nlink > 1 && e.mode.startsWith('-') && e.size !== '0') groupSize.set(`${e.mode}`, e.size);
    for (const e of ours) {
      const t = theirs.get(e.name)!;
      expect({ ...e, size: e.size }, e.name).toEqual({
        ...t,
        size: t.nlink > 1 && t.mode.startsWith('-') ? e.size : t.size,
      });
      if (t.nlink > 1 && t.mode.startsWith('-')) expect(groupSize.get(t.mode)).toBe(e.size);
    }
    expect(ours.find((e) => e.name === 'suid')!.mode).toBe('-rwsr-xr-x');
    expect(ours.find((e) => e.name === 'sticky')!.mode).toBe('drwxrwxrwt');
    if (IS_ROOT) {
      expect(ours.find((e) => e.name === 'null')!.size).toBe('1, 3');
      expect(ours.find((e) => e.name === 'owned')).toMatchObject({ uid: 1234, gid: 5678 });
      expect(ours.find((e) => e.name === 'link')).toMatchObject({ uid: 42, gid: 43, target: 'hello.txt' });
    }
    // and the JSON listing carries the same facts
    const js = JSON.parse(await cli('ls', '-R', '--json', a)) as Array<Record<string, any>>;
    expect(js.find((e) => e.path === '/dangling')).toMatchObject({ type: 'symlink', target: '/nowhere/at/all' });
    expect(js.find((e) => e.path === '/hard')).toMatchObject({ type: 'file', size: 6, links: 2 });
  });
});

describe.skipIf(missing({ tools: ['mke2fs', 'cpio'] }))(
  'diff: a host directory against the images the classic tools made of it',
  () => {
    it('mke2fs -d adds only lost+found, which is not a difference by default; GNU cpio adds nothing', async () => {
      const img = join(dir, 'diff.ext4');
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, img, '16M'], { stdio: 'ignore' });
      const c = capture();
      expect(await main(['diff', src, img], c), c.out()).toBe(0);
      const o = capture();
      expect(await main(['diff', '--owned-entries', src, img], o)).toBe(1);
      expect(o.out()).toBe('+ /lost+found (dir)\n');
      const j = capture();
      expect(await main(['diff', '--json', '--owned-entries', img, src], j)).toBe(1);
      expect(JSON.parse(j.out())).toEqual([{ path: '/lost+found', change: 'removed', type: 'dir' }]);
      const a = join(dir, 'diff.cpio');
      execFileSync('sh', ['-c', `cd "${src}" && find . | cpio -o -H newc --quiet > "${a}"`]);
      const d = capture();
      expect(await main(['diff', src, a], d), d.out()).toBe(0);
      expect(await main(['diff', a, img], capture())).toBe(0);
      expect(await main(['diff', '--owned-entries', a, img], capture())).toBe(1);
    });
  },
);
