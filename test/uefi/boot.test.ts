/**
 * The decisive test of the UEFI path: OVMF in QEMU (TCG) boots usb.img --
 * GPT, one FAT32 ESP, /EFI/BOOT/BOOTX64.EFI = systemd stub + Debian's
 * kernel + our tiny initramfs + "console=ttyS0" -- to the greeting.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EFI_STUB_PATH } from '../../src/core/boot/uki.js';
import { buildUefiSystem } from '../../src/core/system/uefi.js';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { initramfsChunks, tinyInitramfsTree, WELCOME } from '../../src/core/initramfs/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { bootQemu } from '../../src/node/qemu/index.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { runCli } from '../helpers/cli.js';
import { tempDir } from '../partition/helpers.js';

const tmp = tempDir('tinyimage-uefiboot-');
afterAll(() => tmp.cleanup());

const BUSYBOX = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox';
const OVMF = ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'];
/** usb.img once the raw boot has passed (the qcow2 boot converts it). */
let usbImage: string | undefined;

describe('UEFI boot', () => {
  it('OVMF boots usb.img to the greeting', async () => {
    const k = debianKernel();
    if (missing({ tools: ['qemu-system-x86_64'], files: [k.vmlinuz, DEFAULT_EFI_STUB_PATH, BUSYBOX, ...OVMF] })) return;
    const tree = tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(BUSYBOX)) });
    const initrd = await concatChunks(initramfsChunks(tree));
    const sys = buildUefiSystem({
      kernel: new Uint8Array(readFileSync(k.vmlinuz)),
      initrd,
      cmdline: 'console=ttyS0 panic=-1',
      stub: new Uint8Array(readFileSync(DEFAULT_EFI_STUB_PATH)),
    });
    const efiPath = join(tmp.dir, 'BOOTX64.EFI');
    writeFileSync(efiPath, sys.efi);
    const size = await sys.usbSize();
    const img = join(tmp.dir, 'usb.img');
    const dev = FileDevice.create(img, size);
    try {
      await sys.writeUsb(dev);
    } finally {
      dev.close();
    }
    console.log(`BOOTX64.EFI ${sys.efi.length} bytes, initrd ${initrd.length} bytes, usb.img ${size} bytes`);
    // independent checks on the image before booting it
    if (!missing({ tools: ['sgdisk', 'fsck.fat', 'mtype'] })) {
      expect(run('sgdisk', ['-v', img]).stdout).toContain('No problems found');
      const part = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable.partitions[0];
      expect(part.type).toBe('C12A7328-F81F-11D2-BA4B-00A0C93EC93B');
      const esp = join(tmp.dir, 'esp.img');
      writeFileSync(esp, readFileSync(img).subarray(part.start * 512, (part.start + part.size) * 512));
      const f = run('fsck.fat', ['-n', esp]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      expect(run('file', ['-s', esp]).stdout).toMatch(/FAT \(32 bit\)/);
      const copy = join(tmp.dir, 'copy.efi');
      expect(run('mcopy', ['-n', '-i', esp, '::/EFI/BOOT/BOOTX64.EFI', copy]).code).toBe(0);
      expect(Buffer.compare(readFileSync(copy), sys.efi)).toBe(0);
    }
    const r = await bootQemu({
      disk: img,
      firmware: 'uefi',
      accel: 'tcg',
      memory: 512,
      expect: new RegExp(WELCOME.replace(/[!]/g, '\\!')),
      timeoutMs: 400_000,
      console: join(tmp.dir, 'console.log'),
    });
    expect(r.match?.[0]).toBe(WELCOME);
    expect(r.output).toMatch(/Linux version/);
    // the command line came from the UKI's .cmdline section (the firmware passed none)
    expect(r.output).toContain('Command line: console=ttyS0 panic=-1');
    console.log(`booted to the greeting in ${r.elapsedMs} ms (${r.accel})`);
    usbImage = img;
  }, 600_000);

  // issue 19: the same image inside qcow2, written by `tinyimage convert`, boots under OVMF too
  it('OVMF boots usb.qcow2 (the same image converted) to the greeting', async () => {
    if (!usbImage) {
      const k = debianKernel();
      const files = [k.vmlinuz, DEFAULT_EFI_STUB_PATH, BUSYBOX, ...OVMF];
      if (missing({ tools: ['qemu-system-x86_64', 'qemu-img'], files })) return;
      throw new Error('the raw boot above did not produce usb.img');
    }
    const qcow2 = join(tmp.dir, 'usb.qcow2');
    const c = await runCli(['convert', usbImage, '-o', qcow2, '-q']);
    expect(c.code, c.stderr).toBe(0);
    if (!missing({ tools: ['qemu-img'] })) {
      expect(run('qemu-img', ['check', qcow2]).code).toBe(0);
      expect(run('qemu-img', ['compare', usbImage, qcow2]).stdout).toContain('Images are identical');
    }
    const r = await bootQemu({
      disk: { path: qcow2, format: 'qcow2', snapshot: true },
      firmware: 'uefi',
      accel: 'tcg',
      memory: 512,
      expect: new RegExp(WELCOME.replace(/[!]/g, '\\!')),
      timeoutMs: 400_000,
      console: join(tmp.dir, 'console-qcow2.log'),
    });
    expect(r.match?.[0]).toBe(WELCOME);
    console.log(`usb.qcow2 booted to the greeting in ${r.elapsedMs} ms (${r.accel})`);
  }, 600_000);
});
