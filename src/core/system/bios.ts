/**
 * The BIOS disk: an MBR disk with one bootable ext4 root partition at 1 MiB,
 * GRUB's boot.img in the MBR and core.img in the gap, the kernel at
 * /boot/vmlinuz, an optional module initramfs at /boot/initrd.img (for
 * distribution kernels that keep disk drivers and ext4 as modules), and the
 * busybox distro (src/distro) as the root filesystem, found by the kernel or
 * the initramfs as root=PARTUUID=<signature>-01.
 *
 * With a read-only root (squashfs or EROFS, bios-ro.ts) partition 1 is a
 * small ext4 /boot for GRUB and partition 2 the root, found as
 * root=PARTUUID=<signature>-02 and mounted read-only.
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
import type { ErofsSummary } from '../fs/erofs/index.js';
import type { SquashfsSummary } from '../fs/squashfs/index.js';
import { FileTree as Tree } from '../tree/tree.js';
import {
  planReadOnlyRoot,
  writeReadOnlyRoot,
  type ReadOnlyFormat,
  type ReadOnlyRoot,
  type ReadOnlyRootOptions,
} from './bios-ro.js';

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
  /**
   * Modules the initramfs loads (default DEFAULT_ROOT_MODULES: IDE, AHCI, virtio, NVMe, ext4, missing ones
   * skipped; with a read-only root the disk drivers and squashfs or erofs).
   */
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
  /** Options for the ext4 writer (label, features, ...): the root's, or /boot's with a read-only root. */
  ext4?: Omit<Ext4Options, 'size' | 'epoch' | 'progress'>;
  /**
   * The root filesystem (default ext4, read-write, in partition 1). squashfs
   * and EROFS roots are read-only, in partition 2 behind a small ext4 /boot
   * partition 1 that GRUB reads; tmpfs holds /run, /tmp and /var.
   */
  rootFormat?: BiosRootFormat;
  /** Writer options of a read-only root (the squashfs compressor, EROFS inline data, ...). */
  readOnlyRoot?: ReadOnlyRootOptions;
  /** Files to add to (or replace in) the root filesystem after the recipe. */
  overlay?: (root: FileTree) => void;
  grubTimeout?: number;
  progress?: Progress;
}

export type BiosRootFormat = 'ext4' | ReadOnlyFormat;

export interface BiosDiskResult {
  /** Bytes the disk uses (a squashfs root may leave the end of the device unused). */
  size: number;
  signature: number;
  /** PARTUUID of the root partition ("1234abcd-01"; "-02" for a read-only root). */
  partuuid: string;
  /** The root partition. */
  partition: { offset: number; size: number };
  rootFormat: BiosRootFormat;
  /** The ext4 /boot partition of a read-only root. */
  boot?: { offset: number; size: number; partuuid: string };
  cmdline: string;
  grub: GrubInstallResult;
  /** The ext4 filesystem written: the root, or /boot with a read-only root. */
  ext4: Ext4Summary;
  /** The read-only root's writer summary. */
  squashfs?: SquashfsSummary;
  erofs?: ErofsSummary;
  /** Size of /boot/initrd.img and the modules it loads, when there is one. */
  initrd?: { size: number; modules: string[] };
}

/** The prepared root tree, before any disk exists (to size the disk). */
export interface BiosDiskPlan {
  root: FileTree;
  /** Disk size: exact, or an upper bound when a squashfs root's compressed size is not yet known. */
  size: number;
  /** The root partition's size (an upper bound for squashfs). */
  partitionSize: number;
  rootFormat: BiosRootFormat;
  /** A read-only root's /boot partition tree (kernel, initramfs, GRUB) and size. */
  boot?: { tree: FileTree; size: number };
  readOnly?: ReadOnlyRoot;
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
  const format = o.rootFormat && o.rootFormat !== 'ext4' ? `:${o.rootFormat}` : '';
  return `bios:${treeFingerprint(probe)}:${size}:${head ? crc32(head).toString(16) : ''}:${o.modules?.version ?? ''}${format}`;
}

/**
 * Build the root tree (distro + kernel + modules + initramfs + GRUB files)
 * and size the disk. With a read-only root the kernel, the initramfs and
 * GRUB's files go to the /boot partition's tree instead.
 */
