/**
 * The tiny UEFI system: one EFI executable (a UKI: systemd stub + kernel +
 * initramfs + command line) at the removable-media path of its architecture
 * (/EFI/BOOT/BOOTX64.EFI, /EFI/BOOT/BOOTAA64.EFI: read from its PE machine)
 * on a FAT32 EFI system partition, the only partition of a GPT disk. UEFI
 * firmware boots it as removable media with no NVRAM boot entry.
 */
import { CapacityError, UsageError } from '../errors.js';
import { ARCH_FACTS, archOfPeMachine, peMachineName, type Arch } from '../arch.js';
import { peHeaderFacts } from '../boot/pe.js';
import type { BlockDevice } from '../io/device.js';
import { fatMinimumSize, writeFat, type FatOptions } from '../fs/fat/index.js';
import { buildDisk, diskSize, nullDevice, type DiskLayout, type DiskResult } from '../image/disk.js';
import type { Progress } from '../progress.js';
import { FileTree } from '../tree/tree.js';
import { bytesContent } from '../tree/content.js';
import { buildUki } from '../boot/uki.js';

/** Where removable-media firmware looks for the x86-64 loader. */
export const REMOVABLE_PATH_X64 = ARCH_FACTS.x86_64.efiRemovablePath;
/** Where removable-media firmware looks for the AArch64 loader. */
export const REMOVABLE_PATH_AA64 = ARCH_FACTS.arm64.efiRemovablePath;

export interface UefiUsbOptions {
  /** The EFI executable to install at /EFI/BOOT/BOOT<arch>.EFI (BOOTX64.EFI, BOOTAA64.EFI). */
  efi: Uint8Array;
  /** Its architecture; default: read from its PE machine type (and checked against it when given). */
  arch?: Arch;
  /** More files for the ESP (merged at the root; must not contain the loader's path). */
  extra?: FileTree;
  /** Disk size in bytes (default: the smallest that holds a valid FAT32 ESP). */
  size?: number;
  /** Seed for the disk/partition GUIDs and the FAT volume id (default "tinyimage-uefi"). */
  seed?: string;
  /** Timestamp of the files on the ESP (SOURCE_DATE_EPOCH, default 0). */
  epoch?: number;
  /** FAT volume label (default "ESP"). */
  label?: string;
  progress?: Progress;
}

/**
 * The architecture of an EFI executable, from its PE machine type; `arch`,
 * when given, must agree. Bytes that are not PE at all (a test payload) go
 * where `arch` says, x86-64 by default.
 */
export function efiArch(efi: Uint8Array, arch?: Arch): Arch {
  const pe = peHeaderFacts(efi);
  if (!pe) return arch ?? 'x86_64';
  const found = archOfPeMachine(pe.machine);
  if (!found)
    throw new UsageError(
      'E_USAGE_EFI_MACHINE',
      `the EFI executable is for ${peMachineName(pe.machine)}, not x86-64 or AArch64`,
      { field: 'efi', actual: pe.machine },
    );
  if (arch !== undefined && arch !== found)
    throw new UsageError(
      'E_USAGE_ARCH_MISMATCH',
      `the EFI executable is for ${found} (${peMachineName(pe.machine)}) but arch is ${arch}`,
      { field: 'arch', expected: arch, actual: found },
    );
  return found;
}

/** The ESP's tree: `extra` merged at the root, the EFI executable at its architecture's removable-media path. */
export function espTree(opts: Pick<UefiUsbOptions, 'efi' | 'arch' | 'extra' | 'epoch'>): FileTree {
  const epoch = opts.epoch ?? 0;
  const t = new FileTree({ defaultTime: epoch });
  if (opts.extra) {
    for (const e of opts.extra.walk()) {
      if (e.path === '/') continue;
      if (e.node.type === 'dir') t.mkdir(e.path, e.node);
      else t.put(e.path, e.node);
    }
  }
  t.mkdir('/EFI/BOOT', { mtime: epoch });
  t.mkdir('/EFI', { mtime: epoch });
  t.addFile(ARCH_FACTS[efiArch(opts.efi, opts.arch)].efiRemovablePath, bytesContent(opts.efi), {
    mtime: epoch,
    mode: 0o755,
  });
  return t;
}

const MiB = 1 << 20;
/** FAT32 needs 65525 clusters: with 512-byte clusters that is 32 MiB of data plus FATs and reserved sectors. */
const FAT32_FLOOR = 33 * MiB;

