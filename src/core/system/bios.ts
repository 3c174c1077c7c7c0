/**
 * The BIOS disk: an MBR disk with one bootable ext4 root partition at 1 MiB,
 * GRUB's boot.img in the MBR and core.img in the gap, the kernel at
 * /boot/vmlinuz, an optional module initramfs at /boot/initrd.img (for
 * distribution kernels that keep disk drivers and ext4 as modules), and the
 * busybox distro (src/distro) as the root filesystem, found by the kernel or
 * the initramfs as root=PARTUUID=<signature>-01.
 *
 * No host access here: the caller passes the kernel, busybox, the modules
 * directory as a FileTree and GRUB's images/files (see grub-host.ts).
 */
import { UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { SubDevice } from '../io/device.js';
import type { FileTree } from '../tree/tree.js';
import { treeFingerprint } from '../tree/fingerprint.js';
import { crc32 } from '../binary/crc.js';
import { bytesContent } from '../tree/content.js';
import type { Content } from '../tree/types.js';
import { writeMbr, partuuid, derivedU32 } from '../partition/index.js';
import { writeExt4, ext4MinimumSize, type Ext4Options, type Ext4Summary } from '../fs/ext4/index.js';
import { cpioChunks } from '../archive/cpio/index.js';
import { gzipChunks, concatChunks } from '../compress/gzip.js';
import {
  buildRootfs,
  checkApplets,
  distroApplets,
  appletNeeds,
  DEFAULT_CONSOLE_CMDLINE,
  type DistroOptions,
} from '../distro/index.js';
import {
  addModules,
  modulesInitramfsTree,
  scanModules,
  DEFAULT_ROOT_MODULES,
  INITRAMFS_APPLETS,
  type ModuleIndex,
} from '../initramfs/modules.js';
import { addGrubFiles, grubConfig, installGrubBios, type GrubFiles, type GrubInstallResult } from '../boot/grub.js';
import type { Progress } from '../progress.js';

const MiB = 1 << 20;

export interface BiosGrub {
  /** boot.img (512 bytes). */
  boot: Uint8Array;
  /** core.img made with grub-mkimage -O i386-pc -p '(hd0,msdos1)/boot/grub' biosdisk part_msdos ext2. */
  core: Uint8Array;
  /** GRUB's i386-pc directory (moddep.lst, *.mod, *.lst). */
  files: GrubFiles;
}

export interface BiosModules {
  /** The modules directory (lib/modules/VERSION) as a tree whose root is that directory. */
  tree: FileTree;
  /** Kernel release, the directory name (e.g. "6.1.0-56-amd64"). */
  version: string;
  /** Modules the initramfs loads (default DEFAULT_ROOT_MODULES: IDE, AHCI, virtio, NVMe, ext4; missing ones skipped). */
  initramfs?: readonly string[];
  /** Put all modules in the root filesystem (default true); false: only the initramfs set. */
  all?: boolean;
}

export interface BiosDiskOptions {
  kernel: Uint8Array | Content;
  busybox: Uint8Array | Content;
  grub: BiosGrub;
  /** Distribution kernel modules; when given an initramfs is built and GRUB loads it. */
  modules?: BiosModules;
  /** The rootfs recipe (busybox, epoch and root source are filled in). */
  distro?: Omit<DistroOptions, 'busybox' | 'epoch' | 'rootSource'>;
  /** Extra kernel arguments after "root=PARTUUID=... rw console=tty0 console=ttyS0". */
  append?: string;
  /** Replace the console part of the command line (default "console=tty0 console=ttyS0"). */
  console?: string;
  /** Whole disk size in bytes (multiple of 1 MiB); default: the root filesystem's minimum size plus 1 MiB. */
  diskSize?: number;
  /** Extra free space in the root filesystem when sizing automatically (bytes, default 16 MiB). */
  freeSpace?: number;
  /** MBR disk signature (default derived from `seed`). */
  signature?: number;
  /** Seed for the signature and filesystem UUIDs (default "tinyimage"). */
  seed?: string;
  /** SOURCE_DATE_EPOCH: time of every file and of the filesystem. */
  epoch?: number;
  /** Options for the ext4 writer (label, features, ...). */
  ext4?: Omit<Ext4Options, 'size' | 'epoch' | 'progress'>;
  /** Files to add to (or replace in) the root filesystem after the recipe. */
  overlay?: (root: FileTree) => void;
  grubTimeout?: number;
  progress?: Progress;
}

export interface BiosDiskResult {
  size: number;
  signature: number;
  /** PARTUUID of the root partition ("1234abcd-01"). */
  partuuid: string;
  partition: { offset: number; size: number };
  cmdline: string;
  grub: GrubInstallResult;
  ext4: Ext4Summary;
  /** Size of /boot/initrd.img and the modules it loads, when there is one. */
  initrd?: { size: number; modules: string[] };
}

/** The prepared root tree, before any disk exists (to size the disk). */
export interface BiosDiskPlan {
  root: FileTree;
  size: number;
  partitionSize: number;
  signature: number;
  partuuid: string;
  cmdline: string;
  initrd?: { size: number; modules: string[] };
  ext4: Ext4Options;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/** Check the busybox binary against everything the disk needs (before any work). */
export function checkBiosBusybox(o: Pick<BiosDiskOptions, 'busybox' | 'distro' | 'modules'>): void {
  const distro = { ...(o.distro ?? {}), busybox: o.busybox } as DistroOptions;
  const applets = distroApplets(distro);
  const needs = appletNeeds(distro);
  if (o.modules) for (const a of INITRAMFS_APPLETS) needs.set(a, [...(needs.get(a) ?? []), 'the module initramfs']);
  checkApplets(applets, [...needs.keys()].sort(), needs);
}

/**
 * The default seed of the disk signature (and so the PARTUUID, which the root
 * tree itself holds): the distro tree's fingerprint and the kernel's size and
 * first bytes, so different systems get different signatures.
 */
function biosSeed(o: BiosDiskOptions): string {
  const probe = buildRootfs({ ...(o.distro ?? {}), busybox: o.busybox, epoch: o.epoch ?? 0, rootSource: 'PARTUUID=' });
  const k = o.kernel instanceof Uint8Array ? o.kernel : undefined;
  const head = k ? k.subarray(0, 4096) : (o.kernel as Content).readAt?.(0, 4096);
  const size = k ? k.length : (o.kernel as Content).size;
  return `bios:${treeFingerprint(probe)}:${size}:${head ? crc32(head).toString(16) : ''}:${o.modules?.version ?? ''}`;
}

/** Build the root tree (distro + kernel + modules + initramfs + GRUB files) and size the disk. */
export async function planBiosDisk(o: BiosDiskOptions): Promise<BiosDiskPlan> {
  checkBiosBusybox(o);
  const seed = o.seed ?? biosSeed(o);
  const signature = (o.signature ?? derivedU32(`mbr-signature:${seed}`)) >>> 0;
  const pu = partuuid(signature, 1);
  const epoch = o.epoch ?? 0;
  const root = buildRootfs({
    ...(o.distro ?? {}),
    busybox: o.busybox,
    epoch,
    rootSource: `PARTUUID=${pu}`,
    rootType: o.ext4?.type ?? 'ext4',
  });
  const kernel = o.kernel instanceof Uint8Array ? bytesContent(o.kernel) : o.kernel;
  root.addFile('/boot/vmlinuz', kernel, { mode: 0o644 }, { replace: true });

  let initrd: BiosDiskPlan['initrd'];
  if (o.modules) {
    o.progress?.start('reading kernel modules');
    const index: ModuleIndex = await scanModules(o.modules.tree);
    const { tree: irTree, modules } = modulesInitramfsTree({
      busybox: o.busybox,
      index,
      version: o.modules.version,
      ...(o.modules.initramfs ? { load: o.modules.initramfs } : {}),
      epoch,
    });
    addModules(root, index, o.modules.version, {
      source: o.modules.tree,
      ...(o.modules.all === false ? { subset: modules } : {}),
    });
    const bytes = await concatChunks(gzipChunks(cpioChunks(irTree)));
    root.addFile('/boot/initrd.img', bytes, { mode: 0o644 }, { replace: true });
    initrd = { size: bytes.length, modules: modules.map((m) => m.name) };
    o.progress?.done();
  }
  const console = o.console ?? DEFAULT_CONSOLE_CMDLINE;
  const append = o.append?.trim();
  if (append && /[\n\r]/.test(append))
    throw new UsageError('E_USAGE_CMDLINE', 'append: the kernel command line may not contain a newline', {
      field: 'append',
    });
  // Without an initramfs the kernel mounts the root itself: rootwait lets it wait for
  // disks that are probed asynchronously (virtio, NVMe, USB) instead of panicking.
  const cmdline = [`root=PARTUUID=${pu}`, 'rw', initrd ? '' : 'rootwait', console, append].filter(Boolean).join(' ');
  addGrubFiles(root, o.grub.files, {
    config: grubConfig({
      cmdline,
      ...(initrd ? { initrd: '/boot/initrd.img' } : {}),
      ...(o.grubTimeout !== undefined ? { timeout: o.grubTimeout } : {}),
    }),
  });
  o.overlay?.(root);

  const ext4: Ext4Options = { ...(o.ext4 ?? {}), epoch };
  let size: number;
  let partitionSize: number;
  if (o.diskSize !== undefined) {
    if (!Number.isSafeInteger(o.diskSize) || o.diskSize % MiB !== 0 || o.diskSize < 4 * MiB) {
      throw new UsageError(
        'E_USAGE_DISK_SIZE',
        `disk size must be a whole number of MiB and at least 4 MiB, got ${o.diskSize}`,
        { field: 'diskSize', actual: o.diskSize },
      );
    }
    size = o.diskSize;
    partitionSize = size - MiB;
    const min = ext4MinimumSize(root, { ...ext4, headroom: 0 });
    if (partitionSize < min) {
      throw new UsageError(
        'E_USAGE_DISK_SIZE',
        `disk size ${size / MiB} MiB is too small: the root filesystem needs at least ${Math.ceil(min / MiB)} MiB plus 1 MiB for the MBR and GRUB`,
        { field: 'diskSize', expected: min + MiB, actual: size },
      );
    }
  } else {
    partitionSize = roundUp(ext4MinimumSize(root, ext4) + (o.freeSpace ?? 16 * MiB), MiB);
    size = partitionSize + MiB;
  }
  return { root, size, partitionSize, signature, partuuid: pu, cmdline, ...(initrd ? { initrd } : {}), ext4 };
}

/** Write a planned BIOS disk onto `dev` (at least plan.size bytes). */
export async function writeBiosDisk(
  plan: BiosDiskPlan,
  grub: BiosGrub,
  dev: BlockDevice,
  progress?: Progress,
): Promise<BiosDiskResult> {
  if (dev.size < plan.size)
    throw new UsageError('E_USAGE_DISK_SIZE', `the device has ${dev.size} bytes, the disk needs ${plan.size}`, {
      expected: plan.size,
      actual: dev.size,
    });
  const partitionSize = plan.partitionSize + (dev.size - plan.size) - ((dev.size - plan.size) % MiB);
  writeMbr(dev, {
    signature: plan.signature,
    partitions: [{ offset: MiB, size: partitionSize, type: 'linux', bootable: true }],
  });
  const ext4 = await writeExt4(plan.root, new SubDevice(dev, MiB, partitionSize), {
    ...plan.ext4,
    ...(progress ? { progress } : {}),
  });
  const g = installGrubBios(dev, { boot: grub.boot, core: grub.core }, { firstPartitionSector: MiB / 512 });
  dev.flush();
  return {
    size: dev.size,
    signature: plan.signature,
    partuuid: plan.partuuid,
    partition: { offset: MiB, size: partitionSize },
    cmdline: plan.cmdline,
    grub: g,
    ext4,
    ...(plan.initrd ? { initrd: plan.initrd } : {}),
  };
}

/**
 * Build the whole BIOS disk. `dev` is a device of at least the disk size,
 * or a function that creates one once the size is known (e.g.
 * `(size) => FileDevice.create(path, size)`).
 */
export async function buildBiosDisk(
  o: BiosDiskOptions,
  dev: BlockDevice | ((size: number) => BlockDevice),
): Promise<BiosDiskResult> {
  const plan = await planBiosDisk(o);
  const d = typeof dev === 'function' ? dev(plan.size) : dev;
  return writeBiosDisk(plan, o.grub, d, o.progress);
}

export { DEFAULT_ROOT_MODULES };