export async function planBiosDisk(o: BiosDiskOptions): Promise<BiosDiskPlan> {
  checkBiosBusybox(o);
  const format = o.rootFormat ?? 'ext4';
  if (!['ext4', 'squashfs', 'erofs'].includes(format))
    throw new UsageError('E_USAGE_ROOT_FORMAT', `root format '${format}' is not ext4, squashfs or erofs`, {
      field: 'rootFormat',
      actual: format,
    });
  const ro = format !== 'ext4';
  const seed = o.seed ?? biosSeed(o);
  const signature = (o.signature ?? derivedU32(`mbr-signature:${seed}`)) >>> 0;
  const pu = partuuid(signature, ro ? 2 : 1);
  const epoch = o.epoch ?? 0;
  const root = buildRootfs({
    ...(o.distro ?? {}),
    busybox: o.busybox,
    epoch,
    rootSource: `PARTUUID=${pu}`,
    rootType: ro ? format : (o.ext4?.type ?? 'ext4'),
    ...(ro ? { readOnly: true } : {}),
  });
  const boot = ro ? new Tree({ defaultTime: epoch }) : root;
  if (ro) boot.mkdir('/boot', { mode: 0o755 });
  const kernel = o.kernel instanceof Uint8Array ? bytesContent(o.kernel) : o.kernel;
  boot.addFile('/boot/vmlinuz', kernel, { mode: 0o644 }, { replace: true });
  const initrd = o.modules ? await moduleInitrd(o, root, boot, format, epoch) : undefined;
  const console = o.console ?? DEFAULT_CONSOLE_CMDLINE;
  const append = o.append?.trim();
  if (append && /[\n\r]/.test(append))
    throw new UsageError('E_USAGE_CMDLINE', 'append: the kernel command line may not contain a newline', {
      field: 'append',
    });
  // Without an initramfs the kernel mounts the root itself: rootwait lets it wait for
  // disks that are probed asynchronously (virtio, NVMe, USB) instead of panicking.
  const cmdline = [
    `root=PARTUUID=${pu}`,
    ro ? `ro rootfstype=${format}` : 'rw',
    initrd ? '' : 'rootwait',
    console,
    append,
  ]
    .filter(Boolean)
    .join(' ');
  addGrubFiles(boot, o.grub.files, {
    config: grubConfig({
      cmdline,
      ...(initrd ? { initrd: '/boot/initrd.img' } : {}),
      ...(o.grubTimeout !== undefined ? { timeout: o.grubTimeout } : {}),
    }),
  });
  o.overlay?.(root);
  const ext4: Ext4Options = { ...(o.ext4 ?? {}), epoch };
  const base = { root, signature, partuuid: pu, cmdline, rootFormat: format, ...(initrd ? { initrd } : {}), ext4 };
  if (!ro) return { ...base, ...sizeExt4Disk(o, root, ext4) };
  const readOnly = planReadOnlyRoot(root, format, epoch, o.readOnlyRoot ?? {});
  return { ...base, ...sizeReadOnlyDisk(o, boot, readOnly, ext4), readOnly };
}

/** The module initramfs (in /boot) and the modules (in the root). */
async function moduleInitrd(
  o: BiosDiskOptions,
  root: FileTree,
  boot: FileTree,
  format: BiosRootFormat,
  epoch: number,
): Promise<BiosDiskPlan['initrd']> {
  const m = o.modules!;
  o.progress?.start('reading kernel modules');
  const index: ModuleIndex = await scanModules(m.tree);
  const { tree: irTree, modules } = modulesInitramfsTree({
    busybox: o.busybox,
    index,
    version: m.version,
    ...(m.initramfs ? { load: m.initramfs } : {}),
    rootFs: format,
    epoch,
  });
  addModules(root, index, m.version, { source: m.tree, ...(m.all === false ? { subset: modules } : {}) });
  const bytes = await concatChunks(gzipChunks(cpioChunks(irTree)));
  boot.addFile('/boot/initrd.img', bytes, { mode: 0o644 }, { replace: true });
  o.progress?.done();
  return { size: bytes.length, modules: modules.map((x) => x.name) };
}

function checkDiskSize(size: number): void {
  if (!Number.isSafeInteger(size) || size % MiB !== 0 || size < 4 * MiB) {
    throw new UsageError(
      'E_USAGE_DISK_SIZE',
      `disk size must be a whole number of MiB and at least 4 MiB, got ${size}`,
      {
        field: 'diskSize',
        actual: size,
      },
    );
  }
}

