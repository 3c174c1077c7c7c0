/**
 * Must-show: AAVMF (QEMU's arm64 virt machine, TCG) boots the arm64 uefi
 * preset's usb.img -- GPT, FAT32 ESP, /EFI/BOOT/BOOTAA64.EFI = systemd's
 * aarch64 stub + Debian's arm64 kernel + the tiny initramfs with Debian's
 * arm64 busybox-static -- to the greeting. The image is built by the CLI,
 * its architecture read from the kernel and busybox files.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { WELCOME } from '../../src/core/initramfs/index.js';
import { parsePe } from '../../src/core/boot/pe.js';
import { bootQemu, detectBootTarget } from '../../src/node/qemu/index.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { debianArm64, missing, run } from '../helpers/prereq.js';

const tmp = tmpDir('ti-uefi-arm64-');
afterAll(() => tmp.cleanup());
const a64 = debianArm64();
const skip = missing({
  tools: ['qemu-system-aarch64', 'sgdisk', 'fsck.fat', 'mcopy'],
  files: [...a64.files, '/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd'],
});

describe.skipIf(skip)('arm64 uefi preset: AAVMF boots usb.img', () => {
  const out = tmp.path('out');
  let efi: Uint8Array;
  beforeAll(async () => {
    const spec = tmp.path('spec.yaml');
    // systemd-boot-efi:arm64's stub, unpacked by scripts/fetch-debian-arm64.sh (not installed on this x86 host)
    writeFileSync(spec, `preset: uefi\narches:\n  arm64:\n    uki: { stub: ${a64.stub} }\n`);
    const r = await runCli(['build', spec, '--kernel', a64.vmlinuz, '--busybox', a64.busybox, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/BOOTAA64\.EFI \+ usb\.img/);
    efi = new Uint8Array(readFileSync(join(out, 'BOOTAA64.EFI')));
  }, 120_000);

  it('is a GPT disk whose FAT32 ESP holds the AArch64 UKI at /EFI/BOOT/BOOTAA64.EFI', async () => {
    const img = join(out, 'usb.img');
    expect(parsePe(efi).machine).toBe(0xaa64);
    expect(run('sgdisk', ['-v', img]).stdout).toContain('No problems found');
    const part = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable.partitions[0];
    expect(part.type).toBe('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
    const esp = tmp.path('esp.img');
    writeFileSync(esp, readFileSync(img).subarray(part.start * 512, (part.start + part.size) * 512));
    const f = run('fsck.fat', ['-n', esp]);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    const copy = tmp.path('copy.efi');
    expect(run('mcopy', ['-n', '-i', esp, '::/EFI/BOOT/BOOTAA64.EFI', copy]).code).toBe(0);
    expect(Buffer.compare(readFileSync(copy), efi)).toBe(0);
    expect(await detectBootTarget(img)).toMatchObject({ arch: 'arm64', firmware: 'uefi' });
  });

  it('boots to the greeting with the command line from the UKI', async () => {
    const r = await bootQemu({
      arch: 'arm64',
      disk: join(out, 'usb.img'),
      firmware: 'uefi',
      expect: new RegExp(WELCOME.replace(/[!]/g, '\\!')),
      timeoutMs: 400_000,
      console: tmp.path('console.log'),
    });
    expect(r.match?.[0]).toBe(WELCOME);
    expect(r.output).toMatch(/Kernel command line: console=tty0 console=ttyAMA0/);
    expect(r.output).toMatch(/EFI stub: Loaded initrd from LINUX_EFI_INITRD_MEDIA_GUID/);
    console.log(`AAVMF: greeting after ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})`);
  }, 600_000);
});
