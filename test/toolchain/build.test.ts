/**
 * Real builds from the source tarballs (scripts/fetch-sources.sh). Slow: run
 * locally with TINYIMAGE_SLOW=1; always in CI (a missing tarball fails there).
 * One build at a time (the tests in this file run sequentially).
 */
import { describe, expect, it } from 'vitest';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CACHE, IN_CI, REPO, missing, run as runSync } from '../helpers/prereq.js';
import { runCli } from '../helpers/cli.js';
import { buildBusybox } from '../../src/node/toolchain/busybox.js';
import { buildKernel } from '../../src/node/toolchain/kernel.js';
import { parseDotConfig } from '../../src/node/toolchain/kconfig.js';
import { ToolError } from '../../src/core/errors.js';

const SLOW = IN_CI || process.env.TINYIMAGE_SLOW === '1';
const SOURCES = process.env.TINYIMAGE_SOURCES ?? join(REPO, '.cache', 'sources');
const KTAR = join(SOURCES, 'linux-source-6.1.tar.xz');
const BBTAR = join(SOURCES, 'busybox_1.35.0.orig.tar.bz2');
const TC_CACHE = join(CACHE, 'toolchain');
/** `tinyimage ARGV --cache TC_CACHE -q -o OUT` with SOURCE_DATE_EPOCH=0, as the library builds above ran. */
const cachedCli = (argv: string[], out: string) =>
  runCli([...argv, '--cache', TC_CACHE, '-q', '-o', out], { SOURCE_DATE_EPOCH: '0' });
const MIN = 60_000;

const skip = !SLOW
  ? 'set TINYIMAGE_SLOW=1 (always on in CI)'
  : missing({
      tools: ['make', 'gcc', 'musl-gcc', 'qemu-system-x86_64', 'cpio', 'sfdisk', 'mke2fs'],
      files: [KTAR, BBTAR],
    });
if (!SLOW) console.warn('skipping toolchain builds: set TINYIMAGE_SLOW=1 (always on in CI)');

async function timed<T>(fn: () => Promise<T>): Promise<[T, number]> {
  const t0 = performance.now();
  const r = await fn();
  return [r, performance.now() - t0];
}

