/**
 * Disk assembly: a layout of partitions (fixed size, percent of the disk,
 * the rest of the disk, or fit-to-contents) becomes a partition table plus
 * one filesystem written straight into each partition's window
 * (SubDevice) -- no temporary files. Everything that can fail for lack of
 * space is checked before the first byte is written.
 */
import { CapacityError, UsageError } from '../errors.js';
import { SubDevice, type BlockDevice } from '../io/device.js';
import { fatMinimumSize, writeFat, type FatOptions } from '../fs/fat/index.js';
import { ext4MinimumSize, writeExt4, type Ext4Options } from '../fs/ext4/index.js';
import type { Progress } from '../progress.js';
import { FileTree } from '../tree/tree.js';
import { treeFingerprint } from '../tree/fingerprint.js';
import type { Content } from '../tree/types.js';
import {
  GPT_TAIL_SECTORS,
  derivedGuid,
  derivedU32,
  gptTypeGuid,
  mbrTypeCode,
  SECTOR,
  writeGpt,
  writeMbr,
  type PartitionInfo,
  type TableScheme,
} from '../partition/index.js';

export type DiskFs = 'fat32' | 'fat16' | 'fat12' | 'ext4' | 'ext3' | 'ext2' | 'raw' | 'none';
export type PartitionSize = number | `${number}%` | 'rest' | 'fit';

export interface DiskPartition {
  /** GPT partition name. */
  name?: string;
  /** Type alias ('esp', 'linux', 'bios-boot', 'root-x86-64', 'swap', ...), MBR byte, or GPT GUID. Default: 'fat32' for FAT, 'linux' otherwise. */
  type?: string | number;
  /** Bytes (rounded up to 512), "NN%" of the disk, 'rest' (what is left), or 'fit' (minimum for the contents). */
  size: PartitionSize;
  /** MBR active flag / GPT legacy-BIOS-bootable attribute. */
  bootable?: boolean;
  /** MBR only: put into the extended partition (logical partitions must be listed consecutively). */
  logical?: boolean;
  /** GPT: unique partition GUID (default derived from the seed). */
  guid?: string;
  /** GPT attribute bits. */
  attributes?: bigint | number;
  /** Filesystem written into the partition. */
  fs: DiskFs;
  /** Files for FAT/ext filesystems (default: empty). */
  tree?: FileTree;
  /** Options for writeFat / writeExt4 (type, size and hiddenSectors are set for you); unknown keys are errors. */
  options?: DiskFsOptions;
  /** For fs 'raw': bytes copied to the start of the partition. */
  content?: Content | Uint8Array;
}

/** What a partition's filesystem writer accepts: ext options for ext*, FAT options for fat*. */
export type DiskFsOptions = Partial<
  Omit<Ext4Options, 'type' | 'size'> & Omit<FatOptions, 'type' | 'size' | 'hiddenSectors'>
>;

const EXT_KEYS = [
  'blockSize',
  'inodeSize',
  'inodes',
  'bytesPerInode',
  'reservedPercent',
  'label',
  'uuid',
  'hashSeed',
  'hashAlg',
  'features',
  'headroom',
  'epoch',
  'journalBlocks',
  'progress',
] as const satisfies ReadonlyArray<keyof Ext4Options>;
const FAT_KEYS = [
  'label',
  'volumeId',
  'symlinks',
  'warn',
  'epoch',
  'progress',
  'oemName',
  'sectorsPerCluster',
  'headroom',
  'plan',
] as const satisfies ReadonlyArray<keyof FatOptions>;
// every option of either writer is listed (the compiler checks it)
type Unlisted =
  | Exclude<keyof Omit<Ext4Options, 'type' | 'size'>, (typeof EXT_KEYS)[number]>
  | Exclude<keyof Omit<FatOptions, 'type' | 'size' | 'hiddenSectors'>, (typeof FAT_KEYS)[number]>;
const everyOptionListed: [Unlisted] extends [never] ? true : Unlisted = true;
void everyOptionListed;

/** Throws a UsageError naming an option the partition's filesystem does not take. */
function checkOptions(p: DiskPartition, n: number): void {
  if (!p.options) return;
  const known: readonly string[] = isExt(p.fs) ? EXT_KEYS : isFat(p.fs) ? FAT_KEYS : [];
  for (const k of Object.keys(p.options)) {
    if (!known.includes(k))
      throw new UsageError(
        'E_USAGE_OPTION',
        `partition ${n}: '${k}' is not an option of a ${p.fs} filesystem${known.length ? ` (options: ${known.join(', ')})` : ''}`,
        { field: `partitions[${n - 1}].options.${k}` },
      );
  }
}

