/**
 * The bios build: a raw MBR disk with one ext4 root partition found by
 * root=PARTUUID=<signature>-01, GRUB in the MBR gap, the busybox distro layer
 * (init, getty, runit-style services). A distribution kernel's modules
 * directory adds a module initramfs that GRUB loads. `rootfs.format:
 * squashfs | erofs` makes the root read-only, in partition 2 behind an ext4
 * /boot partition 1.
 */
import { UsageError } from '../../core/errors.js';
import { treeFromHostDir } from '../host/tree.js';
import { checkBiosBusybox, planBiosDisk, writeBiosDisk, type BiosDiskOptions } from '../../core/system/bios.js';
import { hostBiosGrub, hostModules } from '../system/bios-host.js';
import { nodeGzipCompressor } from '../squashfs/compress.js';
import { BUILTIN_SERVICES, type ServiceDef } from '../../core/distro/index.js';
import { parseSize } from '../../core/units.js';
import { applyLayer } from '../../core/archive/oci/layer.js';
import { crc32 } from '../../core/binary/crc.js';
import { treeFingerprint } from '../../core/tree/fingerprint.js';
import type { FileTree } from '../../core/tree/tree.js';
import { openSources } from './sources.js';
import { readHostFile, recordDisk, resolveBusybox, resolveKernel, type BuildContext } from './build.js';

const MiB = 1 << 20;

export async function buildBiosKind(ctx: BuildContext): Promise<string | undefined> {
  const { spec } = ctx;
  const r = spec.rootfs ?? {};
  const services: Record<string, boolean | ServiceDef> = {};
  if (Array.isArray(r.services)) {
    // a list names the services wanted: the built-ins it leaves out are off
    for (const name of Object.keys(BUILTIN_SERVICES)) services[name] = false;
    for (const s of r.services) {
      if (typeof s === 'string') services[s] = true;
      else services[s.name] = { run: s.run, ...(s.enabled !== undefined ? { enabled: s.enabled } : {}) };
    }
  } else {
    for (const [name, v] of Object.entries(r.services ?? {}))
      services[name] =
        typeof v === 'boolean' ? v : { run: v.run, ...(v.enabled !== undefined ? { enabled: v.enabled } : {}) };
  }
  for (const s of r.disableServices ?? []) services[s] = false;
  const distro: NonNullable<BiosDiskOptions['distro']> = {
    ...(r.hostname ? { hostname: r.hostname } : {}),
    ...(r.consoles ? { consoles: r.consoles } : {}),
    services,
    ...(r.rootPassword?.hash ? { rootPassword: r.rootPassword.hash } : {}),
    ...(r.rootPassword?.locked ? { rootLocked: true } : {}),
    ...(r.keymap ? { keymap: readHostFile(r.keymap, 'keymap') } : {}),
  };
  let diskSize: number | undefined;
  if (spec.disk?.size !== undefined) {
    diskSize = typeof spec.disk.size === 'number' ? spec.disk.size : parseSize(spec.disk.size, 'disk.size');
    if (diskSize % MiB)
      throw new UsageError('E_USAGE_SPEC', `disk.size must be a whole number of MiB, got ${diskSize} bytes`, {
        field: 'disk.size',
      });
  }
  const modules = spec.modules ? hostModules(spec.modules) : undefined;
  // check the busybox before the (possibly long) kernel build
  const busybox = await resolveBusybox(ctx);
  checkBiosBusybox({ busybox, distro: { ...distro }, ...(modules ? { modules } : {}) });
  const kernel = await resolveKernel(ctx);
  const grub = await hostBiosGrub();
  const from = r.from
    ? await openSources(r.from, 'rootfs.from', { warn: ctx.warn, progress: ctx.progress })
    : undefined;
  const opts: BiosDiskOptions = {
    kernel: kernel.bytes,
    busybox,
    grub,
    distro,
    ...(modules ? { modules } : {}),
    ...(spec.cmdline !== undefined ? { console: spec.cmdline } : {}),
    ...(diskSize ? { diskSize } : {}),
    ...(spec.disk?.seed || from ? { seed: spec.disk?.seed ?? fromSeed(from!.tree, kernel.bytes) } : {}),
    ...(r.format ? { rootFormat: r.format } : {}),
    ...(r.format === 'squashfs' ? { readOnlyRoot: { squashfs: { compressor: nodeGzipCompressor() } } } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    ...(r.add || from
      ? {
          overlay: (root: FileTree) => {
            if (from) applyLayer(root, from.tree, from.implicitDirs ? { implicitDirs: from.implicitDirs } : {});
            if (r.add) treeFromHostDir(r.add, { tree: root, replace: true });
          },
        }
      : {}),
    progress: ctx.progress,
  };
  try {
    ctx.log('planning the root filesystem');
    const plan = await planBiosDisk(opts);
    let partuuid: string | undefined;
    const what =
      plan.rootFormat === 'ext4'
        ? 'MBR disk: ext4 root (PARTUUID), GRUB in the MBR gap'
        : `MBR disk: ext4 /boot, read-only ${plan.rootFormat} root (PARTUUID), GRUB in the MBR gap`;
    await recordDisk(ctx, 'disk', what, plan.size, async (dev) => {
      const res = await writeBiosDisk(plan, grub, dev, ctx.progress);
      partuuid = res.partuuid;
      return res.size;
    });
    ctx.log(`root=PARTUUID=${partuuid}`);
    return partuuid;
  } finally {
    from?.close();
  }
}

/** The disk's default seed when the root has sources of its own: they make it another system. */
function fromSeed(tree: FileTree, kernel: Uint8Array): string {
  return `bios-from:${treeFingerprint(tree)}:${kernel.length}:${crc32(kernel.subarray(0, 4096)).toString(16)}`;
}
