/**
 * The tiny UEFI system: one EFI executable (a UKI: systemd stub + kernel +
 * initramfs + command line) at /EFI/BOOT/BOOTX64.EFI on a FAT32 EFI system
 * partition, the only partition of a GPT disk. UEFI firmware boots it as
 * removable media with no NVRAM boot entry.
 */
import { CapacityError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { fatMinimumSize, writeFat, type FatOptions } from '../fs/fat/index.js';
import { buildDisk, diskSize, nullDevice, type DiskLayout, type DiskResult } from '../image/disk.js';
import type { Progress } from '../progress.js';
import { FileTree } from '../tree/tree.js';
import { bytesContent } from '../tree/content.js';
import { buildUki } from '../boot/uki.js';

/** Where removable-media firmware looks for the x86-64 loader. */
export const REMOVABLE_PATH_X64 = '/EFI/BOOT/BOOTX64.EFI';

export interface UefiUsbOptions {
  /** The EFI executable to install as /EFI/BOOT/BOOTX64.EFI. */
  efi: Uint8Array;
  /** More files for the ESP (merged at the root; must not contain /EFI/BOOT/BOOTX64.EFI). */
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

/** The ESP's tree: `extra` merged at the root, the EFI executable at /EFI/BOOT/BOOTX64.EFI. */
export function espTree(opts: Pick<UefiUsbOptions, 'efi' | 'extra' | 'epoch'>): FileTree {
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
  t.addFile(REMOVABLE_PATH_X64, bytesContent(opts.efi), { mtime: epoch, mode: 0o755 });
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
  /** bzImage with the EFI stub. */
  kernel: Uint8Array;
  /** Initramfs (e.g. gzip'd newc cpio). */
  initrd?: Uint8Array;
  cmdline?: string;
  /** systemd's linuxx64.efi.stub (read DEFAULT_EFI_STUB_PATH on the host). Without it the bare kernel is used (no initrd/cmdline allowed). */
  stub?: Uint8Array;
  osrel?: string;
  seed?: string;
  epoch?: number;
}

export interface UefiSystem {
  /** The EFI executable (UKI, or the bare kernel). Write it as BOOTX64.EFI. */
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