export interface DiskLayout {
  table: TableScheme;
  /** Disk size in bytes; default: just large enough (percent/rest then need a size). */
  size?: number;
  /** Seed for the disk id, partition GUIDs and filesystem ids (default: derived from the layout and every partition's contents). */
  seed?: string;
  /** MBR signature (number or hex string) or GPT disk GUID. */
  diskId?: string | number;
  /** Partition alignment in bytes (default 1 MiB). */
  align?: number;
  partitions: DiskPartition[];
  progress?: Progress;
}

export interface PlannedPartition {
  /** Linux partition number (MBR logical partitions from 5). */
  index: number;
  offset: number;
  size: number;
  spec: DiskPartition;
  /** FAT contents near the partition size: buildDisk checks them with a dry run before writing. */
  dryRun?: boolean;
}

export interface DiskPlan {
  table: TableScheme;
  size: number;
  partitions: PlannedPartition[];
}

export interface DiskResult {
  table: TableScheme;
  size: number;
  /** MBR signature (8 hex digits) or GPT disk GUID. */
  diskId: string;
  partitions: Array<PartitionInfo & { fs: DiskFs; summary?: unknown }>;
}

const MiB = 1 << 20;
const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;
const alignDown = (n: number, a: number) => Math.floor(n / a) * a;

const isFat = (fs: DiskFs): fs is 'fat32' | 'fat16' | 'fat12' => fs.startsWith('fat');
const isExt = (fs: DiskFs): fs is 'ext4' | 'ext3' | 'ext2' => fs.startsWith('ext');

function contentSize(c: Content | Uint8Array | undefined): number {
  return c === undefined ? 0 : c instanceof Uint8Array ? c.length : c.size;
}

/** The default seed: the layout and each partition's contents (tree metadata or raw size), so different disks differ. */
export function layoutSeed(layout: DiskLayout): string {
  const parts = layout.partitions.map((p) => {
    const what = p.tree ? treeFingerprint(p.tree) : String(contentSize(p.content));
    return `${p.fs}:${String(p.type ?? '')}:${String(p.size)}:${p.name ?? ''}:${what}`;
  });
  return `disk:${layout.table}:${layout.size ?? ''}:${parts.join('/')}`;
}

function fsOptions(p: DiskPartition, seed: string, n: number): Record<string, unknown> {
  checkOptions(p, n);
  const o: Record<string, unknown> = { ...(p.options ?? {}), type: p.fs };
  if (isFat(p.fs) && o.volumeId === undefined) o.volumeId = derivedU32(`fat-volume-id:${seed}:${n}`);
  if (isExt(p.fs) && o.uuid === undefined) o.uuid = derivedGuid(`ext-uuid:${seed}:${n}`);
  return o;
}

/** Minimum partition size for the contents (bytes, before alignment). */
function minimumSize(p: DiskPartition, seed: string, n: number, headroom?: number): number {
  const tree = p.tree ?? new FileTree();
  const opts = fsOptions(p, seed, n);
  if (headroom !== undefined) opts.headroom = headroom;
  if (isFat(p.fs)) return fatMinimumSize(tree, opts as FatOptions);
  if (isExt(p.fs)) return ext4MinimumSize(tree, opts as Ext4Options);
  if (p.fs === 'raw') return Math.max(SECTOR, contentSize(p.content));
  return SECTOR;
}

