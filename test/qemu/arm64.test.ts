/**
 * The QEMU harness on arm64, without booting: the command lines of the virt
 * machine (AAVMF, direct kernel) and of raspi3b (kernel, DTB and SD card,
 * console on the mini UART), the accelerator choice, AAVMF's private vars
 * copy, and what a disk image is detected as. The boots themselves are in
 * test/uefi/arm64-boot.test.ts and test/rpi/rpi.test.ts.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { chooseAccel, detectBootTarget, qemuArgs, raspiBootFiles, resolveAavmf } from '../../src/node/qemu/index.js';
import { buildUefiUsb, uefiUsbSize } from '../../src/core/system/uefi.js';
import { FileDevice } from '../../src/node/io/file.js';
import { tmpDir } from '../helpers/tmp.js';
import { missing } from '../helpers/prereq.js';

const tmp = tmpDir('ti-qemu-arm64-');
afterAll(() => tmp.cleanup());
const MiB = 1 << 20;

describe('QEMU command lines for arm64 (pure)', () => {
  it('virt + AAVMF for a disk: cortex-a57 under TCG, pflash code and vars, virtio disk', () => {
    const a = qemuArgs({ arch: 'arm64', disk: '/d.img' }, 'tcg', { code: '/C.fd', vars: '/V.fd' });
    const s = a.join(' ');
    expect(s).toContain('-machine virt,accel=tcg -cpu cortex-a57 -m 1024 -smp 1');
    expect(s).toContain('-drive if=pflash,format=raw,unit=0,readonly=on,file=/C.fd');
    expect(s).toContain('-drive if=pflash,format=raw,unit=1,file=/V.fd');
    expect(s).toContain('-drive file=/d.img,format=raw,if=virtio');
    expect(s).toContain('-serial stdio');
    expect(qemuArgs({ arch: 'arm64', disk: '/d' }, 'kvm', {}).join(' ')).toContain('-cpu host');
  });

  it('virt with a kernel boots it directly (no firmware), console on the PL011 by default', () => {
    const a = qemuArgs({ arch: 'arm64', kernel: '/Image', initrd: '/i' }, 'tcg', { code: '/C.fd', vars: '/V.fd' });
    expect(a.join(' ')).not.toContain('pflash');
    expect(a.slice(a.indexOf('-kernel'))).toEqual([
      '-kernel',
      '/Image',
      '-initrd',
      '/i',
      '-append',
      'console=ttyAMA0',
      '-nic',
      'none',
    ]);
  });

  it('raspi3b: fixed memory and cores, kernel + DTB, the SD card, the console on the UART the command line names', () => {
    const a = qemuArgs(
      {
        arch: 'arm64',
        machine: 'raspi3b',
        kernel: '/k',
        dtb: '/b.dtb',
        initrd: '/i',
        append: 'console=ttyS1,115200',
        disk: { path: '/sd.img', snapshot: true },
      },
      'tcg',
      {},
    );
    const s = a.join(' ');
    expect(s).toContain('-machine raspi3b,accel=tcg');
    expect(s).not.toMatch(/-m |-smp |-cpu /);
    expect(s).toContain('-serial null -serial stdio');
    expect(s).toContain('-kernel /k -dtb /b.dtb -initrd /i -append console=ttyS1,115200');
    expect(s).toContain('-drive file=/sd.img,format=raw,if=sd,snapshot=on');
    const pl011 = qemuArgs({ arch: 'arm64', machine: 'raspi3b', kernel: '/k', append: 'console=ttyAMA0' }, 'tcg', {});
    expect(pl011.join(' ')).not.toContain('-serial null');
  });

  it('refuses what cannot boot: a Pi machine without a kernel, a PC BIOS on arm64', () => {
    expect(() => qemuArgs({ arch: 'arm64', machine: 'raspi3b', disk: '/sd' }, 'tcg', {})).toThrow(
      /QEMU's raspi3b has no firmware to boot an SD card: give the kernel and device tree/,
    );
    expect(() => qemuArgs({ arch: 'arm64', disk: '/d', firmware: 'bios' }, 'tcg', {})).toThrow(
      expect.objectContaining({ code: 'E_USAGE_QEMU', data: { field: 'firmware' } }),
    );
    expect(() => qemuArgs({ arch: 'arm64', kernel: '/k', serialPort: 7 }, 'tcg', {})).toThrow(
      /serialPort must be 0..3/,
    );
  });

  it('an arm64 guest or a Pi machine runs under TCG on this host without probing KVM; an explicit choice wins', () => {
    expect(chooseAccel('auto', 'qemu-system-aarch64', { arch: 'arm64' })).toBe('tcg');
    expect(chooseAccel(undefined, 'qemu-system-aarch64', { arch: 'arm64', machine: 'raspi3b' })).toBe('tcg');
    expect(chooseAccel('kvm', 'qemu-system-aarch64', { arch: 'arm64' })).toBe('kvm');
  });
});

describe('AAVMF and disk detection (host)', () => {
  it('AAVMF: code image plus a private copy of the vars image, removed by cleanup', () => {
    if (missing({ files: ['/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd'] })) return;
    const fw = resolveAavmf();
    expect(fw.code).toBe('/usr/share/AAVMF/AAVMF_CODE.fd');
    expect(fw.vars).not.toBe('/usr/share/AAVMF/AAVMF_VARS.fd');
    expect(Buffer.compare(readFileSync(fw.vars!), readFileSync('/usr/share/AAVMF/AAVMF_VARS.fd'))).toBe(0);
    fw.cleanup();
    expect(existsSync(fw.vars!)).toBe(false);
    expect(() => resolveAavmf({ ovmfCode: '/nope/code.fd', ovmfVars: '/nope/vars.fd' })).toThrow(
      expect.objectContaining({ code: 'E_TOOL_OVMF' }),
    );
  });

  it('a UEFI disk is told by its loader; a disk that is no Pi card is refused by raspiBootFiles, by name', async () => {
    const img = tmp.path('usb.img');
    const efi = new Uint8Array(4096).fill(1); // not PE: goes to the x86-64 path
    const dev = FileDevice.create(img, 64 * MiB);
    try {
      await buildUefiUsb({ efi, size: 64 * MiB }, dev);
    } finally {
      dev.close();
    }
    expect(await uefiUsbSize({ efi })).toBeGreaterThan(0);
    expect(await detectBootTarget(img)).toMatchObject({ arch: 'x86_64', firmware: 'uefi' });
    await expect(raspiBootFiles(img)).rejects.toThrow(
      /is not a Raspberry Pi SD card: no FAT partition with config.txt/,
    );
    const odd = tmp.path('odd.img');
    writeFileSync(odd, new Uint8Array(3 * MiB));
    await expect(raspiBootFiles(odd)).rejects.toThrow(
      expect.objectContaining({ code: 'E_USAGE_SD_SIZE', message: expect.stringMatching(/power-of-two sizes/) }),
    );
    expect(await detectBootTarget(odd)).toBeUndefined();
  });
});
