/**
 * FAT12/16/32 writer: FileTree -> BlockDevice, in one pass, without a
 * temporary file. Every object gets a contiguous run of clusters (the root
 * directory first on FAT32, then every directory, then file contents in walk
 * order), so file data streams to increasing offsets and the FAT is a set of
 * straight chains. Free space is never written (sparse output).
 */
import { CapacityError, HostIOError, UsageError } from '../../errors.js';
import { crc32 } from '../../binary/crc.js';
import type { BlockDevice } from '../../io/device.js';
import { SequentialWriter } from '../../io/sequential.js';
import type { Progress } from '../../progress.js';
import { silentProgress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import type { FileNode, NodeMeta } from '../../tree/types.js';
import { bootCode, bootJump } from './bootcode.js';
import { chooseGeometry, SECTOR, NUM_FATS, type FatGeometry, type FatType } from './layout.js';
import { dosDateTime, lfnSlots, shortBytes, shortNameChecksum } from './names.js';
import { filePath, INFO_DIR, INFO_LFN, prepare, type Prepared } from './plan.js';
import {
  ATTR_ARCHIVE,
  ATTR_DIRECTORY,
  ATTR_LONG_NAME,
  ATTR_READ_ONLY,
  ATTR_VOLUME_ID,
  BOOT_CODE_OFFSET_16,
  BOOT_CODE_OFFSET_32,
  BOOT_SIGNATURE_OFFSET,
  BPB,
  DIRENT,
  EBPB16,
  EBPB32,
  FSINFO,
  FSINFO_LEAD,
  FSINFO_STRUCT,
  FSINFO_TRAIL,
  LFN,
  LFN_LAST,
} from './structs.js';

export type { FatType } from './layout.js';

export interface FatOptions {
  /** Force the FAT type; by default chosen from the size as mkfs.fat does. */
  type?: FatType | undefined;
  /** Volume size in bytes; defaults to the device size (writeFat) or the minimum (fatMinimumSize). */
  size?: number | undefined;
  /** Volume label, up to 11 characters (stored upper case). */
  label?: string | undefined;
  /** 32-bit volume serial number; by default derived from the label, epoch and the tree's metadata. */
  volumeId?: number | undefined;
  /** Sectors before the volume on its disk (the partition's start LBA). */
  hiddenSectors?: number | undefined;
  /** What to do with symlinks: follow their target inside the tree (default), skip them, or fail. */
  symlinks?: 'follow' | 'skip' | 'error' | undefined;
  /** Receives warnings (skipped devices, FIFOs, sockets, dangling symlinks). */
  warn?: ((message: string) => void) | undefined;
  /** SOURCE_DATE_EPOCH: the time of the volume label and the seed of the default volume id. */
  epoch?: number | undefined;
  progress?: Progress | undefined;
  /** OEM name in the boot sector (8 characters), default "tinyimg". */
  oemName?: string | undefined;
  /** Force sectors per cluster (power of two, 1..128). */
  sectorsPerCluster?: number | undefined;
  /** Extra free space fatMinimumSize adds, as a fraction of the data (default 0.1). */
  headroom?: number | undefined;
  /** A plan from planFat() for this tree, to scan the tree once for fatMinimumSize and writeFat. */
  plan?: FatPlan | undefined;
}

/** The tree analysed for FAT (names, aliases, symlinks resolved); valid while the tree is unchanged. */
export interface FatPlan {
  readonly tree: FileTree;
  readonly symlinks: 'follow' | 'skip' | 'error';
  /** @internal */
  readonly prepared: unknown;
}

/**
 * Analyse `tree` once (warnings for skipped entries go to opts.warn now);
 * pass the plan as opts.plan to fatMinimumSize and writeFat.
 */
export function planFat(tree: FileTree, opts: FatOptions = {}): FatPlan {
  return { tree, symlinks: opts.symlinks ?? 'follow', prepared: prepare(tree, opts) };
}

function preparedFor(tree: FileTree, opts: FatOptions, quiet: boolean): Prepared {
  const plan = opts.plan;
  if (plan && plan.tree === tree && plan.symlinks === (opts.symlinks ?? 'follow')) return plan.prepared as Prepared;
  return prepare(tree, quiet ? { ...opts, warn: () => {} } : opts);
}

export interface FatSummary {
  type: FatType;
  size: number;
  sectorSize: number;
  clusterSize: number;
  clusters: number;
  usedClusters: number;
  freeClusters: number;
  files: number;
  dirs: number;
  bytes: number;
  volumeId: number;
  label: string;
  /** Names that were extra hard links, written as independent copies. */
  hardLinkCopies: number;
  skipped: string[];
}

const EOC32 = 0x0fffffff;

// ---------------------------------------------------------------- sizing

function needClusters(p: Prepared, type: FatType, cs: number, labelled: boolean): number {
  let n = 0;
  for (let d = type === 'fat32' ? 0 : 1; d < p.dirSlots.length; d++) {
    const slots = p.dirSlots[d]! + (d === 0 && labelled ? 1 : 0);
    n += Math.max(1, Math.ceil((slots * 32) / cs));
  }
  for (const size of p.fileSize) n += Math.ceil(size / cs);
  return n;
}

function rootSlots(p: Prepared, labelled: boolean): number {
  return p.dirSlots[0]! + (labelled ? 1 : 0);
}

function geometryFor(size: number, p: Prepared, opts: FatOptions, labelled: boolean): FatGeometry {
  return chooseGeometry(size, { type: opts.type, rootEntries: rootSlots(p, labelled), spc: opts.sectorsPerCluster });
}

function checkLabel(label: string | undefined): string | undefined {
  if (label === undefined || label === '') return undefined;
  const up = label.toUpperCase();
  if (up.length > 11 || !/^[\x20-\x7e]+$/.test(up)) {
    throw new UsageError('E_USAGE_FAT_LABEL', `FAT label '${label}' must be 1 to 11 printable ASCII characters`, {
      actual: label,
    });
  }
  if (/[*?.,;:/\\|+=<>[\]"]/.test(up) || up.startsWith(' ')) {
    throw new UsageError(
      'E_USAGE_FAT_LABEL',
      `FAT label '${label}' may not start with a space or contain any of *?.,;:/\\|+=<>[]"`,
      { actual: label },
    );
  }
  return up;
}

/**
 * Smallest volume size (bytes, a multiple of 64 KiB or 1 MiB) that holds
 * `tree` with `opts.headroom` (default 10%) of extra free space, respecting
 * the forced type's cluster-count minimum.
 */
export function fatMinimumSize(tree: FileTree, opts: FatOptions = {}): number {
  return minimumFor(preparedFor(tree, opts, true), opts);
}

function minimumFor(p: Prepared, opts: FatOptions): number {
  const labelled = checkLabel(opts.label) !== undefined;
  const headroom = opts.headroom ?? 0.1;
  const K64 = 64 * 1024;
  const needMemo = new Map<string, number>();
  const round = (n: number) => {
    const gran = n > 8 * 1024 * 1024 ? 1024 * 1024 : K64;
    return Math.ceil(n / gran) * gran;
  };
  const fits = (n: number): boolean => {
    let g: FatGeometry | undefined;
    try {
      g = geometryFor(n, p, opts, labelled);
    } catch (e) {
      if (!(e instanceof CapacityError)) throw e;
      return false;
    }
    const cs = g.sectorsPerCluster * SECTOR;
    const key = `${g.type}:${cs}`;
    let need = needMemo.get(key);
    if (need === undefined) needMemo.set(key, (need = needClusters(p, g.type, cs, labelled)));
    return need + Math.ceil((p.bytes * headroom) / cs) <= g.clusters;
  };
  // Grow from an estimate until something fits, then search down to the smallest fitting size.
  let lo = 0;
  let hi = round(Math.max(K64, Math.ceil(p.bytes * (1 + headroom)) + p.dirNodes.length * 2048 + K64));
  for (let i = 0; !fits(hi); i++) {
    if (i > 400)
      throw new CapacityError('E_SPACE_FAT_SIZE', `cannot find a FAT volume size for ${p.bytes} bytes of files`, {
        actual: p.bytes,
      });
    lo = hi;
    hi = round(Math.max(hi + K64, Math.ceil(hi * 1.05)));
  }
  // Binary search over 64 KiB steps (sizes above 8 MiB are whole MiB).
  let a = Math.floor(lo / K64);
  let b = hi / K64;
  while (b - a > 1) {
    const mid = Math.floor((a + b) / 2);
    if (fits(round(mid * K64))) b = mid;
    else a = mid;
  }
  return round(b * K64);
}

// ---------------------------------------------------------------- encoding

function setFatEntry(fat: Uint8Array, type: FatType, n: number, v: number): void {
  if (type === 'fat32') {
    const o = n * 4;
    fat[o] = v & 0xff;
    fat[o + 1] = (v >>> 8) & 0xff;
    fat[o + 2] = (v >>> 16) & 0xff;
    fat[o + 3] = (v >>> 24) & 0x0f;
  } else if (type === 'fat16') {
    const o = n * 2;
    fat[o] = v & 0xff;
    fat[o + 1] = (v >>> 8) & 0xff;
  } else {
    const o = Math.floor((n * 3) / 2);
    const x = v & 0xfff;
    if (n & 1) {
      fat[o] = (fat[o]! & 0x0f) | ((x & 0x0f) << 4);
      fat[o + 1] = x >>> 4;
    } else {
      fat[o] = x & 0xff;
      fat[o + 1] = (fat[o + 1]! & 0xf0) | (x >>> 8);
    }
  }
}

function eoc(type: FatType): number {
  return type === 'fat32' ? EOC32 : type === 'fat16' ? 0xffff : 0xfff;
}

function attrOf(meta: NodeMeta, dir: boolean): number {
  const ro = (meta.mode & 0o222) === 0 ? ATTR_READ_ONLY : 0;
  return (dir ? ATTR_DIRECTORY : ATTR_ARCHIVE) | ro;
}

/** Where the plan's objects landed: the first cluster and cluster count of every directory and file. */
interface Placement {
  p: Prepared;
  type: FatType;
  cs: number;
  dirStart: Uint32Array;
  dirCount: Uint32Array;
  fileStart: Uint32Array;
  label: string | undefined;
  epoch: number;
  rootBytes: number;
}

function putShortEntry(
  buf: Uint8Array,
  off: number,
  short: Uint8Array,
  attr: number,
  ntRes: number,
  meta: NodeMeta,
  cluster: number,
  size: number,
): void {
  const w = dosDateTime(meta.mtime.sec, meta.mtime.nsec);
  const c = dosDateTime(meta.ctime.sec, meta.ctime.nsec);
  const a = dosDateTime(meta.atime.sec, meta.atime.nsec);
  DIRENT.encode(
    {
      name: short,
      attr,
      ntRes,
      createTimeTenth: c.tenth,
      createTime: c.time,
      createDate: c.date,
      accessDate: a.date,
      clusterHi: cluster >>> 16,
      clusterLo: cluster & 0xffff,
      writeTime: w.time,
      writeDate: w.date,
      fileSize: size,
    },
    buf,
    off,
  );
}

function putLfnEntries(buf: Uint8Array, off: number, name: string, checksum: number): number {
  const n = lfnSlots(name);
  const units = new Uint16Array(n * 13).fill(0xffff);
  for (let i = 0; i < name.length; i++) units[i] = name.charCodeAt(i);
  if (name.length < n * 13) units[name.length] = 0;
  const piece = (from: number, count: number) => {
    const b = new Uint8Array(count * 2);
    for (let i = 0; i < count; i++) {
      const u = units[from + i]!;
      b[i * 2] = u & 0xff;
      b[i * 2 + 1] = u >>> 8;
    }
    return b;
  };
  for (let k = n; k >= 1; k--) {
    const base = (k - 1) * 13;
    LFN.encode(
      {
        ord: k | (k === n ? LFN_LAST : 0),
        name1: piece(base, 5),
        attr: ATTR_LONG_NAME,
        type: 0,
        checksum,
        name2: piece(base + 5, 6),
        clusterLo: 0,
        name3: piece(base + 11, 2),
      },
      buf,
      off,
    );
    off += 32;
  }
  return off;
}

const DOT = shortBytes('.          ');
const DOTDOT = shortBytes('..         ');

/** The bytes of directory `d` (its clusters, or the FAT12/16 root region). */
function dirBytes(L: Placement, d: number): Uint8Array {
  const { p, type, label } = L;
  const root = d === 0;
  const buf = new Uint8Array(root && type !== 'fat32' ? L.rootBytes : L.dirCount[d]! * L.cs);
  let off = 0;
  if (root && label) {
    const t = dosDateTime(L.epoch);
    DIRENT.encode(
      { name: shortBytes(label.padEnd(11, ' ')), attr: ATTR_VOLUME_ID, writeTime: t.time, writeDate: t.date },
      buf,
      off,
    );
    off += 32;
  }
  if (!root) {
    const meta = p.dirNodes[d]!;
    putShortEntry(buf, off, DOT, ATTR_DIRECTORY, 0, meta, L.dirStart[d]!, 0);
    off += 32;
    const parent = p.dirParent[d]!;
    const pc = parent > 0 ? L.dirStart[parent]! : 0;
    putShortEntry(buf, off, DOTDOT, ATTR_DIRECTORY, 0, p.dirNodes[parent]!, pc, 0);
    off += 32;
  }
  const first = p.entFirst[d]!;
  const end = first + p.entCount[d]!;
  for (let e = first; e < end; e++) {
    const sb = p.entShort.subarray(e * 11, e * 11 + 11);
    const info = p.entInfo[e]!;
    const node = p.entNode[e]!;
    if (info & INFO_LFN) off = putLfnEntries(buf, off, p.entName[e]!, shortNameChecksum(sb));
    const isDir = (info & INFO_DIR) !== 0;
    const ref = p.entRef[e]!;
    const start = isDir ? L.dirStart[ref]! : L.fileStart[ref]!;
    const size = isDir ? 0 : p.fileSize[ref]!;
    putShortEntry(buf, off, sb, attrOf(node, isDir), info & 0xff, node, start, size);
    off += 32;
  }
  return buf;
}

/** Derived from the label, epoch and the tree's fingerprint: different contents, different ids. */
function defaultVolumeId(label: string | undefined, epoch: number, tree: FileTree): number {
  return crc32(new TextEncoder().encode(`tinyimage-fat:${label ?? ''}:${epoch}:${treeFingerprint(tree)}`)) >>> 0;
}

/**
 * Write `tree` as a FAT filesystem filling `dev` (or its first `opts.size`
 * bytes). Throws CapacityError when it does not fit, PathError for names FAT
 * cannot hold.
 */
export async function writeFat(tree: FileTree, dev: BlockDevice, opts: FatOptions = {}): Promise<FatSummary> {
  const label = checkLabel(opts.label);
  const epoch = opts.epoch ?? 0;
  const progress = opts.progress ?? silentProgress;
  const hidden = opts.hiddenSectors ?? 0;
  if (!Number.isInteger(hidden) || hidden < 0 || hidden > 0xffffffff)
    throw new UsageError('E_USAGE_FAT_HIDDEN', `hidden sectors must be a 32-bit count, got ${hidden}`, {
      actual: hidden,
    });
  const volumeId = (opts.volumeId ?? defaultVolumeId(label, epoch, tree)) >>> 0;
  const size = opts.size ?? dev.size;
  if (size > dev.size)
    throw new CapacityError('E_SPACE_FAT_DEVICE', `FAT size ${size} is larger than the device (${dev.size} bytes)`, {
      expected: dev.size,
      actual: size,
    });
  const p = preparedFor(tree, opts, false);
  const g = geometryFor(size, p, opts, label !== undefined);
  const type = g.type;
  const cs = g.sectorsPerCluster * SECTOR;
  const need = needClusters(p, type, cs, label !== undefined);
  if (need > g.clusters) {
    let min: number | undefined;
    try {
      min = minimumFor(p, { ...opts, headroom: 0 });
    } catch {
      /* keep undefined */
    }
    throw new CapacityError(
      'E_SPACE_FAT_FULL',
      `the tree needs ${need} clusters of ${cs} bytes but a ${size}-byte ${type.toUpperCase()} volume has ${g.clusters}${min ? `; use at least ${min} bytes` : ''}`,
      { expected: need, actual: g.clusters, format: type },
    );
  }

  // Cluster allocation: contiguous runs from cluster 2.
  const nDirs = p.dirNodes.length;
  const nFiles = p.fileSize.length;
  const dirStart = new Uint32Array(nDirs);
  const dirCount = new Uint32Array(nDirs);
  const fileStart = new Uint32Array(nFiles);
  let next = 2;
  for (let d = type === 'fat32' ? 0 : 1; d < nDirs; d++) {
    dirCount[d] = Math.max(1, Math.ceil(((p.dirSlots[d]! + (d === 0 && label ? 1 : 0)) * 32) / cs));
    dirStart[d] = next;
    next += dirCount[d]!;
  }
  for (let f = 0; f < nFiles; f++) {
    const count = Math.ceil(p.fileSize[f]! / cs);
    if (count) fileStart[f] = next;
    next += count;
  }
  const used = next - 2;
  const free = g.clusters - used;

  const fatBytes = g.fatSectors * SECTOR;
  const fatStart = g.reservedSectors * SECTOR;
  const dataStart = g.dataStart * SECTOR;
  const clusterOffset = (c: number) => dataStart + (c - 2) * cs;

  // Reserved area: boot sector (+ FSInfo and backups on FAT32).
  const reserved = new Uint8Array(g.reservedSectors * SECTOR);
  const codeOff = type === 'fat32' ? BOOT_CODE_OFFSET_32 : BOOT_CODE_OFFSET_16;
  const oem = new TextEncoder().encode((opts.oemName ?? 'tinyimg').slice(0, 8).padEnd(8, ' '));
  BPB.encode(
    {
      jmpBoot: bootJump(codeOff),
      oemName: oem,
      bytesPerSector: SECTOR,
      sectorsPerCluster: g.sectorsPerCluster,
      reservedSectors: g.reservedSectors,
      numFats: NUM_FATS,
      rootEntries: g.rootEntries,
      totalSectors16: type !== 'fat32' && g.totalSectors < 0x10000 ? g.totalSectors : 0,
      media: 0xf8,
      fatSize16: type === 'fat32' ? 0 : g.fatSectors,
      sectorsPerTrack: g.sectorsPerTrack,
      numHeads: g.heads,
      hiddenSectors: hidden,
      totalSectors32: type !== 'fat32' && g.totalSectors < 0x10000 ? 0 : g.totalSectors,
    },
    reserved,
    0,
  );
  const labelBytes = new TextEncoder().encode((label ?? 'NO NAME').padEnd(11, ' '));
  const fsType = new TextEncoder().encode(type.toUpperCase().padEnd(8, ' '));
  if (type === 'fat32') {
    EBPB32.encode(
      {
        fatSize32: g.fatSectors,
        extFlags: 0,
        fsVersion: 0,
        rootCluster: dirStart[0]!,
        fsInfoSector: 1,
        backupBootSector: 6,
        driveNumber: 0x80,
        bootSignature: 0x29,
        volumeId,
        volumeLabel: labelBytes,
        fsType,
      },
      reserved,
      BPB.size,
    );
  } else {
    EBPB16.encode(
      { driveNumber: 0x80, bootSignature: 0x29, volumeId, volumeLabel: labelBytes, fsType },
      reserved,
      BPB.size,
    );
  }
  reserved.set(bootCode(codeOff), codeOff);
  reserved[BOOT_SIGNATURE_OFFSET] = 0x55;
  reserved[BOOT_SIGNATURE_OFFSET + 1] = 0xaa;
  if (type === 'fat32') {
    const fsinfo = FSINFO.encode({
      leadSignature: FSINFO_LEAD,
      structSignature: FSINFO_STRUCT,
      freeCount: free,
      nextFree: free > 0 ? next : 0xffffffff,
      trailSignature: FSINFO_TRAIL,
    });
    reserved.set(fsinfo, SECTOR);
    reserved.set(reserved.subarray(0, 2 * SECTOR), 6 * SECTOR);
  }
  dev.writeAt(0, reserved);

  // FATs: the used prefix from memory, the rest written as zeros in chunks (holes on fresh files).
  const prefixLen = Math.min(
    fatBytes,
    type === 'fat32' ? next * 4 : type === 'fat16' ? next * 2 : Math.ceil((next * 3) / 2) + 1,
  );
  const fat = new Uint8Array(Math.max(prefixLen, type === 'fat12' ? 3 : type === 'fat16' ? 4 : 8));
  setFatEntry(fat, type, 0, type === 'fat32' ? 0x0ffffff8 : type === 'fat16' ? 0xfff8 : 0xff8);
  setFatEntry(fat, type, 1, eoc(type));
  const chain = (start: number, count: number) => {
    for (let i = 0; i < count; i++) setFatEntry(fat, type, start + i, i === count - 1 ? eoc(type) : start + i + 1);
  };
  for (let d = 0; d < nDirs; d++) chain(dirStart[d]!, dirCount[d]!);
  for (let f = 0; f < nFiles; f++) chain(fileStart[f]!, Math.ceil(p.fileSize[f]! / cs));
  const zeros = new Uint8Array(Math.min(1 << 20, fatBytes));
  for (let k = 0; k < NUM_FATS; k++) {
    const base = fatStart + k * fatBytes;
    dev.writeAt(base, fat.subarray(0, Math.min(fat.length, fatBytes)));
    for (let o = fat.length; o < fatBytes; o += zeros.length)
      dev.writeAt(base + o, zeros.subarray(0, Math.min(zeros.length, fatBytes - o)));
  }

  // Directories (FAT12/16 root in its fixed region).
  const L: Placement = { p, type, cs, dirStart, dirCount, fileStart, label, epoch, rootBytes: g.rootSectors * SECTOR };
  for (let d = 0; d < nDirs; d++) {
    const at = d === 0 && type !== 'fat32' ? fatStart + NUM_FATS * fatBytes : clusterOffset(dirStart[d]!);
    dev.writeAt(at, dirBytes(L, d));
  }

  // File contents, streamed in allocation order.
  progress.start(`writing ${type}`, p.bytes, 'bytes');
  const out = new SequentialWriter(dev);
  for (let f = 0; f < nFiles; f++) {
    const n = p.fileSize[f]!;
    if (n === 0) continue;
    const content = (p.entNode[p.fileEntry[f]!] as FileNode).content;
    let off = clusterOffset(fileStart[f]!);
    let done = 0;
    if (content.readInto) {
      // Read straight into the output buffer: no allocation per file.
      while (done < n) {
        const len = Math.min(n - done, out.maxReserve);
        const got = content.readInto(done, out.reserve(off, len));
        if (got !== len) throw sizeChanged(p, f, done + got);
        off += len;
        done += len;
      }
    } else if (content.readAt && n <= 1 << 20) {
      const data = content.readAt(0, n);
      if (data.length !== n) throw sizeChanged(p, f, data.length);
      out.write(off, data);
      done = n;
    } else {
      for await (const chunk of content.stream()) {
        if (done + chunk.length > n) throw sizeChanged(p, f, done + chunk.length);
        out.write(off, chunk);
        off += chunk.length;
        done += chunk.length;
        progress.tick(chunk.length);
      }
      if (done !== n) throw sizeChanged(p, f, done);
      continue;
    }
    progress.tick(done);
  }
  out.flush();
  progress.done();
  dev.flush();
  return {
    type,
    size: g.totalSectors * SECTOR,
    sectorSize: SECTOR,
    clusterSize: cs,
    clusters: g.clusters,
    usedClusters: used,
    freeClusters: free,
    files: nFiles,
    dirs: nDirs,
    bytes: p.bytes,
    volumeId,
    label: label ?? '',
    hardLinkCopies: p.hardLinkCopies,
    skipped: p.skipped,
  };
}

function sizeChanged(p: Prepared, f: number, got: number): HostIOError {
  const path = filePath(p, f);
  const size = p.fileSize[f]!;
  return new HostIOError(
    'E_IO_SIZE_CHANGED',
    `${path}: content has ${got === size ? 'the wrong' : got > size ? 'more than' : 'only'} ${got} bytes, ${size} were declared (did the file change while being read?)`,
    { path, expected: size, actual: got },
  );
}
