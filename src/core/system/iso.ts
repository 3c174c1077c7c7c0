/**
 * The live ISO: one hybrid image that boots from a CD and from a USB stick,
 * under BIOS and UEFI alike.
 *
 * - BIOS, CD: El Torito no-emulation entry -> GRUB's i386-pc-eltorito core
 *   image (/boot/grub/i386-pc/eltorito.img, with its boot info table and
 *   GRUB2 boot info patched in) -> grub.cfg -> /boot/vmlinuz + /boot/initrd.gz.
 * - BIOS, disk: GRUB's boot_hybrid.img in the MBR loads the same image's
 *   diskboot.img from its 512-byte address (patched at 0x1B0).
 * - UEFI, CD: El Torito EFI entry -> the ESP image appended after the ISO
 *   volume -> /EFI/BOOT/BOOTX64.EFI (a UKI: stub + kernel + initramfs +
 *   command line).
 * - UEFI, disk: the GPT's ESP partition (the same appended image).
 *
 * `files` puts more files beside /boot: the hook for a read-only root,
 * e.g. /live/root.squashfs, that an initramfs mounts.
 */
import { UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { addGrubFiles, grubConfig, type GrubFiles } from '../boot/grub.js';
import { fatMinimumSize, writeFat, type FatOptions } from '../fs/fat/index.js';
import { planIso9660, writeIso9660, type IsoOptions, type IsoSummary } from '../fs/iso9660/index.js';
import type { Progress } from '../progress.js';
import { FileTree } from '../tree/tree.js';
import type { Content } from '../tree/types.js';
import { espTree } from './uefi.js';

/** Where the image keeps what it boots. */
export const LIVE_KERNEL = '/boot/vmlinuz';
export const LIVE_INITRD = '/boot/initrd.gz';
export const LIVE_ELTORITO = '/boot/grub/i386-pc/eltorito.img';

export interface LiveIsoGrub {
  /** `grub-mkimage -O i386-pc-eltorito -p /boot/grub biosdisk iso9660` output. */
  eltorito: Uint8Array;
  /** GRUB's boot_hybrid.img (MBR code for booting the image as a disk); without it only the CD boots under BIOS. */
  hybridMbr?: Uint8Array | undefined;
  /** The i386-pc module directory (moddep.lst, *.mod). */
  files: GrubFiles;
  timeout?: number;
}

export interface LiveIsoOptions {
  kernel: Content | Uint8Array;
  /** The initramfs GRUB loads (none for a kernel with its initramfs built in). */
  initrd?: Content | Uint8Array | undefined;
  /** Kernel command line for GRUB's entry (the UKI carries its own). */
  cmdline: string;
  /** GRUB for BIOS (CD and disk). */
  grub?: LiveIsoGrub | undefined;
  /** The EFI executable for UEFI (a UKI), installed as /EFI/BOOT/BOOTX64.EFI on the appended ESP. */
  efi?: Uint8Array | undefined;
  /** Volume label (default "TINYLINUX"). */
  label?: string | undefined;
  /** SOURCE_DATE_EPOCH: every time in the image (default 0). */
  epoch?: number | undefined;
  /** Seed of the GPT's GUIDs (default: derived from the image's contents). */
  seed?: string | undefined;
  /** More files in the ISO (absolute paths), e.g. a squashfs root at /live/root.squashfs. */
  files?: Array<{ path: string; content: Content | Uint8Array }> | undefined;
  progress?: Progress | undefined;
}

export interface LiveIso {
  /** The ISO 9660 tree (the ESP is appended, not in it). */
  tree: FileTree;
  options: IsoOptions;
  /** Image size in bytes. */
  size: number;
}

/** The ESP as an appended partition: a FAT volume just large enough for the EFI executable. */
function espPartition(efi: Uint8Array, epoch: number): NonNullable<IsoOptions['appended']>[number] {
  const tree = espTree({ efi, epoch });
  const fat: FatOptions = { label: 'ESP', epoch };
  const size = Math.ceil(fatMinimumSize(tree, fat) / 2048) * 2048;
  return { size, type: 'esp', name: 'EFI System Partition', write: (dev: BlockDevice) => writeFat(tree, dev, fat) };
}

/** Lay out the live ISO (no bytes written yet). */
export function planLiveIso(o: LiveIsoOptions): LiveIso {
  if (!o.grub && !o.efi)
    throw new UsageError('E_USAGE_LIVE_ISO', 'a live ISO needs GRUB for BIOS, an EFI executable for UEFI, or both', {});
  const epoch = o.epoch ?? 0;
  const tree = new FileTree({ defaultTime: epoch });
  tree.addFile(LIVE_KERNEL, o.kernel, { mode: 0o644 });
  if (o.initrd) tree.addFile(LIVE_INITRD, o.initrd, { mode: 0o644 });
  for (const f of o.files ?? []) tree.addFile(f.path, f.content, { mode: 0o644 });
  const entries: NonNullable<IsoOptions['boot']>['entries'] = [];
  if (o.grub) {
    const config = grubConfig({
      cmdline: o.cmdline,
      kernel: LIVE_KERNEL,
      ...(o.initrd ? { initrd: LIVE_INITRD } : {}),
      insmod: ['iso9660'],
      ...(o.grub.timeout !== undefined ? { timeout: o.grub.timeout } : {}),
    });
    addGrubFiles(tree, o.grub.files, { config, modules: ['iso9660'] });
    tree.addFile(LIVE_ELTORITO, o.grub.eltorito, { mode: 0o644 });
    entries.push({ platform: 'bios', image: LIVE_ELTORITO, loadSectors: 4, bootInfoTable: true, grub2BootInfo: true });
  }
  const appended = o.efi ? [espPartition(o.efi, epoch)] : [];
  if (o.efi) entries.push({ platform: 'efi', image: { appended: 0 } });
  const options: IsoOptions = {
    label: o.label ?? 'TINYLINUX',
    epoch,
    boot: { entries },
    appended,
    hybrid: {
      ...(o.grub?.hybridMbr ? { mbrCode: o.grub.hybridMbr, grub2Mbr: true } : {}),
      ...(o.seed ? { seed: o.seed } : {}),
    },
    ...(o.progress ? { progress: o.progress } : {}),
  };
  options.plan = planIso9660(tree, options);
  return { tree, options, size: options.plan.size };
}

/** Write a planned live ISO to `dev` (live.size bytes, zeroed). */
export function writeLiveIso(live: LiveIso, dev: BlockDevice): Promise<IsoSummary> {
  return writeIso9660(live.tree, dev, live.options);
}
