/**
 * openImage(): one entry point for every format. Detects gzip'd and plain
 * (also concatenated) newc cpio, MBR and GPT disks, ext2/3/4,
 * FAT12/16/32, squashfs, EROFS and ISO 9660, and nests them: a disk's partitions each open
 * as their filesystem (`disk.img:2` selects partition 2; a hybrid ISO opens
 * as ISO 9660, and `live.iso:2` as its ESP). Returns a read-only view
 * over the shared tree model; file contents are read lazily. Detection
 * reads magic numbers only; each format's reader (and each container's) is
 * imported when an image of that format is opened.
 */
import { FormatError, UsageError } from '../errors.js';
import { SubDevice, type BlockDevice } from '../io/device.js';
import { detectContainer } from '../container/detect.js';
import { EROFS_MAGIC, SUPER_OFFSET as EROFS_MAGIC_AT } from '../fs/erofs/structs.js';
import type { ContainerInfo } from '../container/types.js';
import type { ExtentResolver } from '../container/vmdk/read.js';
import { FileTree } from '../tree/tree.js';
import { TreeView } from './view.js';
import { readPartitionTable, type PartitionInfo, type PartitionTable } from '../partition/index.js';
import { isIso9660 } from '../fs/iso9660/structs.js';
import { probeExt } from '../fs/ext4/readsuper.js';

export type FsKind =
  'cpio' | 'cpio.gz' | 'ext2' | 'ext3' | 'ext4' | 'fat12' | 'fat16' | 'fat32' | 'squashfs' | 'erofs' | 'iso9660';
export type ImageKind = FsKind | 'mbr' | 'gpt';

export interface FsImage extends TreeView {
  kind: FsKind;
  /** Key fields of the superblock / boot sector / archive. */
  info: Record<string, unknown>;
  /** Byte offset of this filesystem inside the opened file (non-zero for partitions). */
  offset: number;
  size: number;
  /** Problems the reader worked around (e.g. cpio members with unsafe names it left out). */
  warnings: string[];
}

export interface DiskPartition extends PartitionInfo {
  /** The filesystem detected inside, or undefined when none is recognised. */
  fs?: FsImage;
  fsError?: string;
}

export interface DiskImage {
  kind: 'mbr' | 'gpt';
  table: PartitionTable;
  partitions: DiskPartition[];
  size: number;
  /** Other signatures found on the whole disk that lost to the partition table (e.g. a stray ext superblock). */
  alsoFound: string[];
}

export function isDisk(i: FsImage | DiskImage): i is DiskImage {
  return i.kind === 'mbr' || i.kind === 'gpt';
}

const CHUNK = 1 << 20;

async function* deviceChunks(dev: BlockDevice): AsyncGenerator<Uint8Array> {
  for (let off = 0; off < dev.size; off += CHUNK) yield dev.readAt(off, Math.min(CHUNK, dev.size - off));
}

/** What the first bytes of a device look like, without parsing deeply. */
export function detect(dev: BlockDevice): ImageKind | undefined {
  if (dev.size < 6) return undefined;
  const head = dev.readAt(0, Math.min(dev.size, 4096));
  if (head[0] === 0x1f && head[1] === 0x8b) return 'cpio.gz';
  const magic = String.fromCharCode(...head.subarray(0, 6));
  if (magic === '070701' || magic === '070702') return 'cpio';
  if (magic.startsWith('hsqs')) return 'squashfs';
  if (isErofs(dev)) return 'erofs';
  // before the partition tables: a hybrid ISO's MBR and GPT describe the ISO itself, as blkid decides
  if (isIso9660(dev)) return 'iso9660';
  const ext = probeExt(dev);
  // a valid partition table wins over an ext superblock left in sector 2 by
  // an earlier use of the disk, as blkid decides (openDisk reports it)
  if (ext) return partitionedKind(dev, head) ?? ext;
  if (head.length >= 512 && head[510] === 0x55 && head[511] === 0xaa) {
    if (looksLikeFat(head)) {
      const t = fatType(head);
      if (t) return t;
    }
    return gptOrMbr(dev);
  }
  return undefined;
}

function isErofs(dev: BlockDevice): boolean {
  if (dev.size < EROFS_MAGIC_AT + 4) return false;
  return new DataView(dev.readAt(EROFS_MAGIC_AT, 4).buffer).getUint32(0, true) === EROFS_MAGIC;
}

