/**
 * The bios build: a raw MBR disk with one ext4 root partition found by
 * root=PARTUUID=<signature>-01, GRUB in the MBR gap, the busybox distro layer
 * (init, getty, runit-style services). A distribution kernel's modules
 * directory adds a module initramfs that GRUB loads.
 */
import { UsageError } from '../../core/errors.js';
import { FileDevice } from '../io/file.js';
import { withOutputFile } from '../host/output.js';
import { treeFromHostDir } from '../host/tree.js';
import { checkBiosBusybox, planBiosDisk, writeBiosDisk, type BiosDiskOptions } from '../../core/system/bios.js';
import { hostBiosGrub, hostModules } from '../system/bios-host.js';
import { BUILTIN_SERVICES, type ServiceDef } from '../../core/distro/index.js';
import { parseSize } from '../../core/units.js';
import { readHostFile, record, resolveBusybox, resolveKernel, type BuildContext } from './build.js';

const MiB = 1 << 20;

/** The busybox distro of the spec's rootfs section (services as a list or a mapping, root password, keymap). */
export function distroOptions(ctx: BuildContext): NonNullable<BiosDiskOptions['distro']> {
  const r = ctx.spec.rootfs ?? {};
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
  return {
    ...(r.hostname ? { hostname: r.hostname } : {}),
    ...(r.consoles ? { consoles: r.consoles } : {}),
    services,
    ...(r.rootPassword?.hash ? { rootPassword: r.rootPassword.hash } : {}),
    ...(r.rootPassword?.locked ? { rootLocked: true } : {}),
    ...(r.keymap ? { keymap: readHostFile(r.keymap, 'keymap') } : {}),
  };
}

export async function buildBiosKind(ctx: BuildContext): Promise<string | undefined> {
  const { spec } = ctx;
  const r = spec.rootfs ?? {};
  const distro = distroOptions(ctx);
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
  const opts: BiosDiskOptions = {
    kernel: kernel.bytes,
    busybox,
    grub,
    distro,
    ...(modules ? { modules } : {}),
    ...(spec.cmdline !== undefined ? { console: spec.cmdline } : {}),
    ...(diskSize ? { diskSize } : {}),
    ...(spec.disk?.seed ? { seed: spec.disk.seed } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    ...(r.add
      ? {
          overlay: (root) => {
            treeFromHostDir(r.add!, { tree: root, replace: true });
          },
        }
      : {}),
    progress: ctx.progress,
  };
  ctx.log('planning the root filesystem');
  const plan = await planBiosDisk(opts);
  let partuuid: string | undefined;
  await record(ctx, spec.disk?.output ?? 'disk.img', 'MBR disk: ext4 root (PARTUUID), GRUB in the MBR gap', (p) =>
    withOutputFile(p, async (tmp) => {
      const dev = FileDevice.create(tmp, plan.size);
      try {
        const res = await writeBiosDisk(plan, grub, dev, ctx.progress);
        partuuid = res.partuuid;
        dev.flush();
      } finally {
        dev.close();
      }
    }),
  );
  ctx.log(`root=PARTUUID=${partuuid}`);
  return partuuid;
}
