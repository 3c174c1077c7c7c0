/**
 * The CLI surface of sources, repack, convert and containers (issues 15, 17,
 * 19), checked by independent tools: GNU tar (-t, and -x as root compared
 * with the source), e2fsck, unsquashfs, cpio -it, qemu-img check/compare,
 * umoci for an OCI layout. One small tree, built once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { isDisk, openImage } from '../../src/node/open.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { loadSpec } from '../../src/node/build/load.js';
import { cliBundle, runCli } from '../helpers/cli.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { BUSYBOX_SOURCE } from '../bios/disk.js';
import { buildBusybox } from '../../src/node/toolchain/index.js';
import { tmpDir, type TmpDir } from '../helpers/tmp.js';

const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;
const EPOCH = '1700000000';
const env = { SOURCE_DATE_EPOCH: EPOCH };

let t: TmpDir;
let src: string;
let tgz: string;
const at = (p: string) => t.path(p);

/** `tinyimage ...` that must succeed; returns stdout. */
async function ok(argv: string[], stdin?: Uint8Array): Promise<string> {
  const r = await runCli(argv, env, stdin ? { stdin } : {});
  expect(r.code, `${argv.join(' ')}\n${r.stderr}`).toBe(0);
  return r.stdout;
}

/** The tree of an image or source as our reader sees it, compared with the source directory. */
async function expectSameAsSource(image: string, opts: { owners?: boolean } = {}): Promise<void> {
  const img = await openImage(image);
  try {
    if (isDisk(img)) throw new Error(`${image} is a disk`);
    const d = await diffTrees(treeFromHostDir(src), img.tree, {
      ignore: ['/lost+found'],
      ...(opts.owners === false ? { ignoreFields: ['uid', 'gid'] } : {}),
    });
    expect(formatDiff(d)).toBe('');
  } finally {
    img.close();
  }
}

beforeAll(() => {
  t = tmpDir('tinyimage-repack-');
  src = at('src');
  mkdirSync(join(src, 'etc'), { recursive: true });
  mkdirSync(join(src, 'bin'));
  mkdirSync(join(src, 'var/empty'), { recursive: true });
  writeFileSync(join(src, 'etc/hostname'), 'tiny\n');
  writeFileSync(join(src, 'etc/old'), 'removed by the overlay\n');
  writeFileSync(join(src, 'bin/busybox'), Buffer.alloc(300_000, 7));
  chmodSync(join(src, 'bin/busybox'), 0o4755);
  symlinkSync('busybox', join(src, 'bin/sh'));
  tgz = at('rootfs.tar.gz');
  execFileSync('tar', ['--format=posix', '-C', src, '-czf', tgz, '.']);
  // an overlay directory: a new file, a changed one and a whiteout deleting /etc/old
  mkdirSync(at('overlay/etc'), { recursive: true });
  writeFileSync(at('overlay/etc/hostname'), 'overlaid\n');
  writeFileSync(at('overlay/etc/new'), 'new\n');
  writeFileSync(at('overlay/etc/.wh.old'), '');
});
afterAll(() => t.cleanup());

