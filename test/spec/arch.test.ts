/**
 * The arch notion of specs: presets per architecture, the arch chosen from
 * --arch / the spec / the kernel and busybox files, the rpi kind's rules,
 * and the must-show: an x86 busybox with an arm64 kernel stops the build
 * before anything is written, naming both.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, writeFileSync } from 'node:fs';
import { loadSpec } from '../../src/node/build/load.js';
import { build } from '../../src/node/build/build.js';
import { validateSpec } from '../../src/node/build/spec.js';
import { main } from '../../src/node/cli/main.js';
import { capture, runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { debianArm64, missing } from '../helpers/prereq.js';

const tmp = tmpDir('ti-arch-');
afterAll(() => tmp.cleanup());
const a64 = debianArm64();
const X86_BUSYBOX = '/bin/busybox';

describe('presets per architecture', () => {
  it('uefi: x86_64 by default; arm64 takes the aarch64 stub, BOOTAA64.EFI and the PL011 console', () => {
    const x = loadSpec({ preset: 'uefi' }).spec;
    expect(x).toMatchObject({
      arch: 'x86_64',
      cmdline: 'console=tty0 console=ttyS0',
      uki: { stub: '/usr/lib/systemd/boot/efi/linuxx64.efi.stub', output: 'BOOTX64.EFI' },
    });
    expect(x).not.toHaveProperty('arches');
    const a = loadSpec({ preset: 'uefi', overrides: { arch: 'arm64' } }).spec;
    expect(a).toMatchObject({
      arch: 'arm64',
      cmdline: 'console=tty0 console=ttyAMA0',
      uki: { stub: '/usr/lib/systemd/boot/efi/linuxaa64.efi.stub', output: 'BOOTAA64.EFI' },
    });
  });

  it("a spec file's own arches block applies over the preset's, the command line over both", () => {
    const f = tmp.path('arches.yaml');
    writeFileSync(
      f,
      'preset: uefi\narch: arm64\narches:\n  arm64: { cmdline: console=ttyAMA0 quiet, uki: { stub: stub.efi } }\n',
    );
    const s = loadSpec({ file: f }).spec;
    expect(s.cmdline).toBe('console=ttyAMA0 quiet');
    expect(s.uki).toEqual({ stub: tmp.path('stub.efi'), output: 'BOOTAA64.EFI' });
    expect(loadSpec({ file: f, overrides: { cmdline: 'x' } }).spec.cmdline).toBe('x');
    expect(loadSpec({ file: f, overrides: { arch: 'x86_64' } }).spec.uki?.output).toBe('BOOTX64.EFI');
  });

  it('the arch is read from the kernel and busybox files when nothing names it', () => {
    if (missing({ files: [a64.vmlinuz, a64.busybox] })) return;
    expect(loadSpec({ preset: 'uefi', overrides: { kernel: a64.vmlinuz } }).spec.arch).toBe('arm64');
    expect(loadSpec({ preset: 'initramfs', overrides: { busybox: a64.busybox } }).spec.arch).toBe('arm64');
    expect(loadSpec({ preset: 'initramfs', overrides: { busybox: X86_BUSYBOX } }).spec.arch).toBe('x86_64');
    // an arm64 kernel makes the build arm64, which the bios kind cannot be
    expect(() => loadSpec({ preset: 'bios', overrides: { kernel: a64.vmlinuz } })).toThrow(
      /arch: the bios kind is x86_64 only/,
    );
  });

  it('rpi: arm64 only, its settings only for its kind, boards by name', () => {
    const rpi = loadSpec({ preset: 'rpi' }).spec;
    expect(rpi).toMatchObject({ kind: 'rpi', arch: 'arm64', rpi: { board: '3b' }, disk: { powerOfTwo: true } });
    // the name follows --format (sdcard.img, sdcard.qcow2, ...)
    expect(rpi.disk?.output).toBeUndefined();
    expect(() => validateSpec({ kind: 'rpi', arch: 'x86_64' }, 's.yaml')).toThrow(
      's.yaml: arch: a Raspberry Pi image is arm64, not x86_64',
    );
    expect(() => validateSpec({ kind: 'bios', arch: 'arm64' }, 's.yaml')).toThrow(/arch: the bios kind is x86_64 only/);
    expect(() => validateSpec({ kind: 'iso', arch: 'arm64' }, 's.yaml')).toThrow(/arch: the iso kind is x86_64 only/);
    expect(() => validateSpec({ kind: 'rpi', rootfs: { format: 'squashfs' } }, 's.yaml')).toThrow(
      /rootfs.format: the root filesystem format is for the bios kind, not 'rpi'/,
    );
    expect(() => validateSpec({ kind: 'uefi', rpi: { board: '3b' } }, 's.yaml')).toThrow(
      /rpi: rpi settings are for the rpi kind, not 'uefi'/,
    );
    expect(() => validateSpec({ kind: 'rpi', rpi: { board: '5' } }, 's.yaml')).toThrow(
      /rpi.board: expected one of '3b', '3b\+', '3a\+', 'zero2w', '4b', 'pi400', 'cm4'/,
    );
    expect(() => validateSpec({ kind: 'uefi', arch: 'riscv64' }, 's.yaml')).toThrow(
      /arch: expected one of 'x86_64', 'arm64', got string "riscv64"/,
    );
  });

  it('tinyimage schema lists arch, arches, dtbs and rpi', async () => {
    const c = capture();
    expect(await main(['schema'], c)).toBe(0);
    const s = JSON.parse(c.out());
    expect(Object.keys(s.properties)).toEqual(expect.arrayContaining(['arch', 'arches', 'dtbs', 'rpi']));
    expect(s.properties.arch.enum).toEqual(['x86_64', 'arm64']);
  });
});

describe('the arch mix-up fails before anything is written', () => {
  it('CLI: an x86 busybox with an arm64 kernel, naming both; no output directory', async () => {
    if (missing({ files: [a64.vmlinuz, X86_BUSYBOX] })) return;
    const out = tmp.path('mixup');
    const r = await runCli(['build', '--preset', 'uefi', '--kernel', a64.vmlinuz, '--busybox', X86_BUSYBOX, '-o', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(
        `architecture mix-up: the kernel ${a64.vmlinuz} is arm64 \\(an arm64 Image\\), but the busybox binary ` +
          `${X86_BUSYBOX} is x86_64 \\(ELF 64-bit x86-64, e_machine 62\\)`,
      ),
    );
    expect(existsSync(out)).toBe(false);
  });

  it('--arch against the files: the build names the file that disagrees, and writes nothing', async () => {
    if (missing({ files: [a64.vmlinuz, a64.busybox] })) return;
    const out = tmp.path('forced');
    const r = await runCli(['build', '--preset', 'initramfs', '--arch', 'x86_64', '--busybox', a64.busybox, '-o', out]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      /the busybox binary \S+ is arm64 \(ELF 64-bit AArch64, e_machine 183\), but the build's arch is x86_64/,
    );
    expect(existsSync(out)).toBe(false);
  });

  it('build(): a stub of the other architecture is named too', async () => {
    if (missing({ files: [a64.vmlinuz, a64.busybox, '/usr/lib/systemd/boot/efi/linuxx64.efi.stub'] })) return;
    const spec = loadSpec({
      preset: 'uefi',
      overrides: {
        kernel: a64.vmlinuz,
        busybox: a64.busybox,
        uki: { stub: '/usr/lib/systemd/boot/efi/linuxx64.efi.stub' },
      },
    }).spec;
    const out = tmp.path('stub');
    await expect(build(spec, { outDir: out })).rejects.toThrow(
      /the EFI stub \/usr\/lib\/systemd\/boot\/efi\/linuxx64.efi.stub is x86_64 \(PE\/COFF x86-64 \(0x8664\)\)/,
    );
    expect(existsSync(out)).toBe(false);
  });
});
