/**
 * The uefi build: one EFI executable (kernel + initramfs + command line) and
 * a GPT USB image with a FAT32 ESP holding it at /EFI/BOOT/BOOTX64.EFI.
 *
 * - Prebuilt kernel: the initramfs and command line go into a UKI made from
 *   systemd's EFI stub (uki.stub).
 * - Kernel from source: the `tiny` option set, the initramfs and the command
 *   line are built into the kernel, whose own EFI stub makes it the EFI
 *   executable (no systemd stub needed).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { parseSize } from '../../core/units.js';
import { withOutputFile } from '../host/output.js';
import { concatChunks } from '../../core/compress/gzip.js';
import { initramfsChunks } from '../../core/initramfs/tiny.js';
import { buildUefiSystem, buildUefiUsb, uefiUsbSize, type UefiUsbOptions } from '../../core/system/uefi.js';
import { checkEfiKernel } from '../../core/boot/uki.js';
import {
  initramfsTree,
  readHostFile,
  record,
  recordDisk,
  resolveBusybox,
  resolveKernel,
  type BuildContext,
} from './build.js';

export async function buildUefiKind(ctx: BuildContext): Promise<void> {
  const { spec } = ctx;
  const cmdline = spec.cmdline ?? 'console=ttyS0';
  const busybox = await resolveBusybox(ctx);
  const tree = await initramfsTree(ctx, busybox);
  const fromSource = typeof spec.kernel === 'object';
  const stubPath = spec.uki?.stub;
  const useStub = !fromSource && stubPath !== undefined && stubPath !== 'none';
  if (!fromSource && !useStub) {
    throw new UsageError(
      'E_USAGE_UKI_BARE',
      "uki.stub is 'none' but the kernel is prebuilt: its initramfs and command line cannot be embedded; give a stub (systemd-boot-efi's linuxx64.efi.stub) or build the kernel from source",
      { field: 'uki.stub' },
    );
  }
  let efi: Uint8Array;
  if (fromSource) {
    // the kernel build embeds an uncompressed newc archive (it compresses it itself)
    const tmp = mkdtempSync(join(tmpdir(), 'tinyimage-initramfs-'));
    try {
      const cpioPath = join(tmp, 'initramfs.cpio');
      writeFileSync(cpioPath, await concatChunks(initramfsChunks(tree, { compress: 'none' })));
      const k = await resolveKernel(ctx, { initramfs: cpioPath, cmdline });
      checkEfiKernel(k.bytes);
      efi = k.bytes;
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  } else {
    ctx.progress.start('writing initramfs', tree.stats().bytes, 'bytes');
    const initrd = await concatChunks(
      initramfsChunks(tree, { compress: spec.initramfs?.compress ?? 'gzip', progress: ctx.progress }),
    );
    ctx.progress.done();
    const kernel = await resolveKernel(ctx);
    const stub = readHostFile(stubPath!, 'EFI stub (apt-get install systemd-boot-efi)');
    efi = buildUefiSystem({
      kernel: kernel.bytes,
      initrd,
      cmdline,
      stub,
      ...(spec.uki?.osrel ? { osrel: spec.uki.osrel } : {}),
    }).efi;
  }
  const usb: UefiUsbOptions = {
    efi,
    ...(spec.disk?.seed ? { seed: spec.disk.seed } : {}),
    ...(spec.disk?.size !== undefined
      ? { size: typeof spec.disk.size === 'number' ? spec.disk.size : parseSize(spec.disk.size, 'disk.size') }
      : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
  };
  const efiName = spec.uki?.output ?? 'BOOTX64.EFI';
  await record(
    ctx,
    efiName,
    fromSource
      ? 'EFI executable (kernel with built-in initramfs and command line)'
      : 'EFI executable (unified kernel image: stub + kernel + initramfs + command line)',
    (p) => withOutputFile(p, (tmp) => writeFileSync(tmp, efi)),
  );
  const size = await uefiUsbSize(usb);
  await recordDisk(ctx, 'usb', 'GPT disk, FAT32 ESP with /EFI/BOOT/BOOTX64.EFI', size, async (dev) => {
    ctx.progress.start('writing usb image', size, 'bytes');
    await buildUefiUsb({ ...usb, progress: ctx.progress }, dev);
    ctx.progress.done();
  });
}