/**
 * The smallest whole-MiB FAT32 volume that holds `tree`: fatMinimumSize()
 * steps coarsely, so sizes from the FAT32 floor up are tried with a dry run.
 */
export async function smallestFat32Size(tree: FileTree, opts: FatOptions = {}): Promise<number> {
  const o: FatOptions = { ...opts, type: 'fat32' };
  const upper = Math.ceil(fatMinimumSize(tree, o) / MiB) * MiB;
  const files = tree.stats().bytes;
  for (let s = Math.max(FAT32_FLOOR, Math.floor(files / MiB) * MiB); s < upper; s += MiB) {
    try {
      await writeFat(tree, nullDevice(s), { ...o, warn: () => {} });
      return s;
    } catch (e) {
      if (!(e instanceof CapacityError)) throw e;
    }
  }
  return upper;
}

/** The disk layout of the UEFI USB image: GPT, one FAT32 ESP holding the EFI executable. */
export function uefiUsbLayout(opts: UefiUsbOptions, espSize?: number): DiskLayout {
  return {
    table: 'gpt',
    ...(opts.size !== undefined ? { size: opts.size } : {}),
    ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
    ...(opts.progress ? { progress: opts.progress } : {}),
    partitions: [
      {
        name: 'EFI System Partition',
        type: 'esp',
        fs: 'fat32',
        size: opts.size !== undefined ? 'rest' : (espSize ?? 'fit'),
        tree: espTree(opts),
        options: { ...espFatOptions(opts) },
      },
    ],
  };
}

/** Size in bytes of the USB image for these options: the smallest valid FAT32 ESP (whole MiB) plus the GPT. */
export async function uefiUsbSize(opts: UefiUsbOptions): Promise<number> {
  if (opts.size !== undefined) return diskSize(uefiUsbLayout(opts));
  const esp = await smallestFat32Size(espTree(opts), espFatOptions(opts));
  return diskSize(uefiUsbLayout(opts, esp));
}

function espFatOptions(opts: UefiUsbOptions): FatOptions {
  return { label: opts.label ?? 'ESP', epoch: opts.epoch ?? 0 };
}

/** Write the USB image to `dev` (create it with uefiUsbSize() bytes, or opts.size). */
export async function buildUefiUsb(opts: UefiUsbOptions, dev: BlockDevice): Promise<DiskResult> {
  const layout = uefiUsbLayout({ ...opts, size: dev.size });
  return buildDisk(layout, dev);
}

export interface UefiSystemInput {
  /** The EFI-stub kernel: an x86 bzImage or an uncompressed arm64 Image. */
  kernel: Uint8Array;
  /** Initramfs (e.g. gzip'd newc cpio). */
  initrd?: Uint8Array;
  cmdline?: string;
  /** systemd's EFI stub for the kernel's architecture (efiStubPath(arch) on the host). Without it the bare kernel is used (no initrd/cmdline allowed). */
  stub?: Uint8Array;
  osrel?: string;
  seed?: string;
  epoch?: number;
}

export interface UefiSystem {
  /** The EFI executable (UKI, or the bare kernel). Write it as BOOTX64.EFI (BOOTAA64.EFI on arm64). */
  efi: Uint8Array;
  /** Size the USB image needs. */
  usbSize(): Promise<number>;
  /** Write the USB image (GPT + FAT32 ESP) to a device of at least usbSize() bytes. */
  writeUsb(dev: BlockDevice, opts?: { progress?: Progress }): Promise<DiskResult>;
}

/** What `build --preset uefi` needs: the UKI and a writer for usb.img. */
export function buildUefiSystem(input: UefiSystemInput): UefiSystem {
  const efi = buildUki({
    linux: input.kernel,
    ...(input.stub ? { stub: input.stub } : {}),
    ...(input.initrd ? { initrd: input.initrd } : {}),
    ...(input.cmdline !== undefined ? { cmdline: input.cmdline } : {}),
    ...(input.osrel !== undefined ? { osrel: input.osrel } : {}),
  });
  const base: UefiUsbOptions = {
    efi,
    ...(input.seed ? { seed: input.seed } : {}),
    ...(input.epoch !== undefined ? { epoch: input.epoch } : {}),
  };
  return {
    efi,
    usbSize: () => uefiUsbSize(base),
    writeUsb: (dev, o = {}) => buildUefiUsb({ ...base, ...(o.progress ? { progress: o.progress } : {}) }, dev),
  };
}