describe.skipIf(skip !== undefined).sequential('toolchain builds from source', () => {
  let busybox = '';
  let tinyBusybox = '';
  let diskKernel = '';
  let tinyKernel: { bzImage: string; initramfs: string } | undefined;

  it(
    'builds a static musl busybox (tiny config), cached on the second call',
    async () => {
      const opts = {
        source: BBTAR,
        config: 'tiny',
        libc: 'musl' as const,
        kernelSource: KTAR,
        cacheDir: TC_CACHE,
        jobs: 2,
        epoch: 0,
      };
      const r = await buildBusybox(opts);
      const head = readFileSync(r.binary).subarray(0, 4);
      expect([...head]).toEqual([0x7f, 0x45, 0x4c, 0x46]);
      // Independent check: file(1) says static; the binary runs on the host and lists its applets.
      expect(runSync('file', [r.binary]).stdout).toMatch(/statically linked/);
      const list = runSync(r.binary, ['--list']).stdout.split('\n');
      for (const a of ['sh', 'mount', 'setsid', 'cttyhack', 'poweroff']) expect(list).toContain(a);
      expect(list).not.toContain('httpd');
      expect(statSync(r.binary).size).toBeLessThan(600_000);
      const cfg = parseDotConfig(readFileSync(r.config, 'utf8'));
      expect(cfg.get('STATIC')).toBe('y');
      expect(cfg.get('EXTRA_CFLAGS')).toMatch(/^-isystem /);
      const [again, ms] = await timed(() => buildBusybox(opts));
      expect(again.cached).toBe(true);
      expect(again.binary).toBe(r.binary);
      expect(ms).toBeLessThan(1000);
      tinyBusybox = r.binary;
      // The CLI with the same inputs: a cache hit writing the same bytes, executable.
      const out = join(mkdtempSync(join(tmpdir(), 'tinyimage-bb-')), 'busybox');
      const bbArgs = ['--source', BBTAR, '--config', 'tiny', '--libc', 'musl', '--kernel-source', KTAR];
      const { code } = await cachedCli(['busybox', 'build', ...bbArgs], out);
      expect(code).toBe(0);
      expect(readFileSync(out).equals(readFileSync(r.binary))).toBe(true);
      expect(statSync(out).mode & 0o111).toBe(0o111);
      // Without kernelSource the host's uapi headers are used (what the spec's default does):
      // a different cache entry, a fresh link, and (reproducible build) the same bytes.
      const host = await buildBusybox({ ...opts, kernelSource: undefined });
      expect(host.key).not.toBe(r.key);
      expect(readFileSync(host.config, 'utf8')).toMatch(/CONFIG_EXTRA_CFLAGS="-isystem [^"]*headers\/host\/include"/);
      expect(readFileSync(host.binary).equals(readFileSync(r.binary))).toBe(true);
      // Its final .config as a config FILE gives the same binary again.
      const cfgFile = join(mkdtempSync(join(tmpdir(), 'tinyimage-bbcfg-')), 'bb.config');
      copyFileSync(r.config, cfgFile);
      const fromFile = await buildBusybox({ ...opts, config: cfgFile });
      expect(fromFile.key).not.toBe(r.key);
      expect(readFileSync(fromFile.binary).equals(readFileSync(r.binary))).toBe(true);
    },
    30 * MIN,
  );

  it(
    'builds a static musl busybox (defconfig) that runs',
    async () => {
      const r = await buildBusybox({
        source: BBTAR,
        config: 'defconfig',
        libc: 'musl',
        kernelSource: KTAR,
        cacheDir: TC_CACHE,
        jobs: 2,
        epoch: 0,
      });
      expect(runSync('file', [r.binary]).stdout).toMatch(/statically linked/);
      const out = runSync(r.binary, ['sh', '-c', 'echo $((6*7)) | sed s/4/X/']);
      expect(out.stdout).toBe('X2\n');
      const list = runSync(r.binary, ['--list']).stdout.split('\n');
      expect(list.length).toBeGreaterThan(300);
      expect(list).not.toContain('tc');
      busybox = r.binary;
    },
    30 * MIN,
  );

  it(
    'builds a static glibc busybox (tiny config)',
    async () => {
      const r = await buildBusybox({
        source: BBTAR,
        config: 'tiny',
        libc: 'glibc',
        cacheDir: TC_CACHE,
        jobs: 2,
        epoch: 0,
      });
      expect(runSync('file', [r.binary]).stdout).toMatch(/statically linked/);
      expect(runSync(r.binary, ['sh', '-c', 'echo ok']).stdout).toBe('ok\n');
      const cfg = parseDotConfig(readFileSync(r.config, 'utf8'));
      expect(cfg.get('EXTRA_CFLAGS')).toBe('');
    },
    30 * MIN,
  );

  it(
    'names an option that cannot be enabled and its unmet dependency',
    async () => {
      // tinyconfig has no block layer, so ext4 cannot be enabled.
      const p = buildKernel({
        source: KTAR,
        config: 'tinyconfig',
        enable: ['EXT4_FS', 'NO_SUCH_OPTION_XYZ'],
        cacheDir: TC_CACHE,
        jobs: 2,
      });
      const e = await p.then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ToolError);
      const err = e as ToolError;
      expect(err.code).toBe('E_TOOL_KCONFIG');
      expect(err.message).toMatch(/EXT4_FS: wanted y, got n: depends on BLOCK.*unmet: BLOCK \(not set\)/);
      expect(err.message).toMatch(/NO_SUCH_OPTION_XYZ: .*no such symbol/);
      // Nothing else: the defaults tinyimage adds (compression, no initramfs) apply cleanly to plain tinyconfig.
      expect((err.data.options as Array<{ name: string }>).map((o) => o.name).sort()).toEqual([
        'EXT4_FS',
        'NO_SUCH_OPTION_XYZ',
      ]);
    },
    20 * MIN,
  );

  it(
    'builds the tiny kernel with a built-in initramfs and command line; it boots under SeaBIOS and OVMF',
    async () => {
      expect(tinyBusybox).not.toBe('');
      const { tinyInitramfsTree, initramfsChunks } = await import('../../src/core/initramfs/tiny.js');
      const tree = tinyInitramfsTree({ busybox: readFileSync(tinyBusybox) });
      const parts: Uint8Array[] = [];
      for await (const c of initramfsChunks(tree, { compress: 'none' })) parts.push(c);
      const dir = mkdtempSync(join(tmpdir(), 'tinyimage-kernel-'));
      const cpio = join(dir, 'initramfs.cpio');
      writeFileSync(cpio, Buffer.concat(parts));
      // Independent check of the archive: GNU cpio lists /init and the console node.
      const listing = runSync('cpio', ['-t', '--quiet', '-F', cpio]).stdout.split('\n');
      expect(listing).toContain('init');
      expect(listing).toContain('dev/console');

      const opts = {
        source: KTAR,
        preset: 'tiny' as const,
        initramfs: cpio,
        cmdline: 'console=ttyS0',
        cacheDir: TC_CACHE,
        jobs: 2,
        epoch: 0,
      };
      const [r, buildMs] = await timed(() => buildKernel(opts));
      console.log(
        `tiny kernel: ${statSync(r.bzImage).size} bytes, ${r.cached ? 'cached' : `built in ${(buildMs / 1000).toFixed(0)} s`}`,
      );
      expect(statSync(r.bzImage).size).toBeLessThan(2_000_000);
      const cfg = parseDotConfig(readFileSync(r.config, 'utf8'));
      expect(cfg.get('INITRAMFS_SOURCE')).toMatch(/initramfs\.cpio$/);
      expect(cfg.get('INITRAMFS_COMPRESSION_XZ')).toBe('y');
      expect(cfg.get('CMDLINE')).toBe('console=ttyS0');
      expect(cfg.get('EFI_STUB')).toBe('y');
      expect(cfg.get('KERNEL_XZ')).toBe('y');
      // Independent: file(1) recognises a bzImage; the PE header is there for the EFI stub.
      expect(runSync('file', [r.bzImage]).stdout).toMatch(/Linux kernel x86 boot executable bzImage/);
      const bz = readFileSync(r.bzImage);
      expect(bz.subarray(0, 2).toString('latin1')).toBe('MZ');
      expect(bz.subarray(bz.readUInt32LE(0x3c), bz.readUInt32LE(0x3c) + 4).toString('latin1')).toBe('PE\0\0');

      // A second identical build is a cache hit in well under a second.
      const [again, ms] = await timed(() => buildKernel(opts));
      expect(again.cached).toBe(true);
      expect(ms).toBeLessThan(1000);
      expect(readFileSync(again.bzImage).equals(bz)).toBe(true);

      // The CLI with the same inputs is a cache hit too and writes the same bytes.
      const out = join(dir, 'bzImage');
      const kArgs = ['--source', KTAR, '--preset', 'tiny', '--initramfs', cpio, '--cmdline', 'console=ttyS0'];
      const { code } = await cachedCli(['kernel', 'build', ...kArgs], out);
      expect(code).toBe(0);
      expect(readFileSync(out).equals(bz)).toBe(true);

      tinyKernel = { bzImage: r.bzImage, initramfs: cpio };

      // Boot: no -initrd and no -append, everything comes from the kernel image.
      const { bootQemu } = await import('../../src/node/qemu/index.js');
      for (const firmware of ['bios', 'uefi'] as const) {
        const res = await bootQemu({
          kernel: r.bzImage,
          append: '',
          firmware,
          expect: /Welcome to Tiny Linux!/,
          timeoutMs: 180_000,
        });
        expect(res.match?.[0]).toBe('Welcome to Tiny Linux!');
        expect(res.output).toMatch(/Kernel command line: console=ttyS0/);
      }
    },
    40 * MIN,
  );

  it(
    'starts from a .config file (olddefconfig) and still checks requested options',
    async () => {
      expect(tinyKernel).toBeDefined();
      const cfgFile = join(mkdtempSync(join(tmpdir(), 'tinyimage-cfg-')), 'my.config');
      copyFileSync(join(tinyKernel!.bzImage, '..', 'config'), cfgFile);
      const e = await buildKernel({
        source: KTAR,
        config: cfgFile,
        enable: ['EXT4_FS'],
        cacheDir: TC_CACHE,
        jobs: 2,
      }).then(
        () => undefined,
        (x: unknown) => x,
      );
      expect(e).toBeInstanceOf(ToolError);
      expect((e as ToolError).code).toBe('E_TOOL_KCONFIG');
      expect((e as ToolError).message).toMatch(/EXT4_FS: wanted y, got n: depends on BLOCK/);
      // The file's own settings were kept (it is the tiny config: EFI stub on).
      const dotConfig = (e as ToolError).data.config as string;
      expect(parseDotConfig(readFileSync(dotConfig, 'utf8')).get('EFI_STUB')).toBe('y');
    },
    20 * MIN,
  );

  it(
    'builds the disk kernel; it mounts an ext4 root on a partition of a virtio and an IDE disk without an initramfs',
    async () => {
      expect(busybox).not.toBe('');
      const [r, buildMs] = await timed(() =>
        buildKernel({ source: KTAR, preset: 'disk', cacheDir: TC_CACHE, jobs: 2, epoch: 0 }),
      );
      console.log(
        `disk kernel: ${statSync(r.bzImage).size} bytes, ${r.cached ? 'cached' : `built in ${(buildMs / 1000).toFixed(0)} s`}`,
      );
      const cfg = parseDotConfig(readFileSync(r.config, 'utf8'));
      for (const o of ['VIRTIO_BLK', 'ATA_PIIX', 'EXT4_FS', 'MSDOS_PARTITION', 'E1000', 'PACKET', 'UNIX', 'MULTIUSER'])
        expect(cfg.get(o)).toBe('y');
      expect(cfg.get('MODULES') ?? 'n').toBe('n');

      // A root filesystem with busybox and a test init, in partition 1 of an MBR disk (made by sfdisk + mke2fs, independent tools).
      const dir = mkdtempSync(join(tmpdir(), 'tinyimage-disk-'));
      const root = join(dir, 'root');
      for (const d of ['bin', 'sbin', 'dev', 'proc', 'sys', 'etc']) mkdirSync(join(root, d), { recursive: true });
      copyFileSync(busybox, join(root, 'bin', 'busybox'));
      chmodSync(join(root, 'bin', 'busybox'), 0o755);
      writeFileSync(
        join(root, 'sbin', 'testinit'),
        '#!/bin/busybox sh\n/bin/busybox mount -t proc proc /proc\necho "root is $(/bin/busybox awk \'$2=="/"{print $1" "$3}\' /proc/mounts | /bin/busybox tail -n1)"\n/bin/busybox poweroff -f\n',
      );
      chmodSync(join(root, 'sbin', 'testinit'), 0o755);
      const img = join(dir, 'disk.img');
      writeFileSync(img, '');
      runSync('truncate', ['-s', '64M', img]);
      expect(
        runSync('sfdisk', ['-q', img], { input: 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, type=83\n' }).code,
      ).toBe(0);
      expect(
        runSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-E', 'offset=1048576', '-d', root, img, `${63 * 1024}k`]).code,
      ).toBe(0);

      const { bootQemu } = await import('../../src/node/qemu/index.js');
      const cases = [
        { disk: { path: img, interface: 'virtio' }, root: '/dev/vda1' },
        { disk: { path: img, interface: 'ide' }, root: 'PARTUUID=1234abcd-01' },
      ];
      for (const c of cases) {
        const res = await bootQemu({
          kernel: r.bzImage,
          disk: c.disk as never,
          append: `console=ttyS0 root=${c.root} rootwait init=/sbin/testinit`,
          expect: /root is \S+ ext4/,
          timeoutMs: 180_000,
        });
        expect(res.match?.[0]).toBe('root is /dev/root ext4');
      }
      diskKernel = r.bzImage;
    },
    60 * MIN,
  );

  it(
    'the disk kernel boots the BIOS disk (GRUB, busybox distro, no initramfs) to a login with DHCP over e1000',
    async () => {
      expect(diskKernel).not.toBe('');
      if (missing({ tools: ['grub-mkimage'], files: ['/usr/lib/grub/i386-pc/boot.img'] })) return;
      const { buildBiosDiskFile } = await import('../../src/node/system/bios-host.js');
      const img = join(mkdtempSync(join(tmpdir(), 'tinyimage-biosdisk-')), 'disk.img');
      const d = await buildBiosDiskFile(img, { kernel: diskKernel, busybox, epoch: 0, distro: { hostname: 'tiny' } });
      expect(d.initrd).toBeUndefined();
      const { startQemu } = await import('../../src/node/qemu/index.js');
      const q = startQemu({ disk: { path: img, snapshot: true }, net: 'user' });
      try {
        await q.waitFor(/VFS: Mounted root \(ext4 filesystem\)/, 240_000);
        // The login prompt and the DHCP lease come in either order.
        const t0 = Date.now();
        while (!(/tiny login:/.test(q.output()) && /lease of \S+ obtained/.test(q.output()))) {
          if (Date.now() - t0 > 120_000)
            throw new Error(`no login prompt and DHCP lease within 120 s:\n${q.output().slice(-3000)}`);
          await new Promise((r) => setTimeout(r, 250));
        }
      } finally {
        await q.stop();
      }
    },
    20 * MIN,
  );

  it(
    'is reproducible: the tiny kernel rebuilt from scratch in another cache (another build path) is byte-identical',
    async () => {
      expect(tinyKernel).toBeDefined();
      const other = mkdtempSync(join(tmpdir(), 'tinyimage-repro-'));
      try {
        const r = await buildKernel({
          source: KTAR,
          preset: 'tiny',
          initramfs: tinyKernel!.initramfs,
          cmdline: 'console=ttyS0',
          cacheDir: other,
          jobs: 2,
          epoch: 0,
        });
        expect(r.cached).toBe(false);
        expect(readFileSync(r.bzImage).equals(readFileSync(tinyKernel!.bzImage))).toBe(true);
      } finally {
        rmSync(other, { recursive: true, force: true });
      }
    },
    40 * MIN,
  );
});
