/** What writeIso9660 accepts and reports, with the checks of the user's options. */
import { UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import type { Progress } from '../../progress.js';
import type { Content } from '../../tree/types.js';
import type { IsoLevel } from './names.js';

export interface IsoBootEntry {
  /** 'bios' (platform 0x00, x86) or 'efi' (platform 0xEF). */
  platform: 'bios' | 'efi';
  /**
   * The boot image: the path of a regular file of the tree (visible on the
   * disc, as grub-mkrescue does with /boot/grub/i386-pc/eltorito.img), a
   * content kept out of the directory tree, or an appended partition
   * (`{ appended: 0 }`: the ESP image, as xorriso's
   * `-e --interval:appended_partition_2:all::`).
   */
  image: string | { content: Content } | { appended: number };
  /** Sectors of 512 bytes the firmware loads (default: 4 for BIOS, the whole image for EFI, at most 65535). */
  loadSectors?: number;
  /** Patch the boot info table into the image at byte 8 (mkisofs -boot-info-table; isolinux and GRUB need it). */
  bootInfoTable?: boolean;
  /** Patch GRUB2's boot info at byte 2548: the image's 512-byte LBA + 5 (xorriso --grub2-boot-info). */
  grub2BootInfo?: boolean;
}

export interface IsoBootOptions {
  /** The first entry is the initial/default entry; the others go to sections by platform. The catalog is hidden. */
  entries: IsoBootEntry[];
}

/** A partition image appended after the ISO 9660 volume (the ESP of a hybrid image). */
export interface IsoAppended {
  /** Size in bytes (a multiple of 512). */
  size: number;
  /** GPT type alias or GUID for the hybrid partition table (default 'esp'). */
  type?: string;
  /** GPT partition name. */
  name?: string;
  /** Write the partition's bytes onto `dev`, a window of `size` bytes at its place in the image. */
  write(dev: BlockDevice): Promise<unknown> | unknown;
}

export interface IsoHybridOptions {
  /** Up to 440 bytes of MBR boot code (GRUB's boot_hybrid.img). Default: none (zeros). */
  mbrCode?: Uint8Array;
  /** Patch byte 0x1B0 of the MBR with the first BIOS boot image's 512-byte LBA + 4 (xorriso --grub2-mbr). */
  grub2Mbr?: boolean;
  /** Seed of the disk and partition GUIDs (default: derived from the tree's fingerprint and the label). */
  seed?: string;
}

export interface IsoOptions {
  /** Volume identifier, up to 32 printable ASCII characters (Joliet keeps its first 16). Default "ISOIMAGE". */
  label?: string | undefined;
  /** Interchange level 1, 2 or 3 (default 3: 30-character names, files above 4 GiB in several extents). */
  level?: IsoLevel | undefined;
  /** Rock Ridge: POSIX names, modes, owners, times, links, devices, deep directories (default true). */
  rockRidge?: boolean | undefined;
  /** Joliet names for Windows: true (64 characters, default), 'long' (103) or false. */
  joliet?: boolean | 'long' | undefined;
  /** SOURCE_DATE_EPOCH: the volume's creation and modification dates (default 0). */
  epoch?: number | undefined;
  systemId?: string | undefined;
  volumeSetId?: string | undefined;
  publisher?: string | undefined;
  /** Data preparer (default "TINYIMAGE"). */
  preparer?: string | undefined;
  application?: string | undefined;
  /** El Torito boot entries. */
  boot?: IsoBootOptions | undefined;
  /** Partition images after the volume (in order). */
  appended?: IsoAppended[] | undefined;
  /** An MBR and a GPT in the system area, so the image also boots as a disk (isohybrid). */
  hybrid?: IsoHybridOptions | boolean | undefined;
  /** Receives warnings (entries Joliet leaves out, clamped times, xattrs not stored). */
  warn?: ((message: string) => void) | undefined;
  progress?: Progress | undefined;
  /** A plan from planIso9660() for the same tree and options, to scan the tree once. */
  plan?: IsoPlanHandle | undefined;
}

/** The tree laid out for ISO 9660 (names, extents, sizes); valid while the tree is unchanged. */
export interface IsoPlanHandle {
  /** Bytes the image needs: the volume, appended partitions and a hybrid GPT's backup. */
  readonly size: number;
  /** @internal */
  readonly prepared: unknown;
}

export interface IsoSummary {
  size: number;
  /** Blocks of 2048 bytes in the ISO 9660 volume. */
  volumeBlocks: number;
  label: string;
  level: IsoLevel;
  rockRidge: boolean;
  joliet: boolean;
  files: number;
  dirs: number;
  bytes: number;
  /** Directories moved to /rr_moved for the 8-level limit. */
  relocated: number;
  /** Files stored in more than one extent (above 4 GiB). */
  multiExtent: number;
  /** El Torito entries: platform, load RBA (2048-byte block), sectors. */
  boot: Array<{ platform: 'bios' | 'efi'; block: number; sectors: number }>;
  /** Byte offsets of appended partitions. */
  appended: Array<{ offset: number; size: number }>;
}

/** Printable ASCII only (0x20..0x7E), at most `max` characters. */
export function checkText(what: string, s: string | undefined, max: number): string | undefined {
  if (s === undefined) return undefined;
  if (s.length > max || !/^[\x20-\x7e]*$/.test(s))
    throw new UsageError(
      'E_USAGE_ISO_TEXT',
      `${what} must be at most ${max} printable ASCII characters, got ${JSON.stringify(s)}`,
      { field: what, actual: s },
    );
  return s;
}

export function checkLevel(level: number | undefined): IsoLevel {
  const l = level ?? 3;
  if (l !== 1 && l !== 2 && l !== 3)
    throw new UsageError('E_USAGE_ISO_LEVEL', `ISO 9660 level must be 1, 2 or 3, got ${l}`, { actual: l });
  return l;
}
