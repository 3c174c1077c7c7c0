/**
 * The uefi build: one EFI executable (kernel + initramfs + command line) and
 * a GPT USB image with a FAT32 ESP holding it at /EFI/BOOT/BOOTX64.EFI
 * (BOOTAA64.EFI for arm64).
 *
 * - Prebuilt kernel: the initramfs and command line go into a UKI made from
 *   systemd's EFI stub (uki.stub).
 * - Kernel from source: the `tiny` option set, the initramfs and the command
 *   line are built into the kernel, whose own EFI stub makes it the EFI
 *   executable (no systemd stub needed).
 */
import { writeFileSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { parseSize } from '../../core/units.js';
import { withOutputFile } from '../host/output.js';
import { concatChunks } from '../../core/compress/gzip.js';
import { initramfsChunks } from '../../core/initramfs/tiny.js';
import { buildUefiSystem, buildUefiUsb, uefiUsbSize, type UefiUsbOptions } from '../../core/system/uefi.js';
import { efiStubPath } from '../../core/boot/uki.js';
import { uncompressedKernel } from '../../core/boot/kernel.js';
import { ARCH_FACTS } from '../../core/arch.js';
import {
  initramfsTree,
  kernelWithBuiltInInitramfs,
  readHostFile,
  record,
  recordDisk,
  resolveBusybox,
  resolveKernel,
  type BuildContext,
} from './build.js';

export async function buildUefiKind(ctx: BuildContext): Promise<void> {
  const { spec } = ctx;
  // the first serial port: the 8250 of PCs, the PL011 of QEMU's virt machine and most arm64 servers
  const cmdline = spec.cmdline ?? (ctx.arch === 'arm64' ? 'console=ttyAMA0' : 'console=ttyS0');
  const busybox = await resolveBusybox(ctx);
  const tree = await initramfsTree(ctx, busybox);
  const fromSource = typeof spec.kernel === 'object';
  const stubPath = spec.uki?.stub ?? efiStubPath(ctx.arch);
  const useStub = !fromSource && stubPath !== undefined && stubPath !== 'none';
  if (!fromSource && !useStub) {
    throw new UsageError(
      'E_USAGE_UKI_BARE',
      `uki.stub is 'none' but the kernel is prebuilt: its initramfs and command line cannot be embedded; give a stub (systemd-boot-efi's ${ARCH_FACTS[ctx.arch].efiStub}) or build the kernel from source`,
      { field: 'uki.stub' },
    );
  }
  let efi: Uint8Array;
  if (fromSource) {
    efi = await kernelWithBuiltInInitramfs(ctx, tree, cmdline);
  } else {
    ctx.progress.start('writing initramfs', tree.stats().bytes, 'bytes');
    const initrd = await concatChunks(
      initramfsChunks(tree, { compress: spec.initramfs?.compress ?? 'gzip', progress: ctx.progress }),
    );
    ctx.progress.done();
    const kernel = await resolveKernel(ctx);
    const pkg = ctx.arch === 'x86_64' ? 'systemd-boot-efi' : `systemd-boot-efi:${ARCH_FACTS[ctx.arch].debian}`;
    const stub = readHostFile(stubPath, `EFI stub (apt-get install ${pkg})`);
    efi = buildUefiSystem({
      // systemd-stub starts the kernel with LoadImage: a gzip-compressed arm64 Image is decompressed first
      kernel: await uncompressedKernel(kernel.bytes),
      initrd,
      cmdline,
      stub,
      ...(spec.uki?.osrel ? { osrel: spec.uki.osrel } : {}),
    }).efi;
  }
  const usb: UefiUsbOptions = {
    efi,
    arch: ctx.arch,
    ...(spec.disk?.seed ? { seed: spec.disk.seed } : {}),
    ...(spec.disk?.size !== undefined
      ? { size: typeof spec.disk.size === 'number' ? spec.disk.size : parseSize(spec.disk.size, 'disk.size') }
      : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
  };
  const loader = ARCH_FACTS[ctx.arch].efiRemovablePath;
  const efiName = spec.uki?.output ?? loader.slice(loader.lastIndexOf('/') + 1);
  await record(
    ctx,
    efiName,
    fromSource
      ? 'EFI executable (kernel with built-in initramfs and command line)'
      : 'EFI executable (unified kernel image: stub + kernel + initramfs + command line)',
    (p) => withOutputFile(p, (tmp) => writeFileSync(tmp, efi)),
  );
  const size = await uefiUsbSize(usb);
  await recordDisk(ctx, 'usb', `GPT disk, FAT32 ESP with ${loader}`, size, async (dev) => {
    ctx.progress.start('writing usb image', size, 'bytes');
    await buildUefiUsb({ ...usb, progress: ctx.progress }, dev);
    ctx.progress.done();
  });
}