function gptOrMbr(dev: BlockDevice): 'mbr' | 'gpt' {
  if (dev.size >= 1024 && String.fromCharCode(...dev.readAt(512, 8)) === 'EFI PART') return 'gpt';
  return 'mbr';
}

/** 'mbr'/'gpt' when the boot sector holds a partition table with at least one partition inside the device. */
function partitionedKind(dev: BlockDevice, head: Uint8Array): 'mbr' | 'gpt' | undefined {
  if (head.length < 512 || head[510] !== 0x55 || head[511] !== 0xaa || looksLikeFat(head)) return undefined;
  try {
    const t = readPartitionTable(dev);
    const inside = t?.partitions.some((p) => p.size > 0 && p.offset >= 512 && p.offset + p.size <= dev.size);
    return inside ? gptOrMbr(dev) : undefined;
  } catch {
    return undefined;
  }
}

function looksLikeFat(b: Uint8Array): boolean {
  const bps = b[11]! | (b[12]! << 8);
  const spc = b[13]!;
  const reserved = b[14]! | (b[15]! << 8);
  const fats = b[16]!;
  return (
    (b[0] === 0xeb || b[0] === 0xe9) &&
    [512, 1024, 2048, 4096].includes(bps) &&
    spc > 0 &&
    (spc & (spc - 1)) === 0 &&
    reserved > 0 &&
    fats >= 1 &&
    fats <= 4
  );
}

function fatType(b: Uint8Array): FsKind | undefined {
  const s = (o: number) => String.fromCharCode(...b.subarray(o, o + 8));
  const rootEntries = b[17]! | (b[18]! << 8);
  const fatsz16 = b[22]! | (b[23]! << 8);
  if (rootEntries === 0 && fatsz16 === 0) return 'fat32';
  if (s(0x36).startsWith('FAT12')) return 'fat12';
  if (s(0x36).startsWith('FAT16')) return 'fat16';
  // no label string: decide by cluster count
  const bps = b[11]! | (b[12]! << 8);
  const spc = b[13]!;
  const reserved = b[14]! | (b[15]! << 8);
  const fats = b[16]!;
  const total = b[19]! | (b[20]! << 8) || (b[32]! | (b[33]! << 8) | (b[34]! << 16) | (b[35]! << 24)) >>> 0;
  const rootSecs = Math.ceil((rootEntries * 32) / bps);
  const clusters = Math.floor((total - reserved - fats * fatsz16 - rootSecs) / spc);
  return clusters < 4085 ? 'fat12' : 'fat16';
}

/** A filesystem reader's volume as an FsImage: its tree, kind, info and warnings. */
function fsImage(
  v: { tree: FileTree; info: object },
  kind: FsKind,
  dev: BlockDevice,
  offset: number,
  warnings: string[] = [],
): FsImage {
  return Object.assign(new TreeView(v.tree), { kind, info: { ...v.info }, offset, size: dev.size, warnings });
}

/** Open a filesystem or archive on `dev` (no partition table). */
export async function openFilesystem(
  dev: BlockDevice,
  kind: ImageKind | undefined = detect(dev),
  offset = 0,
): Promise<FsImage> {
  switch (kind) {
    case 'cpio':
    case 'cpio.gz': {
      const warnings: string[] = [];
      const { readCpioTree } = await import('../archive/cpio/index.js');
      const tree = await readCpioTree(deviceChunks(dev), { unsafeNames: 'skip', warn: (m) => warnings.push(m) });
      return Object.assign(new TreeView(tree), {
        kind,
        info: { format: kind === 'cpio' ? 'newc cpio' : 'gzip newc cpio', bytes: dev.size },
        offset,
        size: dev.size,
        warnings,
      });
    }
    case 'ext2':
    case 'ext3':
    case 'ext4': {
      const { openExt4 } = await import('../fs/ext4/read.js');
      const v = openExt4(dev);
      // the reader's own list: warnings found later (lazily read xattrs) show up too
      return fsImage(v, v.info.type as FsKind, dev, offset, v.warnings);
    }
    case 'fat12':
    case 'fat16':
    case 'fat32': {
      const { openFat } = await import('../fs/fat/reader.js');
      const v = openFat(dev);
      return fsImage(v, v.info.type as FsKind, dev, offset);
    }
    case 'squashfs': {
      const { openSquashfs } = await import('../fs/squashfs/read.js');
      return fsImage(openSquashfs(dev), kind, dev, offset);
    }
    case 'iso9660': {
      const { openIso9660 } = await import('../fs/iso9660/read.js');
      const v = openIso9660(dev);
      return fsImage(v, kind, dev, offset, v.warnings);
    }
    case 'erofs': {
      const { openErofs } = await import('../fs/erofs/read.js');
      return fsImage(openErofs(dev), kind, dev, offset);
    }
    case 'mbr':
    case 'gpt':
      throw new FormatError(
        'E_FORMAT_IS_DISK',
        `this is a partitioned disk (${kind.toUpperCase()}); name a partition, e.g. IMAGE:1`,
        { format: kind },
      );
    default:
      throw new FormatError(
        'E_FORMAT_UNKNOWN',
        'not a recognised image: expected a newc cpio (optionally gzip or another codec), an ext2/3/4, FAT, squashfs, EROFS or ISO 9660 filesystem, or an MBR/GPT disk',
        { offset },
      );
  }
}