function checkLayout(layout: DiskLayout, total: number | undefined): void {
  if (layout.table !== 'mbr' && layout.table !== 'gpt')
    throw new UsageError('E_USAGE_DISK_TABLE', `table must be "mbr" or "gpt", got "${String(layout.table)}"`, {
      actual: layout.table,
    });
  const align = layout.align ?? MiB;
  if (!Number.isInteger(align) || align < SECTOR || align % SECTOR !== 0)
    throw new UsageError('E_USAGE_DISK_ALIGN', `align must be a positive multiple of 512, got ${align}`, {
      actual: align,
    });
  if (layout.partitions.length === 0)
    throw new UsageError('E_USAGE_DISK_EMPTY', 'a disk layout needs at least one partition', {});
  if (layout.partitions.filter((p) => p.size === 'rest').length > 1)
    throw new UsageError('E_USAGE_DISK_REST', 'only one partition can take the "rest" of the disk', {});
  const logical = layout.partitions.map((p) => !!p.logical);
  if (layout.table === 'gpt' && logical.some(Boolean))
    throw new UsageError('E_USAGE_DISK_LOGICAL', 'logical partitions exist only on MBR disks', {});
  const first = logical.indexOf(true),
    last = logical.lastIndexOf(true);
  if (first >= 0 && logical.slice(first, last + 1).some((x) => !x))
    throw new UsageError('E_USAGE_DISK_LOGICAL', 'logical partitions must be listed one after another', {});
  layout.partitions.forEach((p, i) => {
    if (!['fat32', 'fat16', 'fat12', 'ext4', 'ext3', 'ext2', 'raw', 'none'].includes(p.fs))
      throw new UsageError('E_USAGE_DISK_FS', `partition ${i + 1}: unknown filesystem "${String(p.fs)}"`, {
        actual: p.fs,
      });
    const t = p.type ?? (isFat(p.fs) ? p.fs : 'linux');
    if (layout.table === 'mbr') mbrTypeCode(t);
    else gptTypeGuid(t);
    if (p.tree && !isFat(p.fs) && !isExt(p.fs))
      throw new UsageError(
        'E_USAGE_DISK_TREE',
        `partition ${i + 1}: a file tree needs a FAT or ext filesystem, not "${p.fs}"`,
        {},
      );
    if (p.content !== undefined && p.fs !== 'raw')
      throw new UsageError('E_USAGE_DISK_CONTENT', `partition ${i + 1}: raw content needs fs "raw"`, {});
    const s = p.size;
    if (typeof s === 'number' && (!Number.isSafeInteger(s) || s <= 0))
      throw new UsageError(
        'E_USAGE_DISK_SIZE',
        `partition ${i + 1}: size ${s} must be a positive integer number of bytes`,
        { actual: s },
      );
    if (typeof s === 'string' && s !== 'rest' && s !== 'fit') {
      const m = /^(\d+(?:\.\d+)?)%$/.exec(s);
      if (!m || Number(m[1]) <= 0 || Number(m[1]) > 100)
        throw new UsageError(
          'E_USAGE_DISK_SIZE',
          `partition ${i + 1}: size "${s}" is not a number, "NN%", "rest" or "fit"`,
          { actual: s },
        );
      if (total === undefined)
        throw new UsageError('E_USAGE_DISK_SIZE', `partition ${i + 1}: a percent size needs the disk size`, {
          actual: s,
        });
    }
    if (s === 'rest' && total === undefined)
      throw new UsageError('E_USAGE_DISK_SIZE', `partition ${i + 1}: "rest" needs the disk size`, { actual: s });
  });
}

/**
 * Place every partition: sizes resolved, starts aligned. `totalSize`
 * overrides layout.size (buildDisk passes the device size). Throws
 * CapacityError when the partitions or their contents do not fit.
 */