/** An ext4 root in partition 1 at 1 MiB: the given disk size, or the root's minimum plus free space. */
function sizeExt4Disk(o: BiosDiskOptions, root: FileTree, ext4: Ext4Options) {
  if (o.diskSize === undefined) {
    const partitionSize = roundUp(ext4MinimumSize(root, ext4) + (o.freeSpace ?? 16 * MiB), MiB);
    return { size: partitionSize + MiB, partitionSize };
  }
  checkDiskSize(o.diskSize);
  const partitionSize = o.diskSize - MiB;
  const min = ext4MinimumSize(root, { ...ext4, headroom: 0 });
  if (partitionSize < min) {
    throw new UsageError(
      'E_USAGE_DISK_SIZE',
      `disk size ${o.diskSize / MiB} MiB is too small: the root filesystem needs at least ${Math.ceil(min / MiB)} MiB plus 1 MiB for the MBR and GRUB`,
      { field: 'diskSize', expected: min + MiB, actual: o.diskSize },
    );
  }
  return { size: o.diskSize, partitionSize };
}

/** Room on /boot beyond what it holds (a larger kernel or initramfs later). */
const BOOT_FREE = 4 * MiB;

/** A read-only root: /boot at 1 MiB, the root after it (the rest of a given disk size). */
function sizeReadOnlyDisk(o: BiosDiskOptions, boot: FileTree, readOnly: ReadOnlyRoot, ext4: Ext4Options) {
  const bootSize = roundUp(ext4MinimumSize(boot, ext4) + BOOT_FREE, MiB);
  const bootPart = { tree: boot, size: bootSize };
  if (o.diskSize === undefined)
    return { size: MiB + bootSize + readOnly.partitionSize, partitionSize: readOnly.partitionSize, boot: bootPart };
  checkDiskSize(o.diskSize);
  const partitionSize = o.diskSize - MiB - bootSize;
  // a squashfs image's size is known once written: only an EROFS root is checked here
  const min = readOnly.format === 'erofs' ? readOnly.partitionSize : MiB;
  if (partitionSize < min) {
    throw new UsageError(
      'E_USAGE_DISK_SIZE',
      `disk size ${o.diskSize / MiB} MiB is too small: /boot needs ${bootSize / MiB} MiB and the root at least ${Math.ceil(min / MiB)} MiB, plus 1 MiB for the MBR and GRUB`,
      { field: 'diskSize', expected: MiB + bootSize + min, actual: o.diskSize },
    );
  }
  return { size: o.diskSize, partitionSize, boot: bootPart };
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
  if (plan.readOnly) return writeReadOnlyDisk(plan, grub, dev, progress);
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
    rootFormat: 'ext4',
    cmdline: plan.cmdline,
    grub: g,
    ext4,
    ...(plan.initrd ? { initrd: plan.initrd } : {}),
  };
}

/**
 * /boot (ext4) in partition 1, the read-only root in partition 2, then the
 * table (a squashfs root's partition is as large as its image turned out,
 * unless the disk size was given) and GRUB.
 */
async function writeReadOnlyDisk(
  plan: BiosDiskPlan,
  grub: BiosGrub,
  dev: BlockDevice,
  progress?: Progress,
): Promise<BiosDiskResult> {
  const boot = plan.boot!;
  const ro = plan.readOnly!;
  const ext4 = await writeExt4(boot.tree, new SubDevice(dev, MiB, boot.size), {
    ...plan.ext4,
    ...(progress ? { progress } : {}),
  });
  const offset = MiB + boot.size;
  const room = dev.size - offset - ((dev.size - offset) % MiB);
  const written = await writeReadOnlyRoot(ro, dev, offset, room, progress);
  const exact = ro.format === 'squashfs' && plan.size === MiB + boot.size + plan.partitionSize;
  const partitionSize = exact ? written.partitionSize : room;
  writeMbr(dev, {
    signature: plan.signature,
    partitions: [
      { offset: MiB, size: boot.size, type: 'linux', bootable: true },
      { offset, size: partitionSize, type: 'linux' },
    ],
  });
  const g = installGrubBios(dev, { boot: grub.boot, core: grub.core }, { firstPartitionSector: MiB / 512 });
  dev.flush();
  return {
    size: offset + partitionSize,
    signature: plan.signature,
    partuuid: plan.partuuid,
    partition: { offset, size: partitionSize },
    rootFormat: ro.format,
    boot: { offset: MiB, size: boot.size, partuuid: partuuid(plan.signature, 1) },
    cmdline: plan.cmdline,
    grub: g,
    ext4,
    ...(ro.format === 'squashfs'
      ? { squashfs: written.summary as SquashfsSummary }
      : { erofs: written.summary as ErofsSummary }),
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
