/**
 * The rpi build: a Raspberry Pi SD-card image (MBR; FAT32 boot partition
 * with config.txt, cmdline.txt, kernel8.img, the board device trees and the
 * firmware; ext4 root with the busybox distro of the bios kind, found by
 * root=PARTUUID=<signature>-02). A distribution kernel's modules directory
 * adds the module initramfs with the SD card drivers.
 */
import { UsageError } from '../../core/errors.js';
import { uncompressedKernel } from '../../core/boot/kernel.js';
import { checkBiosBusybox } from '../../core/system/bios.js';
import { planRpiImage, writeRpiImage, type RpiImageOptions } from '../../core/system/rpi.js';
import { parseSize } from '../../core/units.js';
import { FileDevice } from '../io/file.js';
import { withOutputFile } from '../host/output.js';
import { treeFromHostDir } from '../host/tree.js';
import { hostModules } from '../system/bios-host.js';
import { distroOptions } from './bios.js';
import { hostDir, record, resolveBusybox, resolveKernel, type BuildContext } from './build.js';

function bytesOf(v: number | string | undefined, field: string): number | undefined {
  return v === undefined ? undefined : typeof v === 'number' ? v : parseSize(v, field);
}

/** The device trees: the spec's directory, else those of a kernel built here. */
function dtbDir(ctx: BuildContext, built: string | undefined): string {
  const dir = ctx.spec.dtbs ?? built;
  if (!dir)
    throw new UsageError(
      'E_USAGE_SPEC',
      "the rpi build needs the kernel's device trees: --dtbs DIR or 'dtbs:' in the spec " +
        '(Debian: usr/lib/linux-image-VERSION of the arm64 kernel package, with broadcom/*.dtb)',
      { field: 'dtbs' },
    );
  return dir;
}

export async function buildRpiKind(ctx: BuildContext): Promise<string | undefined> {
  const { spec } = ctx;
  const r = spec.rpi ?? {};
  const distro = distroOptions(ctx);
  const modules = spec.modules ? hostModules(spec.modules) : undefined;
  if (spec.dtbs) hostDir(spec.dtbs, 'device-tree directory');
  const firmware = r.firmware ? hostDir(r.firmware, 'firmware directory') : undefined;
  // check the busybox before the (possibly long) kernel build
  const busybox = await resolveBusybox(ctx);
  checkBiosBusybox({ busybox, distro: { ...distro }, ...(modules ? { modules } : {}) });
  const kernel = await resolveKernel(ctx);
  const opts: RpiImageOptions = {
    kernel: await uncompressedKernel(kernel.bytes),
    busybox,
    dtbs: treeFromHostDir(dtbDir(ctx, kernel.dtbs)),
    distro,
    ...(r.board ? { board: r.board } : {}),
    ...(firmware ? { firmware } : {}),
    ...(modules ? { modules } : {}),
    ...(spec.cmdline !== undefined ? { console: spec.cmdline } : {}),
    ...(r.config ? { config: r.config } : {}),
    ...(r.bootSize !== undefined ? { bootSize: bytesOf(r.bootSize, 'rpi.bootSize')! } : {}),
    ...(spec.disk?.size !== undefined ? { diskSize: bytesOf(spec.disk.size, 'disk.size')! } : {}),
    ...(spec.disk?.powerOfTwo ? { powerOfTwo: true } : {}),
    ...(spec.disk?.seed ? { seed: spec.disk.seed } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    ...(spec.rootfs?.add
      ? { overlay: (root) => void treeFromHostDir(spec.rootfs!.add!, { tree: root, replace: true }) }
      : {}),
    progress: ctx.progress,
  };
  ctx.log('planning the boot and root filesystems');
  const plan = await planRpiImage(opts);
  const name = spec.disk?.output ?? 'sdcard.img';
  await record(ctx, name, `SD card for the ${plan.board.name}: MBR, FAT32 boot, ext4 root (PARTUUID)`, (p) =>
    withOutputFile(p, async (tmp) => {
      const dev = FileDevice.create(tmp, plan.size);
      try {
        await writeRpiImage(plan, dev);
        dev.flush();
      } finally {
        dev.close();
      }
    }),
  );
  ctx.log(`root=PARTUUID=${plan.partuuid}`);
  return plan.partuuid;
}