describe('repack: any source to any format, checked by the independent tools', () => {
  it.skipIf(missing({ tools: ['e2fsck', 'tar'] }))(
    'a .tar.gz to ext4 (e2fsck clean, same tree) and back to tar (GNU tar)',
    async () => {
      await ok(['repack', tgz, '-o', at('r.ext4'), '-q']);
      const f = run('e2fsck', ['-fn', at('r.ext4')]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      await expectSameAsSource(at('r.ext4'));
      await ok(['repack', at('r.ext4'), '-o', at('r.tar'), '-q']);
      const list = run('tar', ['-tvf', at('r.tar')]).stdout;
      expect(list).toMatch(/-rwsr-xr-x \S+ +300000 .* bin\/busybox\n/);
      expect(list).toMatch(/lrwxrwxrwx .* bin\/sh -> busybox\n/);
      expect(list).toMatch(/ 2023-11-14 22:13 etc\/hostname\n/);
      if (IS_ROOT) {
        mkdirSync(at('x'));
        run('tar', ['-xpf', at('r.tar'), '-C', at('x')]);
        // every field but mtime (SOURCE_DATE_EPOCH clamped them all down to it)
        const d = await diffTrees(treeFromHostDir(src), treeFromHostDir(at('x')), { ignore: ['/lost+found'] });
        expect(formatDiff(d)).toBe('');
      }
    },
  );

  it.skipIf(missing({ tools: ['unsquashfs', 'cpio'] }))(
    'to squashfs (unsquashfs) and to cpio.gz (cpio -it)',
    async () => {
      await ok(['repack', tgz, '-o', at('r.sqfs'), '-q']);
      const s = run('unsquashfs', ['-s', at('r.sqfs')]);
      expect(s.code, s.stderr).toBe(0);
      expect(s.stdout).toMatch(/Compression gzip/);
      expect(run('unsquashfs', ['-lln', at('r.sqfs')]).stdout).toMatch(/-rwsr-xr-x .* squashfs-root\/bin\/busybox/);
      await expectSameAsSource(at('r.sqfs'));
      await ok(['repack', tgz, '-o', at('r.cpio.gz'), '-q']);
      const names = execFileSync('sh', ['-c', `gzip -dc "${at('r.cpio.gz')}" | cpio -it --quiet`], {
        encoding: 'utf8',
      });
      expect(names.split('\n')).toEqual(expect.arrayContaining(['etc/hostname', 'bin/busybox', 'bin/sh']));
    },
  );

  it.skipIf(missing({ tools: ['xorriso'] }))(
    'to .iso (xorriso lists Rock Ridge modes and the symlink; same tree back)',
    async () => {
      await ok(['repack', tgz, '-o', at('r.iso'), '-q']);
      const r = run('xorriso', ['-indev', at('r.iso'), '-find', '/', '-exec', 'lsdl', '--']);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/-rwsr-xr-x .* 300000 .*'\/bin\/busybox'/);
      expect(r.stdout).toMatch(/lrwxrwxrwx .*'\/bin\/sh' -> 'busybox'/);
      await expectSameAsSource(at('r.iso'));
    },
  );

  it.skipIf(missing({ tools: ['fsck.erofs'] }))('to .erofs (fsck.erofs clean; same tree back)', async () => {
    await ok(['repack', tgz, '-o', at('r.erofs'), '-q']);
    const r = run('fsck.erofs', [at('r.erofs')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    await expectSameAsSource(at('r.erofs'));
  });

  it.skipIf(missing({ tools: ['zstd', 'tar'] }))(
    'to .tar.zst: zstd -t, GNU tar lists it, we read it back',
    async () => {
      // small frames, so the archive is several zstd frames one after another
      await ok(['repack', tgz, '-o', at('r.tar.zst'), '--level', '19', '-q']);
      expect(run('zstd', ['-t', '-q', at('r.tar.zst')]).code).toBe(0);
      const list = run('tar', ['--zstd', '-tf', at('r.tar.zst')]).stdout.split('\n');
      expect(list).toEqual(expect.arrayContaining(['./', 'etc/hostname', 'bin/busybox', 'bin/sh']));
      expect((await runCli(['diff', src, at('r.tar.zst')])).code).toBe(0);
      const big = new Uint8Array(9 << 20).map((_, i) => (i % 4093) & 0xff);
      const { zstdChunks } = await import('../../src/core/compress/zstd.js');
      const parts: Uint8Array[] = [];
      for await (const c of zstdChunks([big.subarray(0, 5 << 20), big.subarray(5 << 20)], { frameSize: 1 << 20 }))
        parts.push(c);
      expect(parts.length).toBe(9);
      const back = execFileSync('zstd', ['-dc'], { input: Buffer.concat(parts), maxBuffer: 1 << 26 });
      expect(Buffer.compare(back, big)).toBe(0);
    },
  );

  it('the same source gives the same bytes (SOURCE_DATE_EPOCH)', async () => {
    await ok(['repack', tgz, '-o', at('a.sqfs'), '-q']);
    await ok(['repack', tgz, '-o', at('b.sqfs'), '-q']);
    expect(readFileSync(at('a.sqfs')).equals(readFileSync(at('b.sqfs')))).toBe(true);
  });

  it('stacks: --root a.tar.gz --root overlay/ (later wins, the whiteout deletes)', async () => {
    await ok(['mkfs', 'ext4', '--root', tgz, '--root', at('overlay'), '-o', at('s.img'), '-q']);
    const out = await ok(['ls', '-R', at('s.img'), '/etc']);
    expect(out.trim().split('\n')).toEqual(['/etc/hostname', '/etc/new']);
    expect(await ok(['cat', at('s.img'), '/etc/hostname'])).toBe('overlaid\n');
    // repack stacks its positional sources the same way
    await ok(['repack', tgz, at('overlay'), '-o', at('s.tar'), '-q']);
    expect(await ok(['cat', at('s.tar'), '/etc/new'])).toBe('new\n');
    expect((await runCli(['cat', at('s.tar'), '/etc/old'])).code).toBe(1);
  });

  it('reads standard input (-) once, and refuses it twice', async () => {
    const bytes = new Uint8Array(readFileSync(tgz));
    expect(await ok(['cat', '-', '/etc/hostname'], bytes)).toBe('tiny\n');
    await ok(['repack', '-', '-o', at('stdin.cpio'), '-q'], bytes);
    expect(await ok(['cat', at('stdin.cpio'), '/etc/hostname'])).toBe('tiny\n');
    const r = await runCli(['repack', '-', '-', '-o', at('never.tar')], env, { stdin: bytes });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/standard input can be read only once/);
  });

  it.skipIf(missing({ tools: ['tar', 'bash'] }))('-o - streams a tar into a pipe', async () => {
    const bin = await cliBundle(t.dir);
    const sh = `"${process.execPath}" "${bin}" repack "${tgz}" --to tar -o - | tar -t`;
    const r = spawnSync('bash', ['-c', `set -o pipefail; ${sh}`], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.split('\n')).toEqual(expect.arrayContaining(['./', 'etc/hostname', 'bin/busybox']));
    expect(r.stderr).toMatch(/^tinyimage: wrote tar to standard output: /m);
  });

  it('--to: from the name where it says, else required; contradictions and impossible outputs are usage errors', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['-o', at('x.bin')], /cannot tell the format from the name .*x\.bin: give --to \(tar, tar\.gz, tar\.zst/],
      [['-o', '-'], /cannot tell the format from standard output: give --to/],
      [['-o', at('x.tar'), '--to', 'ext4'], /--to ext4 does not match the output name .*x\.tar \(which says tar\)/],
      [['-o', at('x.tar.gz'), '--level', '12'], /--level 12: gzip levels go from 1 to 9/],
      [['-o', '-', '--to', 'ext4'], /-o - \(standard output\) is not possible for ext4/],
      [['-o', at('x.qcow2'), '--to', 'tar'], /--format qcow2 holds a disk or filesystem image .* not tar/],
      [['-o', at('x.qcow2')], /cannot tell the format from the name .*x\.qcow2: give --to/],
      [['-o', at('x.tar'), '--size', '1M'], /--size and --label are for ext2\/3\/4 and FAT images, not tar/],
      [['-o', at('x.img'), '--to', 'ext4', '--format', 'vhd', '--subformat', 'streamOptimized'], /not a vhd subformat/],
    ];
    for (const [argv, re] of cases) {
      const r = await runCli(['repack', tgz, ...argv], env);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.stderr, argv.join(' ')).toMatch(re);
    }
    expect(readdirSync(t.dir).filter((n) => n.startsWith('x.') || n.startsWith('.x.'))).toEqual([]);
    // names that say it: .tgz, .cpio, .squashfs, .ext2
    for (const [name, kind] of [
      ['n.tgz', 'tar'],
      ['n.cpio', 'cpio'],
      ['n.squashfs', 'squashfs'],
      ['n.ext2', 'ext2'],
    ] as const) {
      const r = await runCli(['repack', tgz, '-o', at(name), '--json', '-q'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).details.format).toBe(name === 'n.tgz' ? 'tar.gz' : kind);
    }
  });
});

