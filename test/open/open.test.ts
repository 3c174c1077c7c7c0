import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, symlinkSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isDisk, openImage } from '../../src/node/open.js';
import { detect } from '../../src/core/open/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { missing, run } from '../helpers/prereq.js';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';

const skip = missing({ tools: ['mke2fs', 'mkfs.fat', 'mcopy', 'sfdisk', 'cpio', 'dumpe2fs', 'fsck.fat', 'blkid'] });

describe.skipIf(skip)('openImage on images made by the classic tools', () => {
  let dir = '';
  let src = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ti-open-'));
    src = join(dir, 'src');
    mkdirSync(join(src, 'etc'), { recursive: true });
    writeFileSync(join(src, 'etc/inittab'), '::sysinit:/etc/init.d/rcS\n');
    writeFileSync(join(src, 'hello.txt'), 'hello\n');
    symlinkSync('hello.txt', join(src, 'link'));
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', src, join(dir, 'root.ext4'), '8M']);
    execFileSync('mkfs.fat', ['-C', join(dir, 'esp.fat'), '4096'], { stdio: 'ignore' });
    execFileSync('mcopy', ['-s', '-i', join(dir, 'esp.fat'), join(src, 'etc'), join(src, 'hello.txt'), '::'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    execFileSync('sh', [
      '-c',
      `cd "${src}" && find . | cpio -o -H newc --quiet > "${dir}/a.cpio" && gzip -k "${dir}/a.cpio"`,
    ]);
    // a disk: MBR, partition 1 FAT (from esp.fat), partition 2 ext4 (from root.ext4)
    const disk = join(dir, 'disk.img');
    execFileSync('truncate', ['-s', '20M', disk]);
    execFileSync('sfdisk', ['-q', disk], {
      input: 'label: dos\nlabel-id: 0x12345678\nstart=2048, size=8192, type=c\nstart=10240, size=16384, type=83\n',
    });
    execFileSync('dd', [
      `if=${join(dir, 'esp.fat')}`,
      `of=${disk}`,
      'bs=512',
      'seek=2048',
      'conv=notrunc',
      'status=none',
    ]);
    execFileSync('dd', [
      `if=${join(dir, 'root.ext4')}`,
      `of=${disk}`,
      'bs=512',
      'seek=10240',
      'conv=notrunc',
      'status=none',
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('detects each format', () => {
    for (const [f, k] of [
      ['root.ext4', 'ext4'],
      ['esp.fat', 'fat12'],
      ['a.cpio', 'cpio'],
      ['a.cpio.gz', 'cpio.gz'],
      ['disk.img', 'mbr'],
    ] as const) {
      const bytes = readFileSync(join(dir, f));
      expect(detect(new MemoryDevice(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length))), f).toBe(k);
    }
  });

  it('calls an ext filesystem what blkid and the reader call it', async () => {
    for (const [name, args] of [
      ['plain.ext2', ['-t', 'ext2']],
      ['plain.ext3', ['-t', 'ext3']],
      // ext3's layout (no extents, 64bit or flex_bg) with metadata_csum: blkid says ext4
      ['csum.ext3', ['-t', 'ext3', '-O', 'metadata_csum']],
    ] as const) {
      const path = join(dir, name);
      execFileSync('mke2fs', ['-q', '-F', ...args, path, '4M']);
      const blkid = /(?:^|\s)TYPE="([^"]+)"/.exec(run('blkid', ['-p', path]).stdout)?.[1];
      const bytes = readFileSync(path);
      const kind = detect(new MemoryDevice(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length)));
      const img = await openImage(path);
      img.close();
      expect(kind, name).toBe(blkid);
      expect(img.kind, name).toBe(blkid);
    }
  });

  it('opens filesystems and archives with the same view', async () => {
    for (const f of ['root.ext4', 'esp.fat', 'a.cpio', 'a.cpio.gz']) {
      const img = await openImage(join(dir, f));
      try {
        if (isDisk(img)) throw new Error('disk?');
        expect(new TextDecoder().decode(await img.readFile('/hello.txt')), f).toBe('hello\n');
        expect(img.readdir('/etc'), f).toContain(f.endsWith('fat') ? 'inittab' : 'inittab');
        if (!f.endsWith('fat')) {
          expect(img.readlink('/link')).toBe('hello.txt');
          expect(new TextDecoder().decode(await img.readFile('/link'))).toBe('hello\n');
        }
      } finally {
        img.close();
      }
    }
  });

  it('nests partitions and agrees with sfdisk --json', async () => {
    const disk = await openImage(join(dir, 'disk.img'));
    try {
      if (!isDisk(disk)) throw new Error('not a disk');
      const sf = JSON.parse(run('sfdisk', ['--json', join(dir, 'disk.img')]).stdout).partitiontable;
      expect(disk.table.diskId).toBe(sf.id.replace(/^0x/, ''));
      expect(disk.partitions.map((p) => [p.offset / 512, p.size / 512])).toEqual(
        sf.partitions.map((p: { start: number; size: number }) => [p.start, p.size]),
      );
      expect(disk.partitions.map((p) => p.fs?.kind)).toEqual(['fat12', 'ext4']);
    } finally {
      disk.close();
    }
    const p2 = await openImage(join(dir, 'disk.img') + ':2');
    try {
      if (isDisk(p2)) throw new Error('disk?');
      expect(new TextDecoder().decode(await p2.readFile('/etc/inittab'))).toMatch(/sysinit/);
    } finally {
      p2.close();
    }
    await expect(openImage(join(dir, 'disk.img') + ':7')).rejects.toThrow(/has no partition 7 \(it has 1, 2\)/);
  });

  it('inspect agrees with dumpe2fs -h and ls agrees with cpio -tv', async () => {
    const c = capture();
    expect(await main(['inspect', '--json', join(dir, 'root.ext4')], c)).toBe(0);
    const rep = JSON.parse(c.out());
    const dump = run('dumpe2fs', ['-h', join(dir, 'root.ext4')]).stdout;
    const field = (n: string) => new RegExp(`^${n}:\\s+(.*)$`, 'm').exec(dump)![1]!.trim();
    expect(rep.blockSize).toBe(Number(field('Block size')));
    expect(rep.blocksCount).toBe(Number(field('Block count')));
    expect(rep.freeBlocks).toBe(Number(field('Free blocks')));
    expect(rep.inodesCount).toBe(Number(field('Inode count')));
    expect(rep.uuid).toBe(field('Filesystem UUID'));
    expect([...rep.features].sort()).toEqual(field('Filesystem features').split(/\s+/).sort());

    const l = capture();
    expect(await main(['ls', '-R', join(dir, 'a.cpio')], l)).toBe(0);
    const ours = l
      .out()
      .trim()
      .split('\n')
      .map((p) => p.replace(/^\//, ''))
      .sort();
    const gnu = run('sh', ['-c', `cpio -t --quiet < "${dir}/a.cpio"`])
      .stdout.trim()
      .split('\n')
      .filter((p) => p !== '.')
      .sort();
    expect(ours).toEqual(gnu);
  });

  it('fails with typed errors on garbage and wrong references', async () => {
    writeFileSync(join(dir, 'junk'), Buffer.alloc(8192, 0x41));
    await expect(openImage(join(dir, 'junk'))).rejects.toThrow(expect.objectContaining({ code: 'E_FORMAT_UNKNOWN' }));
    await expect(openImage(join(dir, 'root.ext4') + ':1')).rejects.toThrow(
      expect.objectContaining({ code: 'E_USAGE_NOT_DISK' }),
    );
    const c = capture();
    expect(await main(['cat', join(dir, 'disk.img'), '/x'], c)).toBe(2);
    expect(c.err()).toMatch(/partitioned disk; name a partition/);
  });
});
