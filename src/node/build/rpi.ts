/**
 * The rpi build: a Raspberry Pi SD-card image (MBR; FAT32 boot partition
 * with config.txt, cmdline.txt, kernel8.img, the board device trees and the
 * firmware; ext4 root with the busybox distro of the bios kind, found by
 * root=PARTUUID=<signature>-02). A distribution kernel's modules directory
 * adds the module initramfs with the SD card drivers. `rootfs.from` lays
 * sources over the root as for the bios kind; `--format` writes the card into
 * a container (qcow2 boots in QEMU like the raw card).
 */
import { UsageError } from '../../core/errors.js';
import { uncompressedKernel } from '../../core/boot/kernel.js';
import { checkBiosBusybox } from '../../core/system/bios.js';
import { planRpiImage, writeRpiImage, type RpiImageOptions } from '../../core/system/rpi.js';
import { parseSize } from '../../core/units.js';
import { applyLayer } from '../../core/archive/oci/layer.js';
import { treeFingerprint } from '../../core/tree/fingerprint.js';
import type { FileTree } from '../../core/tree/tree.js';
import { treeFromHostDir } from '../host/tree.js';
import { hostModules } from '../system/bios-host.js';
import { distroOptions } from './bios.js';
import { openSources } from './sources.js';
import { hostDir, recordDisk, resolveBusybox, resolveKernel, type BuildContext } from './build.js';

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
  const from = spec.rootfs?.from
    ? await openSources(spec.rootfs.from, 'rootfs.from', { warn: ctx.warn, progress: ctx.progress })
    : undefined;
  const add = spec.rootfs?.add;
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
    // sources laid over the root make it another system: other ids unless disk.seed fixes them
    ...(from ? { seedInputs: `from:${treeFingerprint(from.tree)}` } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    ...(add || from
      ? {
          overlay: (root: FileTree) => {
            if (from) applyLayer(root, from.tree, from.implicitDirs ? { implicitDirs: from.implicitDirs } : {});
            if (add) treeFromHostDir(add, { tree: root, replace: true });
          },
        }
      : {}),
    progress: ctx.progress,
  };
  try {
    ctx.log('planning the boot and root filesystems');
    const plan = await planRpiImage(opts);
    const what = `SD card for the ${plan.board.name}: MBR, FAT32 boot, ext4 root (PARTUUID)`;
    await recordDisk(ctx, 'sdcard', what, plan.size, async (dev) => {
      await writeRpiImage(plan, dev);
    });
    ctx.log(`root=PARTUUID=${plan.partuuid}`);
    return plan.partuuid;
  } finally {
    from?.close();
  }
}
