/**
 * FAT12/16/32 writer: FileTree -> BlockDevice, in one pass, without a
 * temporary file. Every object gets a contiguous run of clusters (the root
 * directory first on FAT32, then every directory, then file contents in walk
 * order), so file data streams to increasing offsets and the FAT is a set of
 * straight chains. Free space is never written (sparse output).
 */
import { CapacityError, HostIOError, PathError, UsageError } from '../../errors.js';
import { crc32 } from '../../binary/crc.js';
import type { BlockDevice } from '../../io/device.js';
import { SequentialWriter } from '../../io/sequential.js';
import type { Progress } from '../../progress.js';
import { silentProgress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import type { Content, DirNode, NodeMeta, TreeNode } from '../../tree/types.js';
import { bootCode, bootJump } from './bootcode.js';
import { chooseGeometry, SECTOR, NUM_FATS, type FatGeometry, type FatType } from './layout.js';
import {
  checkLongName,
  directShortName,
  dosDateTime,
  foldName,
  lfnSlots,
  shortBytes,
  shortNameChecksum,
  ShortNameAllocator,
} from './names.js';
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

const MAX_FILE = 0xffffffff;
/** A directory is at most 2 MiB: 65536 entries of 32 bytes (FAT12/16 root: 65520 fixed entries). */
const MAX_DIR_SLOTS = 65520;
/** Guard against symlinked directories multiplying the tree without bound. */
const MAX_ENTRIES = 2_000_000;
const EOC32 = 0x0fffffff;

interface FFile {
  kind: 'file';
  meta: NodeMeta;
  content: Content;
  path: string;
  start: number;
  count: number;
}
interface FDir {
  kind: 'dir';
  meta: NodeMeta;
  entries: FEntry[];
  path: string;
  root: boolean;
  slots: number;
  start: number;
  count: number;
}
interface FEntry {
  name: string;
  short: string;
  ntRes: number;
  lfn: boolean;
  node: FFile | FDir;
}

interface Prepared {
  root: FDir;
  dirs: FDir[];
  files: FFile[];
  bytes: number;
  hardLinkCopies: number;
  skipped: string[];
}

// ---------------------------------------------------------------- tree prep

/** Names in UTF-8 byte order (the tree's deterministic order), encoding each name once. */
function sortNames(names: string[]): string[] {
  if (names.length < 2) return names;
  // UTF-16 order equals UTF-8 byte order unless a name holds surrogates or characters >= U+E000.
  if (!names.some((n) => /[\ud800-\uffff]/.test(n))) return names.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const enc = new TextEncoder();
  const keyed = names.map((n) => ({ n, k: enc.encode(n) }));
  keyed.sort((a, b) => {
    const x = a.k,
      y = b.k,
      m = Math.min(x.length, y.length);
    for (let i = 0; i < m; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
    return x.length - y.length;
  });
  return keyed.map((x) => x.n);
}

function splitTarget(t: string): string[] {
  return t.split('/').filter((c) => c !== '' && c !== '.');
}

function lookup(root: DirNode, parts: string[]): TreeNode | undefined {
  let n: TreeNode = root;
  for (const p of parts) {
    if (n.type !== 'dir') return undefined;
    const c = n.children.get(p);
    if (!c) return undefined;
    n = c;
  }
  return n;
}

/** Resolve a symlink target inside the tree (absolute targets are relative to the tree root). */
function resolveLink(
  root: DirNode,
  dirParts: string[],
  target: string,
  hops: number,
): { node: TreeNode; parts: string[] } | 'dangling' | 'loop' {
  let parts = target.startsWith('/') ? [] : [...dirParts];
  for (const comp of splitTarget(target)) {
    if (comp === '..') {
      parts.pop();
      continue;
    }
    const dir = lookup(root, parts);
    if (!dir || dir.type !== 'dir') return 'dangling';
    const child = dir.children.get(comp);
    if (!child) return 'dangling';
    if (child.type === 'symlink') {
      if (hops >= 40) return 'loop';
      const r = resolveLink(root, parts, child.target, hops + 1);
      if (typeof r === 'string') return r;
      parts = r.parts;
    } else {
      parts = [...parts, comp];
    }
  }
  const node = lookup(root, parts);
  return node ? { node, parts } : 'dangling';
}

function prepare(tree: FileTree, opts: FatOptions): Prepared {
  const mode = opts.symlinks ?? 'follow';
  if (mode !== 'follow' && mode !== 'skip' && mode !== 'error') {
    throw new UsageError('E_USAGE_FAT_SYMLINKS', `symlinks must be follow, skip or error, got '${String(mode)}'`, {
      actual: mode,
    });
  }
  const warn = opts.warn ?? (() => {});
  const dirs: FDir[] = [];
  const files: FFile[] = [];
  const skipped: string[] = [];
  const seenFiles = new Set<TreeNode>();
  let hardLinkCopies = 0;
  let bytes = 0;
  let entryCount = 0;
  const skip = (path: string, why: string) => {
    skipped.push(path);
    warn(`${path}: ${why}; not written to the FAT image`);
  };

  const build = (node: DirNode, path: string, parts: string[], isRoot: boolean, active: Set<DirNode>): FDir => {
    const dir: FDir = { kind: 'dir', meta: node, entries: [], path, root: isRoot, slots: 0, start: 0, count: 0 };
    dirs.push(dir);
    active.add(node);
    const folded = new Map<string, string>();
    const names = sortNames([...node.children.keys()]);
    for (const name of names) {
      let child = node.children.get(name)!;
      const cpath = path === '/' ? `/${name}` : `${path}/${name}`;
      let childParts: string[] | undefined;
      if (child.type === 'symlink') {
        if (mode === 'skip') {
          skip(cpath, `symlink to ${child.target} skipped (--symlinks skip)`);
          continue;
        }
        if (mode === 'error')
          throw new PathError(
            'E_PATH_FAT_SYMLINK',
            `${cpath} is a symlink (to ${child.target}); FAT cannot store symlinks (use --symlinks follow or skip)`,
            { path: cpath },
          );
        const r = resolveLink(tree.root, parts, child.target, 0);
        if (r === 'dangling') {
          skip(cpath, `symlink to ${child.target} points to nothing inside the tree`);
          continue;
        }
        if (r === 'loop') {
          skip(cpath, `symlink to ${child.target} loops`);
          continue;
        }
        if (r.node.type === 'dir' && active.has(r.node)) {
          skip(cpath, `symlink to ${child.target} points to one of its own parent directories (a loop)`);
          continue;
        }
        child = r.node;
        childParts = r.parts;
      }
      if (++entryCount > MAX_ENTRIES) {
        throw new CapacityError(
          'E_LIMIT_FAT_ENTRIES',
          `more than ${MAX_ENTRIES} entries to write (at ${cpath}); followed symlinks to directories copy them, which can multiply the tree (try --symlinks skip)`,
          { path: cpath, expected: MAX_ENTRIES },
        );
      }
      if (child.type !== 'dir' && child.type !== 'file') {
        skip(
          cpath,
          `${child.type === 'chardev' ? 'character device' : child.type === 'blockdev' ? 'block device' : child.type} cannot be stored on FAT`,
        );
        continue;
      }
      checkLongName(name, cpath);
      const key = foldName(name);
      const other = folded.get(key);
      if (other !== undefined) {
        const opath = path === '/' ? `/${other}` : `${path}/${other}`;
        throw new PathError(
          'E_PATH_FAT_CASE',
          `${cpath} and ${opath} differ only in case; FAT names are case-insensitive, so one directory cannot hold both`,
          { path: cpath, other: opath },
        );
      }
      folded.set(key, name);
      if (child.type === 'dir') {
        const sub = build(child, cpath, childParts ?? [...parts, name], false, active);
        dir.entries.push({ name, short: '', ntRes: 0, lfn: false, node: sub });
      } else {
        if (child.content.size > MAX_FILE)
          throw new CapacityError(
            'E_LIMIT_FAT_FILE_SIZE',
            `${cpath} is ${child.content.size} bytes; FAT files hold at most 4 GiB - 1 (${MAX_FILE} bytes)`,
            { path: cpath, actual: child.content.size, expected: MAX_FILE },
          );
        if (seenFiles.has(child)) hardLinkCopies++;
        seenFiles.add(child);
        const f: FFile = { kind: 'file', meta: child, content: child.content, path: cpath, start: 0, count: 0 };
        files.push(f);
        bytes += child.content.size;
        dir.entries.push({ name, short: '', ntRes: 0, lfn: false, node: f });
      }
    }
    active.delete(node);
    // 8.3 names: direct names first (reserved), then aliases in name order.
    const alloc = new ShortNameAllocator();
    const pending: FEntry[] = [];
    for (const e of dir.entries) {
      const d = directShortName(e.name);
      if (d && !alloc.has(d.short)) {
        alloc.reserve(d.short);
        e.short = d.short;
        e.ntRes = d.ntRes;
      } else pending.push(e);
    }
    for (const e of pending) {
      e.short = alloc.alias(e.name);
      e.lfn = true;
    }
    dir.slots = (isRoot ? 0 : 2) + dir.entries.reduce((n, e) => n + 1 + (e.lfn ? lfnSlots(e.name) : 0), 0);
    if (dir.slots > MAX_DIR_SLOTS) {
      throw new CapacityError(
        'E_LIMIT_FAT_DIR_ENTRIES',
        `${path} needs ${dir.slots} directory entries (long names take several); a FAT directory holds at most ${MAX_DIR_SLOTS}`,
        { path, actual: dir.slots, expected: MAX_DIR_SLOTS },
      );
    }
    return dir;
  };
  const root = build(tree.root, '/', [], true, new Set());
  return { root, dirs, files, bytes, hardLinkCopies, skipped };
}

// ---------------------------------------------------------------- sizing

function needClusters(p: Prepared, type: FatType, cs: number, labelled: boolean): number {
  let n = 0;
  for (const d of p.dirs) {
    if (d.root && type !== 'fat32') continue;
    const slots = d.slots + (d.root && labelled ? 1 : 0);
    n += Math.max(1, Math.ceil((slots * 32) / cs));
  }
  for (const f of p.files) n += Math.ceil(f.content.size / cs);
  return n;
}

function rootSlots(p: Prepared, labelled: boolean): number {
  return p.root.slots + (labelled ? 1 : 0);
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
  let hi = round(Math.max(K64, Math.ceil(p.bytes * (1 + headroom)) + p.dirs.length * 2048 + K64));
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

function attrOf(node: FFile | FDir): number {
  const ro = (node.meta.mode & 0o222) === 0 ? ATTR_READ_ONLY : 0;
  return (node.kind === 'dir' ? ATTR_DIRECTORY : ATTR_ARCHIVE) | ro;
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

function dirBytes(
  d: FDir,
  parent: FDir | undefined,
  cs: number,
  type: FatType,
  label: string | undefined,
  epoch: number,
  rootBytes: number,
): Uint8Array {
  const size = d.root && type !== 'fat32' ? rootBytes : d.count * cs;
  const buf = new Uint8Array(size);
  let off = 0;
  if (d.root && label) {
    const t = dosDateTime(epoch);
    DIRENT.encode(
      { name: shortBytes(label.padEnd(11, ' ')), attr: ATTR_VOLUME_ID, writeTime: t.time, writeDate: t.date },
      buf,
      off,
    );
    off += 32;
  }
  if (!d.root) {
    putShortEntry(buf, off, shortBytes('.          '), ATTR_DIRECTORY, 0, d.meta, d.start, 0);
    off += 32;
    const pc = parent && !parent.root ? parent.start : 0;
    putShortEntry(buf, off, shortBytes('..         '), ATTR_DIRECTORY, 0, parent?.meta ?? d.meta, pc, 0);
    off += 32;
  }
  for (const e of d.entries) {
    const sb = shortBytes(e.short);
    if (e.lfn) off = putLfnEntries(buf, off, e.name, shortNameChecksum(sb));
    const size = e.node.kind === 'file' ? e.node.content.size : 0;
    putShortEntry(buf, off, sb, attrOf(e.node), e.ntRes, e.node.meta, e.node.start, size);
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
  let next = 2;
  const place = (o: FDir | FFile, bytes: number, min: number) => {
    o.count = Math.max(min, Math.ceil(bytes / cs));
    o.start = o.count ? next : 0;
    next += o.count;
  };
  for (const d of p.dirs) {
    if (d.root && type !== 'fat32') continue;
    place(d, (d.slots + (d.root && label ? 1 : 0)) * 32, 1);
  }
  for (const f of p.files) place(f, f.content.size, 0);
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
        rootCluster: p.root.start,
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
  const chain = (o: FDir | FFile) => {
    for (let i = 0; i < o.count; i++)
      setFatEntry(fat, type, o.start + i, i === o.count - 1 ? eoc(type) : o.start + i + 1);
  };
  for (const d of p.dirs) if (d.count) chain(d);
  for (const f of p.files) if (f.count) chain(f);
  const zeros = new Uint8Array(Math.min(1 << 20, fatBytes));
  for (let k = 0; k < NUM_FATS; k++) {
    const base = fatStart + k * fatBytes;
    dev.writeAt(base, fat.subarray(0, Math.min(fat.length, fatBytes)));
    for (let o = fat.length; o < fatBytes; o += zeros.length)
      dev.writeAt(base + o, zeros.subarray(0, Math.min(zeros.length, fatBytes - o)));
  }

  // Directories (FAT12/16 root in its fixed region).
  const parentOf = new Map<FDir, FDir>();
  for (const d of p.dirs) for (const e of d.entries) if (e.node.kind === 'dir') parentOf.set(e.node, d);
  const rootBytes = g.rootSectors * SECTOR;
  for (const d of p.dirs) {
    const bytes = dirBytes(d, parentOf.get(d), cs, type, label, epoch, rootBytes);
    const at = d.root && type !== 'fat32' ? fatStart + NUM_FATS * fatBytes : clusterOffset(d.start);
    dev.writeAt(at, bytes);
  }

  // File contents, streamed in allocation order.
  progress.start(`writing ${type}`, p.bytes, 'bytes');
  const out = new SequentialWriter(dev);
  for (const f of p.files) {
    const n = f.content.size;
    if (n === 0) continue;
    let off = clusterOffset(f.start);
    let done = 0;
    if (f.content.readInto) {
      // Read straight into the output buffer: no allocation per file.
      while (done < n) {
        const len = Math.min(n - done, out.maxReserve);
        const got = f.content.readInto(done, out.reserve(off, len));
        if (got !== len) throw sizeChanged(f, done + got);
        off += len;
        done += len;
      }
    } else if (f.content.readAt && n <= 1 << 20) {
      const data = f.content.readAt(0, n);
      if (data.length !== n) throw sizeChanged(f, data.length);
      out.write(off, data);
      done = n;
    } else {
      for await (const chunk of f.content.stream()) {
        if (done + chunk.length > n) throw sizeChanged(f, done + chunk.length);
        out.write(off, chunk);
        off += chunk.length;
        done += chunk.length;
        progress.tick(chunk.length);
      }
      if (done !== n) throw sizeChanged(f, done);
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
    files: p.files.length,
    dirs: p.dirs.length,
    bytes: p.bytes,
    volumeId,
    label: label ?? '',
    hardLinkCopies: p.hardLinkCopies,
    skipped: p.skipped,
  };
}

function sizeChanged(f: FFile, got: number): HostIOError {
  return new HostIOError(
    'E_IO_SIZE_CHANGED',
    `${f.path}: content has ${got === f.content.size ? 'the wrong' : got > f.content.size ? 'more than' : 'only'} ${got} bytes, ${f.content.size} were declared (did the file change while being read?)`,
    { path: f.path, expected: f.content.size, actual: got },
  );
}