/** Open a partitioned disk, each partition with its filesystem when one is recognised. */
export async function openDisk(dev: BlockDevice): Promise<DiskImage> {
  const table = readPartitionTable(dev);
  if (!table) throw new FormatError('E_FORMAT_NO_TABLE', 'no MBR or GPT partition table found', {});
  const partitions: DiskPartition[] = [];
  for (const p of table.partitions) {
    const entry: DiskPartition = { ...p };
    if (
      p.offset + p.size <= dev.size &&
      p.size > 0 &&
      !(table.scheme === 'mbr' && ['0x05', '0x0f', '0x85'].includes(p.type))
    ) {
      try {
        const sub = new SubDevice(dev, p.offset, p.size);
        const k = detect(sub);
        if (k && k !== 'mbr' && k !== 'gpt') entry.fs = await openFilesystem(sub, k, p.offset);
      } catch (e) {
        entry.fsError = (e as Error).message;
      }
    }
    partitions.push(entry);
  }
  const stray = probeExt(dev);
  const alsoFound = stray
    ? [
        `${stray} superblock at offset 1024 (ignored: the partition table wins, as blkid decides; left from an earlier use of the disk?)`,
      ]
    : [];
  return { kind: table.scheme, table, partitions, size: dev.size, alsoFound };
}

export interface OpenDeviceOptions {
  /** Select partition N of a partitioned disk. */
  partition?: number;
  /** What to call the device in messages (a file name). */
  name?: string;
  /** Opens the extent files a VMDK descriptor names (relative to it); without it such images are refused. */
  resolve?: ExtentResolver;
}

/**
 * Open what a device holds: a filesystem or archive, or a partitioned disk
 * (`partition` selects one of its partitions). Virtual disk containers
 * (qcow2, VHD, VMDK, Android sparse) are unwrapped first, so `disk.qcow2:1`
 * opens partition 1 of the disk inside; `container` says which it was.
 */
export async function openDevice(
  outer: BlockDevice,
  opts: OpenDeviceOptions = {},
): Promise<(FsImage | DiskImage) & { container?: ContainerInfo }> {
  const c =
    detectContainer(outer) === undefined
      ? undefined
      : (await import('../container/open.js')).openContainer(outer, opts.resolve ? { resolve: opts.resolve } : {});
  const img = await openUnwrapped(c ? c.device : outer, opts);
  return c ? Object.assign(img, { container: c.info }) : img;
}

async function openUnwrapped(dev: BlockDevice, opts: OpenDeviceOptions): Promise<FsImage | DiskImage> {
  const { partition } = opts;
  const name = opts.name ?? 'image';
  const kind = detect(dev);
  if (partition === undefined) return kind === 'mbr' || kind === 'gpt' ? openDisk(dev) : openFilesystem(dev, kind);
  const hybrid = kind === 'iso9660' && readPartitionTable(dev) !== undefined;
  if (kind !== 'mbr' && kind !== 'gpt' && !hybrid)
    throw new UsageError('E_USAGE_NOT_DISK', `${name} has no partition table, so ':${partition}' selects nothing`, {
      path: name,
    });
  const disk = await openDisk(dev);
  const p = disk.partitions.find((x) => x.index === partition);
  if (!p)
    throw new UsageError(
      'E_USAGE_NO_PARTITION',
      `${name} has no partition ${partition} (it has ${disk.partitions.map((x) => x.index).join(', ') || 'none'})`,
      { path: name },
    );
  if (!p.fs)
    throw new FormatError(
      'E_FORMAT_UNKNOWN',
      `partition ${partition} of ${name} holds no recognised filesystem${p.fsError ? `: ${p.fsError}` : ''}`,
      { offset: p.offset },
    );
  return p.fs;
}

export { TreeView, FileTree };
