/**
 * `tinyimage build` through the real CLI binary, as users and the README run
 * it: presets, determinism under SOURCE_DATE_EPOCH, independent checks of the
 * outputs, and clean failures (exit 2 for usage, no output left behind).
 */
import { describe, expect, it, beforeAll, afterAll } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { debianKernel, missing, REPO, run } from '../helpers/prereq.js';

const BIN = join(REPO, 'bin/tinyimage.js');
const BUSYBOX = '/bin/busybox';

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', env: { ...process.env, ...env } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

const skip = missing({ tools: ['cpio', 'sgdisk', 'fsck.fat'], files: [join(REPO, 'dist/node/cli/main.js'), BUSYBOX] });

describe.skipIf(skip)('tinyimage build', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ti-build-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--preset initramfs: a gzip newc archive GNU cpio lists, identical bytes for the same SOURCE_DATE_EPOCH', () => {
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = cli(['build', '--preset', 'initramfs', '--busybox', BUSYBOX, '-o', join(dir, 'a')], env);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/^tinyimage: built initramfs .*\/a: [\d.]+ (KiB|MiB), initramfs\.cpio\.gz, [\d.]+ s\n$/);
    expect(a.stdout).toBe('');
    const b = cli(['build', '--preset', 'initramfs', '--busybox', BUSYBOX, '-o', join(dir, 'b')], env);
    expect(b.code, b.stderr).toBe(0);
    const fa = readFileSync(join(dir, 'a/initramfs.cpio.gz'));
    expect(Buffer.compare(fa, readFileSync(join(dir, 'b/initramfs.cpio.gz')))).toBe(0);
    expect(run('gzip', ['-t', join(dir, 'a/initramfs.cpio.gz')]).code).toBe(0);
    const list = execFileSync('sh', ['-c', `zcat "${join(dir, 'a/initramfs.cpio.gz')}" | cpio -itv --quiet`], {
      encoding: 'utf8',
    });
    expect(list).toMatch(/^-rwxr-xr-x .* root +root .* init$/m);
    expect(list).toMatch(/^crw------- .* 5, +1 .* dev\/console$/m);
    expect(list).toMatch(/^lrwxrwxrwx .* bin\/sh -> \/bin\/busybox$/m);
    expect(list).toMatch(/^drwxrwxrwt .* tmp$/m);
  });

  it('--preset uefi: BOOTX64.EFI and a GPT usb.img that sgdisk and fsck.fat accept', () => {
    const k = debianKernel();
    if (missing({ files: [k.vmlinuz, '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'] })) return;
    const out = join(dir, 'uefi');
    const r = cli(['build', '--preset', 'uefi', '--kernel', k.vmlinuz, '--busybox', BUSYBOX, '-o', out, '--json'], {
      SOURCE_DATE_EPOCH: '1700000000',
    });
    expect(r.code, r.stderr).toBe(0);
    const res = JSON.parse(r.stdout);
    expect(res).toMatchObject({ built: 'uefi', output: out });
    expect(res.details.outputs.map((o: { name: string }) => o.name)).toEqual(['BOOTX64.EFI', 'usb.img']);
    expect(res.bytes).toBe(res.details.outputs.reduce((n: number, o: { size: number }) => n + o.size, 0));
    expect(run('sgdisk', ['-v', join(out, 'usb.img')]).stdout).toContain('No problems found');
    // our own reader: the ESP holds the same EFI executable
    const ls = cli(['ls', '-lR', join(out, 'usb.img') + ':1']);
    expect(ls.code, ls.stderr).toBe(0);
    expect(ls.stdout).toMatch(/\/EFI\/BOOT\/BOOTX64\.EFI/);
    const efi = readFileSync(join(out, 'BOOTX64.EFI'));
    const cat = spawnSync(process.execPath, [BIN, 'cat', join(out, 'usb.img') + ':1', '/EFI/BOOT/BOOTX64.EFI'], {
      maxBuffer: 1 << 28,
    });
    expect(Buffer.compare(cat.stdout, efi)).toBe(0);
  });

  it('bad usage exits 2; a failure exits 1 with one line and leaves no output behind', () => {
    const u = cli(['build', '--preset', 'nope', '-o', join(dir, 'x')]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/unknown preset 'nope' \(available: bios, initramfs, iso, rpi, uefi\)/);
    expect(cli(['build', '--preset', 'initramfs', '--bogus', '-o', join(dir, 'x')]).code).toBe(2);
    const f = cli(['build', '--preset', 'initramfs', '--busybox', join(dir, 'missing-busybox'), '-o', join(dir, 'x')]);
    expect(f.code).toBe(1);
    expect(f.stderr.trim().split('\n')).toHaveLength(1);
    expect(f.stderr).toMatch(/cannot read busybox binary .*missing-busybox: no such file or directory/);
    expect(f.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(dir, 'x')), 'the output directory made for the build is removed again').toBe(false);
  });
});
