/**
 * The iso build: one hybrid image, DIR/live.iso, that boots as a CD and as
 * a disk under BIOS (GRUB from the host's grub-pc-bin) and UEFI (the same
 * kernel, initramfs and command line as the uefi kind, in a UKI on an
 * appended ESP). See src/core/system/iso.ts for the layout.
 *
 * - Prebuilt kernel: GRUB loads /boot/vmlinuz and /boot/initrd.gz; the UKI
 *   (uki.stub) carries the same three for UEFI. uki.stub 'none' leaves UEFI
 *   out.
 * - Kernel from source: the initramfs and command line are built into the
 *   kernel (the `tiny` option set), which GRUB loads alone and which is
 *   itself the EFI executable.
 *
 * `iso.files` adds host files (e.g. a squashfs root at /live/root.squashfs).
 */
import { statSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { concatChunks } from '../../core/compress/gzip.js';
import { initramfsChunks } from '../../core/initramfs/tiny.js';
import { planLiveIso, writeLiveIso } from '../../core/system/iso.js';
import { buildUefiSystem } from '../../core/system/uefi.js';
import { pathContent } from '../host/content.js';
import { withOutputFile } from '../host/output.js';
import { FileDevice, hostError } from '../io/file.js';
import { hostLiveGrub } from '../system/grub-host.js';
import {
  initramfsTree,
  kernelWithBuiltInInitramfs,
  readHostFile,
  record,
  resolveBusybox,
  resolveKernel,
  type BuildContext,
} from './build.js';

/** The kernel, initramfs and EFI executable of the spec (built or read). */
async function bootFiles(ctx: BuildContext, cmdline: string) {
  const { spec } = ctx;
  const busybox = await resolveBusybox(ctx);
  const tree = await initramfsTree(ctx, busybox);
  if (typeof spec.kernel === 'object') {
    const kernel = await kernelWithBuiltInInitramfs(ctx, tree, cmdline);
    return { kernel, initrd: undefined, efi: kernel };
  }
  ctx.progress.start('writing initramfs', tree.stats().bytes, 'bytes');
  const initrd = await concatChunks(
    initramfsChunks(tree, { compress: spec.initramfs?.compress ?? 'gzip', progress: ctx.progress }),
  );
  ctx.progress.done();
  const kernel = (await resolveKernel(ctx)).bytes;
  const stubPath = spec.uki?.stub;
  if (stubPath === undefined || stubPath === 'none') {
    ctx.warn('no uki.stub: the image boots under BIOS only (give the systemd-boot-efi stub for UEFI)');
    return { kernel, initrd, efi: undefined };
  }
  const stub = readHostFile(stubPath, 'EFI stub (apt-get install systemd-boot-efi)');
  const osrel = spec.uki?.osrel;
  const efi = buildUefiSystem({ kernel, initrd, cmdline, stub, ...(osrel ? { osrel } : {}) }).efi;
  return { kernel, initrd, efi };
}

/** iso.files: ISO path -> host file, read lazily. */
function extraFiles(ctx: BuildContext) {
  return Object.entries(ctx.spec.iso?.files ?? {}).map(([path, host]) => {
    let size: number;
    try {
      const st = statSync(host);
      if (!st.isFile())
        throw new UsageError('E_USAGE_NOT_FILE', `iso.files: ${host} is not a regular file`, { path: host });
      size = st.size;
    } catch (e) {
      if (e instanceof UsageError) throw e;
      throw hostError(e, host, 'read iso.files entry');
    }
    return { path, content: pathContent(host, size) };
  });
}

export async function buildIsoKind(ctx: BuildContext): Promise<void> {
  const { spec } = ctx;
  const cmdline = spec.cmdline ?? 'console=ttyS0';
  const files = extraFiles(ctx);
  const { kernel, initrd, efi } = await bootFiles(ctx, cmdline);
  ctx.log('making the El Torito core image with grub-mkimage');
  const grub = await hostLiveGrub();
  const live = planLiveIso({
    kernel,
    ...(initrd ? { initrd } : {}),
    cmdline,
    grub,
    efi,
    label: spec.iso?.label,
    seed: spec.iso?.seed,
    epoch: ctx.epoch,
    files,
    progress: ctx.progress,
  });
  const uefi = efi ? ' and UEFI (ESP with the UKI)' : '';
  const what = `hybrid ISO 9660: El Torito BIOS (GRUB)${uefi}, MBR + GPT for USB sticks`;
  await record(ctx, spec.iso?.output ?? 'live.iso', what, (p) =>
    withOutputFile(p, async (tmp) => {
      const dev = FileDevice.create(tmp, live.size);
      try {
        await writeLiveIso(live, dev);
        dev.flush();
      } finally {
        dev.close();
      }
    }),
  );
}