export function planDisk(layout: DiskLayout, totalSize?: number, opts: { strict?: boolean } = {}): DiskPlan {
  const total = totalSize ?? layout.size;
  checkLayout(layout, total);
  const align = layout.align ?? MiB;
  const seed = layout.seed ?? layoutSeed(layout);
  const tail = layout.table === 'gpt' ? GPT_TAIL_SECTORS * SECTOR : 0;
  const usableEnd = total !== undefined ? alignDown(total, SECTOR) - tail : Infinity;
  // resolve non-'rest' sizes
  const sizes: Array<number | undefined> = [];
  for (const [i, p] of layout.partitions.entries()) {
    const s = p.size;
    if (s === 'rest') sizes.push(undefined);
    else if (s === 'fit') sizes.push(alignUp(minimumSize(p, seed, i + 1), align));
    else if (typeof s === 'number') sizes.push(alignUp(s, SECTOR));
    else sizes.push(Math.max(align, alignDown((total! * Number(s.slice(0, -1))) / 100, align)));
  }
  // walk: aligned starts, EBR gaps before logical partitions
  const gapFor = (p: DiskPartition) => (p.logical ? align : 0);
  const restIdx = layout.partitions.findIndex((p) => p.size === 'rest');
  if (restIdx >= 0) {
    // room taken by everything after the 'rest' partition
    let after = 0;
    for (let i = restIdx + 1; i < layout.partitions.length; i++)
      after += gapFor(layout.partitions[i]!) + alignUp(sizes[i]!, align);
    let cur = align;
    for (let i = 0; i < restIdx; i++)
      cur = alignUp(cur + gapFor(layout.partitions[i]!), align) + alignUp(sizes[i]!, align);
    const start = alignUp(cur + gapFor(layout.partitions[restIdx]!), align);
    const end = after > 0 ? alignDown(usableEnd - after, align) : alignDown(usableEnd, SECTOR);
    if (end - start < align)
      throw new CapacityError(
        'E_SPACE_DISK',
        `partition ${restIdx + 1} ("rest") would get ${Math.max(0, end - start)} bytes: the disk of ${total} bytes is full`,
        { expected: align, actual: end - start },
      );
    sizes[restIdx] = end - start;
  }
  const planned: PlannedPartition[] = [];
  let cur = align;
  let primaryNo = 0,
    logicalNo = 4,
    extendedCounted = false;
  for (const [i, p] of layout.partitions.entries()) {
    const start = alignUp(cur + gapFor(p), align);
    const size = sizes[i]!;
    let index: number;
    if (layout.table === 'mbr' && p.logical) {
      if (!extendedCounted) {
        primaryNo++;
        extendedCounted = true;
      }
      index = ++logicalNo;
    } else index = ++primaryNo;
    planned.push({ index, offset: start, size, spec: p });
    cur = start + size;
  }
  // MBR numbers primaries by table slot; the extended entry takes a slot in position order
  if (layout.table === 'mbr') {
    const slots = planned.filter((x) => !x.spec.logical).map((x) => ({ x, at: x.offset }));
    const ext = planned.find((x) => x.spec.logical);
    const all = [...slots, ...(ext ? [{ x: undefined, at: ext.offset - align }] : [])].sort((a, b) => a.at - b.at);
    all.forEach((s, k) => {
      if (s.x) s.x.index = k + 1;
    });
  }
  const natural = layout.table === 'gpt' ? alignUp(cur + tail, align) : alignUp(cur, SECTOR);
  const size = total ?? natural;
  if (cur > usableEnd) {
    throw new CapacityError('E_SPACE_DISK', `the partitions need ${natural} bytes but the disk has ${size}`, {
      expected: natural,
      actual: size,
    });
  }
  // contents must fit their partitions (checked before anything is written)
  for (const [i, x] of planned.entries()) {
    const p = x.spec;
    if (p.fs === 'none') continue;
    if (p.fs === 'raw') {
      if (contentSize(p.content) > x.size)
        throw new CapacityError(
          'E_SPACE_PARTITION',
          `partition ${x.index}: ${contentSize(p.content)} bytes of raw content do not fit its ${x.size} bytes`,
          { expected: x.size, actual: contentSize(p.content) },
        );
      continue;
    }
    if (p.size === 'fit') continue;
    const need = minimumSize(p, seed, i + 1, 0);
    // fatMinimumSize steps coarsely: a FAT partition just below it is settled by a dry run in buildDisk
    if (need > x.size && isFat(p.fs) && !opts.strict) {
      x.dryRun = true;
      continue;
    }
    if (need > x.size)
      throw new CapacityError(
        'E_SPACE_PARTITION',
        `partition ${x.index} (${p.fs}${p.name ? `, "${p.name}"` : ''}) needs at least ${need} bytes for its contents but is ${x.size} bytes`,
        { expected: need, actual: x.size },
      );
  }
  return { table: layout.table, size, partitions: planned };
}

/**
 * The disk size a layout needs (or its given size), after checking that
 * everything fits (FAT contents within a few percent of a fixed partition
 * size are settled by buildDisk's dry run).
 */
export function diskSize(layout: DiskLayout): number {
  return planDisk(layout).size;
}

/** A device that discards writes (dry runs of a writer's capacity checks). */
export function nullDevice(size: number): BlockDevice {
  return { size, readAt: (_o, n) => new Uint8Array(n), writeAt() {}, flush() {} };
}

function parseSignature(id: string | number | undefined): number | undefined {
  if (id === undefined) return undefined;
  if (typeof id === 'number') return id >>> 0;
  const m = /^(?:0x)?([0-9a-f]{1,8})$/i.exec(id);
  if (!m) throw new UsageError('E_USAGE_DISK_ID', `MBR disk id "${id}" is not a 32-bit hex number`, { actual: id });
  return parseInt(m[1]!, 16) >>> 0;
}