describe('containers: mkfs --format, convert', () => {
  it.skipIf(missing({ tools: ['qemu-img', 'e2fsck'] }))(
    'mkfs ext4 --format qcow2: qemu-img check clean, the same ext4 inside',
    async () => {
      const r = await runCli(['mkfs', 'ext4', '--root', tgz, '--format', 'qcow2', '-o', at('m.qcow2'), '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      const j = JSON.parse(r.stdout);
      expect(j.wrote).toBe('ext4 in qcow2');
      expect(j.details.container.format).toBe('qcow2');
      const c = run('qemu-img', ['check', at('m.qcow2')]);
      expect(c.code, c.stdout + c.stderr).toBe(0);
      expect(c.stdout).toMatch(/No errors were found/);
      await expectSameAsSource(at('m.qcow2'));
      // the raw image the same options write is what the container holds
      await ok(['mkfs', 'ext4', '--root', tgz, '-o', at('m.img'), '-q']);
      expect(run('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', at('m.img'), at('m.qcow2')]).stdout).toContain(
        'Images are identical',
      );
      run('qemu-img', ['convert', '-O', 'raw', at('m.qcow2'), at('m.back')]);
      const f = run('e2fsck', ['-fn', at('m.back')]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      // the name says the format: no --format needed, and a contradiction is refused
      await ok(['mkfs', 'squashfs', '--root', tgz, '-o', at('q.vmdk'), '-q']);
      expect(run('qemu-img', ['info', at('q.vmdk')]).stdout).toMatch(/file format: vmdk/);
      await expectSameAsSource(at('q.vmdk'));
      const bad = await runCli(['mkfs', 'fat32', '--root', src, '--format', 'vhd', '-o', at('x.qcow2')], env);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/--format vhd does not match the output name .*x\.qcow2: name it .*x\.vhd/);
    },
  );

  it.skipIf(missing({ tools: ['qemu-img'] }))(
    'convert: raw to every container and back, qemu-img compare identical',
    async () => {
      await ok(['mkfs', 'ext4', '--root', src, '-o', at('c.img'), '--size', '16M', '-q']);
      for (const [out, extra, qfmt] of [
        ['c.qcow2', [], 'qcow2'],
        ['cz.qcow2', ['--compress'], 'qcow2'],
        ['c.vhd', ['--subformat', 'fixed'], 'vpc'],
        ['d.vhd', [], 'vpc'],
        ['c.vmdk', ['--subformat', 'streamOptimized'], 'vmdk'],
        ['c.simg', [], ''],
      ] as const) {
        await ok(['convert', at('c.img'), '-o', at(out), '-q', ...extra]);
        if (qfmt) {
          const cmp = run('qemu-img', ['compare', '-f', 'raw', '-F', qfmt, at('c.img'), at(out)]);
          expect(cmp.stdout, out).toContain('Images are identical');
        }
        if (qfmt === 'qcow2') expect(run('qemu-img', ['check', at(out)]).code).toBe(0);
        // and back to raw: the same bytes
        await ok(['convert', at(out), '-o', at(`${out}.raw`), '-q']);
        expect(readFileSync(at(`${out}.raw`)).equals(readFileSync(at('c.img'))), out).toBe(true);
      }
      const r = await runCli(['convert', at('c.img'), '-o', at('x.vhd'), '--compress'], env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/--compress is for qcow2/);
    },
  );
});

describe('reading commands take any source', () => {
  it('ls, cat, diff and inspect on a .tar.gz', async () => {
    expect(await ok(['ls', tgz, '/bin'])).toBe('busybox\nsh\n');
    expect(await ok(['cat', tgz, '/etc/hostname'])).toBe('tiny\n');
    expect((await runCli(['diff', src, tgz])).code).toBe(0);
    const d = await runCli(['diff', tgz, at('overlay')]);
    expect(d.code).toBe(1);
    const j = JSON.parse(await ok(['inspect', '--json', tgz]));
    expect(j).toMatchObject({ kind: 'tar', codec: 'gzip', entries: 9, files: 3 });
    mkdirSync(at('ex'));
    await ok(['extract', tgz, at('ex'), '-q']);
    expect(readFileSync(at('ex/etc/hostname'), 'utf8')).toBe('tiny\n');
  });

  const noOci = !IS_ROOT ? 'umoci needs root here' : missing({ tools: ['umoci'] });
  it.skipIf(noOci)(
    'ls, cat and diff on an oci: layout made by umoci; a disk spec from a tarball and the layout',
    async () => {
      const oci = at('oci');
      run('umoci', ['init', '--layout', oci]);
      run('umoci', ['new', '--image', `${oci}:v1`]);
      run('umoci', ['unpack', '--image', `${oci}:v1`, at('bundle')]);
      execFileSync('cp', ['-a', `${src}/.`, at('bundle/rootfs')]);
      const rp = run('umoci', ['repack', '--image', `${oci}:v1`, at('bundle')]);
      expect(rp.code, rp.stderr).toBe(0);
      expect(await ok(['cat', `oci:${oci}:v1`, '/etc/hostname'])).toBe('tiny\n');
      expect(await ok(['ls', `oci:${oci}:v1`, '/bin'])).toBe('busybox\nsh\n');
      const d = await runCli(['diff', src, `oci:${oci}:v1`]);
      expect(d.stdout + d.stderr).toBe('');
      expect(d.code).toBe(0);

      writeFileSync(
        at('disk.yaml'),
        [
          'disk:',
          '  table: gpt',
          '  partitions:',
          '    - { type: esp, size: fit, fs: fat32, root: rootfs.tar.gz, label: ESP }',
          `    - { type: linux, size: fit, fs: ext4, root: [ { oci: oci, tag: v1 }, { dir: overlay } ] }`,
          '  format: qcow2',
        ].join('\n') + '\n',
      );
      const b = await runCli(['build', at('disk.yaml'), '-o', at('built'), '--json'], env);
      expect(b.code, b.stderr).toBe(0);
      expect(existsSync(at('built/disk.qcow2'))).toBe(true);
      if (!missing({ tools: ['qemu-img'] })) expect(run('qemu-img', ['check', at('built/disk.qcow2')]).code).toBe(0);
      expect(await ok(['cat', `${at('built/disk.qcow2')}:1`, '/etc/hostname'])).toBe('tiny\n');
      expect(await ok(['cat', `${at('built/disk.qcow2')}:2`, '/etc/hostname'])).toBe('overlaid\n');
      expect(await ok(['ls', `${at('built/disk.qcow2')}:2`, '/etc'])).toBe('hostname\nnew\n');
    },
  );
});

describe('specs', () => {
  it('rootfs as a list is rootfs.from and keeps the preset; disk.format and its name agree', () => {
    writeFileSync(
      at('bios.yaml'),
      'preset: bios\nrootfs: [ rootfs.tar.gz, { dir: overlay } ]\ndisk: { format: vmdk }\n',
    );
    const { spec } = loadSpec({ file: at('bios.yaml') });
    expect(spec.rootfs?.hostname).toBe('tiny');
    expect(spec.rootfs?.from).toEqual([tgz, { dir: at('overlay') }]);
    expect(spec.disk?.format).toBe('vmdk');
    expect(() => loadSpec({ file: at('bios.yaml'), overrides: { disk: { format: 'zip' } } })).toThrow(
      /disk\.format: expected one of 'raw', 'qcow2'/,
    );
  });
});

describe('the bios kind from sources (rootfs list) written as qcow2', () => {
  const k = debianKernel();
  const skip = missing({
    tools: ['grub-mkimage', 'qemu-img', 'e2fsck', 'make'],
    files: [k.vmlinuz, BUSYBOX_SOURCE, '/usr/lib/grub/i386-pc/boot.img'],
  });
  it.skipIf(skip)(
    'a tarball and an overlay (whiteout deleting /etc/motd) over the recipe, in out/disk.qcow2',
    async () => {
      const bb = await buildBusybox({ source: BUSYBOX_SOURCE, config: 'defconfig', quiet: true });
      mkdirSync(at('bios-overlay/etc'), { recursive: true });
      writeFileSync(at('bios-overlay/etc/.wh.motd'), '');
      writeFileSync(at('bios-overlay/etc/added'), 'added\n');
      writeFileSync(at('bios.yaml'), 'preset: bios\nrootfs: [ rootfs.tar.gz, { dir: bios-overlay } ]\n');
      const argv = ['build', at('bios.yaml'), '--kernel', k.vmlinuz, '--busybox', bb.binary, '--format', 'qcow2'];
      const r = await runCli([...argv, '-o', at('bios-out'), '--json'], env);
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout).details.outputs.map((o: { name: string }) => o.name)).toEqual(['disk.qcow2']);
      const qcow2 = at('bios-out/disk.qcow2');
      const c = run('qemu-img', ['check', qcow2]);
      expect(c.code, c.stdout + c.stderr).toBe(0);
      run('qemu-img', ['convert', '-O', 'raw', qcow2, at('bios.raw')]);
      const img = await openImage(`${at('bios.raw')}:1`);
      try {
        if (isDisk(img)) throw new Error('a disk');
        const text = async (p: string) => new TextDecoder().decode(await img.readFile(p));
        expect(await text('/etc/added')).toBe('added\n');
        expect(img.exists('/etc/motd')).toBe(false);
        // the tarball's files over the recipe's: /etc/old and /bin/busybox come from it
        expect(await text('/etc/old')).toBe('removed by the overlay\n');
        const bbNode = img.lstat('/bin/busybox');
        expect(bbNode.type === 'file' && bbNode.content.size).toBe(300_000);
        expect(img.exists('/etc/inittab')).toBe(true);
        expect(img.exists('/boot/grub/grub.cfg')).toBe(true);
        const f = run('e2fsck', ['-fn', `${at('bios.raw')}?offset=${img.offset}`]);
        expect(f.code, f.stdout + f.stderr).toBe(0);
      } finally {
        img.close();
      }
    },
    300_000,
  );
});