async function writeContent(dev: BlockDevice, c: Content | Uint8Array): Promise<void> {
  if (c instanceof Uint8Array) {
    dev.writeAt(0, c);
    return;
  }
  let off = 0;
  for await (const chunk of c.stream()) {
    if (off + chunk.length > c.size)
      throw new CapacityError('E_SPACE_PARTITION', `raw content yielded more than its declared ${c.size} bytes`, {
        expected: c.size,
      });
    dev.writeAt(off, chunk);
    off += chunk.length;
  }
}

/**
 * Write the partition table and every filesystem to `dev` (sized with
 * diskSize(), or larger: 'rest' and percentages use the device size).
 */
export async function buildDisk(layout: DiskLayout, dev: BlockDevice): Promise<DiskResult> {
  if (layout.size !== undefined && layout.size !== dev.size)
    throw new UsageError('E_USAGE_DISK_SIZE', `layout size ${layout.size} differs from the device size ${dev.size}`, {
      expected: dev.size,
      actual: layout.size,
    });
  const plan = planDisk(layout, dev.size);
  const seed = layout.seed ?? layoutSeed(layout);
  for (const [i, x] of plan.partitions.entries()) {
    if (!x.dryRun) continue;
    try {
      await writeFat(x.spec.tree ?? new FileTree(), nullDevice(x.size), {
        ...(fsOptions(x.spec, seed, i + 1) as FatOptions),
        warn: () => {},
      });
    } catch (e) {
      if (e instanceof CapacityError)
        throw new CapacityError(
          'E_SPACE_PARTITION',
          `partition ${x.index} (${x.spec.fs}${x.spec.name ? `, "${x.spec.name}"` : ''}) is too small for its contents: ${e.message}`,
          { ...e.data, actual: x.size },
          { cause: e },
        );
      throw e;
    }
  }
  const align = layout.align ?? MiB;
  let diskId: string;
  let infos: PartitionInfo[];
  if (layout.table === 'mbr') {
    const sig = parseSignature(layout.diskId);
    const r = writeMbr(dev, {
      seed,
      ...(sig !== undefined ? { signature: sig } : {}),
      ebrGapSectors: align / SECTOR,
      partitions: plan.partitions.map((x) => ({
        offset: x.offset,
        size: x.size,
        type: x.spec.type ?? (isFat(x.spec.fs) ? x.spec.fs : 'linux'),
        bootable: !!x.spec.bootable,
        logical: !!x.spec.logical,
      })),
    });
    diskId = r.signature.toString(16).padStart(8, '0');
    infos = r.partitions;
  } else {
    const r = writeGpt(dev, {
      seed,
      ...(layout.diskId !== undefined ? { diskGuid: String(layout.diskId) } : {}),
      partitions: plan.partitions.map((x) => ({
        offset: x.offset,
        size: x.size,
        type: String(x.spec.type ?? (isFat(x.spec.fs) ? x.spec.fs : 'linux')),
        ...(x.spec.name !== undefined ? { name: x.spec.name } : {}),
        ...(x.spec.guid !== undefined ? { guid: x.spec.guid } : {}),
        ...(x.spec.attributes !== undefined ? { attributes: x.spec.attributes } : {}),
        bootable: !!x.spec.bootable,
      })),
    });
    diskId = r.diskGuid;
    infos = r.partitions;
  }
  const out: DiskResult['partitions'] = [];
  for (const [i, x] of plan.partitions.entries()) {
    const p = x.spec;
    const win = new SubDevice(dev, x.offset, x.size);
    const info = infos.find((q) => q.offset === x.offset)!;
    let summary: unknown;
    const opts = fsOptions(p, seed, i + 1);
    if (layout.progress && opts.progress === undefined) opts.progress = layout.progress;
    if (isFat(p.fs)) {
      summary = await writeFat(p.tree ?? new FileTree(), win, {
        ...(opts as FatOptions),
        hiddenSectors: x.offset / SECTOR,
      });
    } else if (isExt(p.fs)) {
      summary = await writeExt4(p.tree ?? new FileTree(), win, opts as Ext4Options);
    } else if (p.fs === 'raw' && p.content !== undefined) {
      await writeContent(win, p.content);
    }
    out.push({ ...info, fs: p.fs, ...(summary !== undefined ? { summary } : {}) });
  }
  dev.flush();
  return { table: layout.table, size: dev.size, diskId, partitions: out };
}
