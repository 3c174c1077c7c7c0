/**
 * The ext2/ext3/ext4 writer. Everything is planned in memory first (inode
 * numbers, directory blocks, xattr layout, block estimates, geometry), the
 * capacity is checked before a single byte is written, then file data is
 * streamed into contiguous blocks with large sequential writes (all-zero
 * blocks become holes), and finally the metadata (extent/indirect blocks,
 * inode tables of used inodes only, bitmaps, group descriptors, superblocks
 * and their backups) is written. Free space is never written.
 */
import { CapacityError, HostIOError, PathError, UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { isZero } from '../../io/device.js';
import { bytesKey } from '../../binary/bytes.js';
import { compareNames } from '../../tree/path.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import { silentProgress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import { encodeDev, fullMode, type NodeType, type Timespec, type TreeNode } from '../../tree/types.js';
import {
  bitmapCsum,
  fsCsumSeed,
  groupDescCsum,
  inodeCsumSeed,
  jbd2SuperblockCsum,
  setInodeCsum,
  superblockCsum,
  xattrBlockCsum,
} from './csum.js';
import { buildDir, type DirEnt } from './dir.js';
import { seedWords } from './hash.js';
import { geometry, hasSuper, type Geometry } from './layout.js';
import { addBlock, addRange, blockMap, blockMapBlocks, extentTree, extentTreeBlocks, type Run } from './map.js';
import { resolveConfig, type Config, type Ext4Options, type ExtType } from './options.js';
import {
  BG_BLOCK_UNINIT,
  BG_INODE_UNINIT,
  BG_INODE_ZEROED,
  DEFM_ACL,
  DEFM_XATTR_USER,
  EXT4_MAGIC,
  EXTRA_ISIZE,
  FIRST_INO,
  FLAGS_UNSIGNED_HASH,
  FT,
  GOOD_OLD_INODE_SIZE,
  INODE_FLAGS,
  JBD2_CRC32C_CHKSUM,
  JBD2_INCOMPAT_CSUM_V3,
  JBD2_MAGIC,
  JBD2_SUPERBLOCK_V2,
  JOURNAL_INO,
  ROOT_INO,
  featureNames,
  groupDesc32,
  groupDesc64,
  inode as inodeStruct,
  jbd2Superblock,
  superblock,
} from './structs.js';
import { encodeBlock, encodeIbody, placeXattrs, xattrEntries, type XEntry } from './xattr.js';

export type { Ext4Options } from './options.js';

export interface Ext4Summary {
  type: ExtType;
  /** Filesystem size in bytes. */
  size: number;
  blockSize: number;
  blocksCount: number;
  freeBlocks: number;
  inodesCount: number;
  freeInodes: number;
  groups: number;
  uuid: string;
  hashSeed: string;
  label: string;
  features: string[];
  journalBlocks: number;
  /** Bytes of file data written (holes excluded). */
  dataBytes: number;
}

const enc = new TextEncoder();

interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

interface Rec {
  ino: number;
  type: NodeType;
  node: TreeNode | undefined;
  meta: Meta;
  path: string;
  links: number;
  // directories
  entries?: DirEnt[];
  parent?: number;
  subdirs?: number;
  dirBlocks?: Uint8Array[];
  indexed?: boolean;
  // xattrs
  xin?: XEntry[];
  xblock?: XEntry[];
  /** Upper bound of blocks for data + mapping metadata (files), exact for dirs/symlinks. */
  est: number;
  // results
  size: number;
  iblock: Uint8Array;
  flags: number;
  blocks: number;
  fileAcl: number;
  runs?: Run[];
  /** Regular file stored inline (inline_data): i_block + system.data. */
  inline?: boolean;
}

interface Plan {
  cfg: Config;
  recs: Rec[]; // recs[ino]
  usedInodes: number; // highest inode number used
  contentBlocks: number; // upper bound of non-metadata blocks (without journal)
  dataBytes: number;
  fsSeed: number;
}

const FTYPE: Record<NodeType, number> = {
  file: FT.file,
  dir: FT.dir,
  chardev: FT.chardev,
  blockdev: FT.blockdev,
  fifo: FT.fifo,
  socket: FT.socket,
  symlink: FT.symlink,
};

function fileBlocksEstimate(
  cfg: Config,
  size: number,
  ranges: Array<[number, number]> | undefined,
  bpg: number,
): number {
  const B = cfg.blockSize;
  let data = 0;
  let pieces = 1;
  let last = -1;
  if (ranges) {
    pieces = 0;
    let prevEnd = -1;
    for (const [s, e] of ranges) {
      if (e <= s) continue;
      let a = Math.floor(s / B);
      const b = Math.ceil(e / B) - 1;
      if (a <= prevEnd) a = prevEnd + 1;
      if (b >= a) {
        data += b - a + 1;
        pieces++;
        prevEnd = b;
        last = b;
      }
    }
  } else {
    data = Math.ceil(size / B);
    last = data - 1;
  }
  if (data === 0) return 0;
  if (cfg.has('extent')) {
    // metadata regions split runs: at most one split per group spanned, plus pieces and 32768-block limits
    const extents = pieces + Math.floor(data / 32768) + 1 + Math.floor(data / (bpg / 2));
    return data + extentTreeBlocks(extents, B);
  }
  return data + blockMapBlocks(data, last, B) + (ranges ? 3 * pieces : 0);
}

function metaOf(n: TreeNode): Meta {
  return { mode: n.mode, uid: n.uid, gid: n.gid, atime: n.atime, mtime: n.mtime, ctime: n.ctime };
}

/** Walk the tree, number inodes, build directories, place xattrs and estimate blocks. */
function plan(tree: FileTree, cfg: Config): Plan {
  const B = cfg.blockSize;
  const fsSeed = fsCsumSeed(cfg.uuid);
  const recs: Rec[] = [];
  const byNode = new Map<TreeNode, Rec>();
  const epochT: Timespec = { sec: cfg.epoch, nsec: 0 };
  const mk = (ino: number, type: NodeType, node: TreeNode | undefined, meta: Meta, path: string): Rec => {
    const r: Rec = {
      ino,
      type,
      node,
      meta,
      path,
      links: 0,
      est: 0,
      size: 0,
      iblock: new Uint8Array(60),
      flags: 0,
      blocks: 0,
      fileAcl: 0,
    };
    recs[ino] = r;
    if (node) byNode.set(node, r);
    return r;
  };
  const root = mk(ROOT_INO, 'dir', tree.root, metaOf(tree.root), '/');
  root.parent = ROOT_INO;
  root.entries = [];
  root.subdirs = 0;
  const lpfNode = tree.root.children.get('lost+found');
  const lpf = mk(
    FIRST_INO,
    'dir',
    lpfNode?.type === 'dir' ? lpfNode : undefined,
    lpfNode?.type === 'dir'
      ? metaOf(lpfNode)
      : { mode: 0o700, uid: 0, gid: 0, atime: epochT, mtime: epochT, ctime: epochT },
    '/lost+found',
  );
  lpf.parent = ROOT_INO;
  lpf.entries = [];
  lpf.subdirs = 0;
  let next = FIRST_INO + 1;
  if (!lpfNode || lpfNode.type !== 'dir') {
    if (lpfNode)
      throw new PathError(
        'E_PATH_LOST_FOUND',
        '/lost+found exists in the tree but is not a directory; ext needs it to be one',
        { path: '/lost+found' },
      );
    root.entries.push({ name: enc.encode('lost+found'), ino: FIRST_INO, ft: cfg.has('filetype') ? FT.dir : 0 });
    root.subdirs!++;
    lpf.links = 1;
  }
  const stack: Rec[] = [root];
  if (!lpfNode) stack.push(lpf);
  while (stack.length) {
    const d = stack.pop()!;
    if (!d.node) continue;
    const dn = d.node as Extract<TreeNode, { type: 'dir' }>;
    const subdirs: Rec[] = [];
    const named = [...dn.children.keys()].sort(compareNames).map((name) => ({ name, bytes: enc.encode(name) }));
    for (const { name, bytes: nb } of named) {
      const child = dn.children.get(name)!;
      const path = d.path === '/' ? `/${name}` : `${d.path}/${name}`;
      let r = byNode.get(child);
      if (r && child.type === 'dir' && !(r === lpf && d === root && r.links === 0)) {
        throw new PathError(
          'E_PATH_DIR_LINK',
          `directory ${path} appears twice in the tree (directories cannot be hard links)`,
          { path },
        );
      }
      if (!r) {
        r = mk(next++, child.type, child, metaOf(child), path);
      }
      r.links++;
      if (nb.length > 255)
        throw new PathError('E_PATH_NAME_TOO_LONG', `name ${path} is longer than 255 bytes`, { path });
      d.entries!.push({ name: nb, ino: r.ino, ft: cfg.has('filetype') ? FTYPE[child.type] : 0 });
      if (child.type === 'dir') {
        r.parent = d.ino;
        r.entries = [];
        r.subdirs = 0;
        d.subdirs!++;
        subdirs.push(r);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  root.links = 1;
  // per-inode storage
  const dirOpts = {
    blockSize: B,
    csum: cfg.has('metadata_csum'),
    dirIndex: cfg.has('dir_index'),
    hashVersion: cfg.hashVersion,
    unsignedHash: true,
    fileType: cfg.has('filetype'),
    seed: seedWords(cfg.hashSeed),
  };
  const ibodySpace = cfg.inodeSize > GOOD_OLD_INODE_SIZE ? cfg.inodeSize - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE : 0;
  let content = 0;
  let dataBytes = 0;
  const bpgGuess = 8 * B;
  for (const r of recs) {
    if (!r) continue;
    const node = r.node;
    if (node && node.xattrs.size) {
      if (!cfg.has('ext_attr'))
        throw new UsageError('E_USAGE_FEATURE', `${r.path} has extended attributes but the ext_attr feature is off`, {
          path: r.path,
        });
      const p = placeXattrs(xattrEntries(node.xattrs, r.path), ibodySpace, B, r.path);
      r.xin = p.inode;
      r.xblock = p.block;
      if (p.block.length) content++;
    }
    if (r.type === 'dir') {
      const seed = inodeCsumSeed(fsSeed, r.ino, 0);
      const minBlocks = r.ino === FIRST_INO ? Math.min(12, Math.max(2, 16384 / B)) : 1;
      const built = buildDir(r.ino, r.parent!, r.entries!, { ...dirOpts, minBlocks }, seed, r.path);
      r.dirBlocks = built.blocks;
      r.indexed = built.indexed;
      r.entries = undefined; // free memory
      const n = built.blocks.length;
      r.est =
        n +
        (cfg.has('extent')
          ? extentTreeBlocks(Math.floor(n / 32768) + 2 + Math.floor(n / (bpgGuess / 2)), B)
          : blockMapBlocks(n, n - 1, B));
      r.size = n * B;
      const nl = 2 + r.subdirs!;
      r.links = nl > 65000 && cfg.has('dir_nlink') ? 1 : nl;
      if (nl > 65000 && !cfg.has('dir_nlink'))
        throw new CapacityError(
          'E_LIMIT_SUBDIRS',
          `${r.path} has ${r.subdirs} subdirectories; more than 64998 need the dir_nlink feature`,
          { path: r.path },
        );
    } else if (r.type === 'file') {
      const c = (node as Extract<TreeNode, { type: 'file' }>).content;
      r.size = c.size;
      if (c.size > 0xffffffff && !cfg.has('large_file'))
        throw new CapacityError(
          'E_LIMIT_FILE_SIZE',
          `${r.path} is ${c.size} bytes; files above 4 GiB need the large_file feature`,
          { path: r.path },
        );
      const maxBlocks = cfg.has('extent') ? 2 ** 32 : 12 + B / 4 + (B / 4) ** 2 + (B / 4) ** 3;
      if (Math.ceil(c.size / B) > maxBlocks)
        throw new CapacityError(
          'E_LIMIT_FILE_SIZE',
          `${r.path} is ${c.size} bytes, more than ext holds at block size ${B}`,
          { path: r.path },
        );
      // inline_data: small files live in i_block (60 bytes) + the system.data xattr (up to 68 more)
      if (
        cfg.has('inline_data') &&
        c.size > 0 &&
        c.size <= 60 + 68 &&
        node!.xattrs.size === 0 &&
        (c.readInto || c.readAt)
      ) {
        const data = c.readInto
          ? (() => {
              const b = new Uint8Array(c.size);
              return b.subarray(0, c.readInto!(0, b));
            })()
          : c.readAt!(0, c.size);
        if (data.length !== c.size)
          throw new HostIOError(
            'E_IO_CONTENT_SIZE',
            `${r.path}: content returned ${data.length} bytes, declared ${c.size}`,
            { path: r.path },
          );
        r.inline = true;
        r.flags |= INODE_FLAGS.INLINE_DATA;
        r.iblock.set(data.subarray(0, 60));
        r.xin = [{ index: 7, name: enc.encode('data'), value: data.slice(60), full: 'system.data' }];
        continue;
      }
      const ranges = c.dataRanges?.();
      r.est = fileBlocksEstimate(cfg, c.size, ranges, bpgGuess);
      dataBytes += ranges ? ranges.reduce((s, [a, b]) => s + Math.max(0, b - a), 0) : c.size;
    } else if (r.type === 'symlink') {
      const t = enc.encode((node as Extract<TreeNode, { type: 'symlink' }>).target);
      r.size = t.length;
      if (t.length < 60) {
        r.iblock.set(t);
      } else {
        if (t.length >= B)
          throw new CapacityError(
            'E_LIMIT_SYMLINK',
            `symlink ${r.path}: target is ${t.length} bytes; at block size ${B} the limit is ${B - 1}`,
            { path: r.path },
          );
        r.dirBlocks = [padBlock(t, B)];
        r.est = 1;
      }
    } else if (r.type === 'chardev' || r.type === 'blockdev') {
      const n = node as Extract<TreeNode, { type: 'chardev' | 'blockdev' }>;
      const dv = new DataView(r.iblock.buffer);
      if (n.major < 256 && n.minor < 256) dv.setUint32(0, (n.major << 8) | n.minor, true);
      else dv.setUint32(4, encodeDev(n.major, n.minor), true);
    }
    content += r.est;
  }
  return { cfg, recs, usedInodes: next - 1, contentBlocks: content, dataBytes, fsSeed };
}

function padBlock(d: Uint8Array, B: number): Uint8Array {
  const b = new Uint8Array(B);
  b.set(d);
  return b;
}

/** Blocks needed beyond metadata for a geometry: content + journal. */
function needed(p: Plan, g: Geometry): number {
  const j = g.journalBlocks;
  const jmeta =
    j === 0
      ? 0
      : p.cfg.has('extent')
        ? extentTreeBlocks(Math.ceil(j / 32768) + Math.ceil(j / g.bpg) + 2, g.B)
        : blockMapBlocks(j, j - 1, g.B);
  return g.overhead + p.contentBlocks + j + jmeta;
}

/** Inodes the plan needs, with headroom for auto sizing. */
function inodeNeed(p: Plan, headroom: boolean): number {
  const used = p.usedInodes;
  return headroom ? Math.ceil(used * (1 + p.cfg.headroom / 100)) + 16 : used;
}

function autoBlocks(p: Plan): Geometry {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const extra = Math.max(Math.ceil((p.contentBlocks * cfg.headroom) / 100), Math.ceil((256 * 1024) / B));
  const minBlocks = cfg.has('has_journal') ? 2048 : 64;
  const align = Math.max(1, (1 << 20) / B); // whole MiB
  const inodes = inodeNeed(p, true);
  // first guess: content, headroom and inode tables
  let blocks = Math.max(minBlocks, p.contentBlocks + extra + Math.ceil((inodes * cfg.inodeSize) / B) + 64);
  for (let i = 0; i < 200; i++) {
    blocks = Math.ceil(blocks / align) * align;
    let g: Geometry;
    try {
      g = geometry(cfg, blocks, inodes);
    } catch (e) {
      if (e instanceof CapacityError) {
        blocks = Math.ceil(blocks * 1.25) + align;
        continue;
      }
      throw e;
    }
    const need = needed(p, g) + extra;
    if (g.blocks >= need) return g;
    blocks = Math.max(blocks + align, need + (blocks - g.blocks));
  }
  throw new CapacityError('E_SPACE_FS', 'could not find a filesystem size for the tree', {});
}

/** The smallest size (bytes, whole MiB) that holds the tree plus headroom. */
export function ext4MinimumSize(tree: FileTree, opts: Ext4Options = {}): number {
  return prepareExt4(tree, opts).minimumSize;
}

/** A planned filesystem: the minimum size is known, `write` writes it once. */
export interface PreparedExt4 {
  /** Smallest size in bytes (whole MiB) holding the tree plus headroom. */
  readonly minimumSize: number;
  /** Write to `dev` (size: opts.size, else the device size). Callable once. */
  write(dev: BlockDevice, size?: number): Promise<Ext4Summary>;
}

/**
 * Plan once, then size and write: what `ext4MinimumSize` + `writeExt4` do
 * without walking and planning the tree twice. The tree must not change
 * between the two steps.
 */
export function prepareExt4(tree: FileTree, opts: Ext4Options = {}): PreparedExt4 {
  const cfg = resolveConfig(opts, opts.uuid !== undefined && opts.hashSeed !== undefined ? '' : treeFingerprint(tree));
  const p = plan(tree, cfg);
  let min: number | undefined;
  let used = false;
  return {
    get minimumSize() {
      min ??= autoBlocks(p).blocks * cfg.blockSize;
      return min;
    },
    write(dev, size) {
      if (used) throw new Error('prepareExt4().write() may be called only once');
      used = true;
      return writePlanned(p, dev, { ...opts, size: size ?? opts.size });
    },
  };
}

class Allocator {
  readonly used: Uint8Array;
  cursor: number;
  constructor(
    readonly total: number,
    start: number,
  ) {
    this.used = new Uint8Array(Math.ceil(total / 8));
    this.cursor = start;
  }
  isUsed(b: number): boolean {
    return (this.used[b >>> 3]! & (1 << (b & 7))) !== 0;
  }
  mark(b: number, n = 1): void {
    for (let i = b; i < b + n; i++) this.used[i >>> 3]! |= 1 << (i & 7);
  }
  alloc(): number {
    while (this.cursor < this.total && this.isUsed(this.cursor)) this.cursor++;
    if (this.cursor >= this.total)
      throw new CapacityError(
        'E_SPACE_FS',
        'the filesystem ran out of blocks while writing (the estimate was too small)',
        {},
      );
    const b = this.cursor++;
    this.mark(b);
    return b;
  }
  /** The next allocation position if `n` free blocks follow it contiguously, else -1 (nothing is marked). */
  peekRun(n: number): number {
    while (this.cursor < this.total && this.isUsed(this.cursor)) this.cursor++;
    const s = this.cursor;
    if (s + n > this.total) return -1;
    for (let i = s; i < s + n; i++) if (this.isUsed(i)) return -1;
    return s;
  }
  /** Take the run returned by peekRun. */
  takeRun(s: number, n: number): void {
    this.mark(s, n);
    this.cursor = s + n;
  }
  /** n contiguous free blocks at or after `from` (for inode tables). */
  allocContig(n: number, from: number): number {
    let s = from;
    for (;;) {
      while (s < this.total && this.isUsed(s)) s++;
      let e = s;
      while (e < this.total && e - s < n && !this.isUsed(e)) e++;
      if (e - s === n) {
        this.mark(s, n);
        return s;
      }
      if (e >= this.total) throw new CapacityError('E_SPACE_FS', `no room for ${n} contiguous metadata blocks`, {});
      s = e;
    }
  }
}

/** Buffers contiguous block writes into large sequential device writes. */
class BlockWriter {
  private buf: Uint8Array;
  private start = -1;
  private n = 0;
  bytes = 0;
  constructor(
    private dev: BlockDevice,
    private B: number,
    private base: number,
    cap = 8 << 20,
  ) {
    this.buf = new Uint8Array(Math.max(B, cap - (cap % B)));
  }
  /** Queue one block (data shorter than a block is zero-padded). */
  put(blk: number, data: Uint8Array, start = 0, end = data.length): void {
    const B = this.B;
    if (this.start < 0 || blk !== this.start + this.n || (this.n + 1) * B > this.buf.length) {
      this.flush();
      this.start = blk;
    }
    const off = this.n * B;
    const len = end - start;
    this.buf.set(len === data.length && start === 0 ? data : data.subarray(start, end), off);
    if (len < B) this.buf.fill(0, off + len, off + B);
    this.n++;
  }
  /**
   * The buffer space for `k` blocks that continue the queued run at block
   * `blk` (flushing first when they would not), to be filled in place and
   * then `commit`ted. Undefined when k blocks exceed the buffer.
   */
  tail(blk: number, k: number): Uint8Array | undefined {
    const B = this.B;
    if (k * B > this.buf.length) return undefined;
    if (this.start < 0 || blk !== this.start + this.n || (this.n + k) * B > this.buf.length) {
      this.flush();
      this.start = blk;
    }
    return this.buf.subarray(this.n * B, (this.n + k) * B);
  }
  commit(k: number): void {
    this.n += k;
  }
  flush(): void {
    if (this.n === 0) return;
    const len = this.n * this.B;
    this.dev.writeAt(this.base + this.start * this.B, this.buf.subarray(0, len));
    this.bytes += len;
    this.n = 0;
    this.start = -1;
  }
}

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let x = i; x; x >>= 1) n += x & 1;
  return n;
});

function splitTime(t: Timespec, big: boolean): { lo: number; extra: number } {
  let sec = Math.floor(t.sec);
  const nsec = Math.min(999999999, Math.max(0, Math.floor(t.nsec)));
  const min = -(2 ** 31);
  const max = big ? 2 ** 34 - 2 ** 31 - 1 : 2 ** 31 - 1;
  if (sec < min) sec = min;
  if (sec > max) sec = max;
  const lo = ((sec % 2 ** 32) + 2 ** 32) % 2 ** 32;
  const lo32 = lo >= 2 ** 31 ? lo - 2 ** 32 : lo;
  const epoch = ((sec - lo32) / 2 ** 32) & 3;
  return { lo: lo >>> 0, extra: ((nsec << 2) | epoch) >>> 0 };
}

/**
 * Write `tree` as an ext2/3/4 filesystem on `dev` (from offset 0; the size is
 * opts.size or the device size). Throws CapacityError (E_SPACE_FS, naming the
 * bytes needed) before writing anything when the tree does not fit.
 */
export async function writeExt4(tree: FileTree, dev: BlockDevice, opts: Ext4Options = {}): Promise<Ext4Summary> {
  return prepareExt4(tree, opts).write(dev);
}

async function writePlanned(p: Plan, dev: BlockDevice, opts: Ext4Options): Promise<Ext4Summary> {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const progress = opts.progress ?? silentProgress;
  const size = opts.size ?? dev.size;
  if (size > dev.size)
    throw new UsageError('E_USAGE_SIZE', `filesystem size ${size} is larger than the device (${dev.size} bytes)`, {
      expected: dev.size,
      actual: size,
    });
  // inode headroom when it fits, the bare need otherwise
  let g: Geometry | undefined;
  try {
    g = geometry(cfg, Math.floor(size / B), inodeNeed(p, true));
    if (needed(p, g) > g.blocks) g = undefined;
  } catch {
    g = undefined;
  }
  g ??= geometry(cfg, Math.floor(size / B), inodeNeed(p, false));
  if (cfg.has('has_journal') && g.journalBlocks === 0) {
    throw new CapacityError(
      'E_SPACE_FS',
      `a ${size}-byte filesystem is too small for a journal (needs 2048 blocks of ${B} bytes); use a larger size or the feature ^has_journal`,
      { actual: size, expected: 2048 * B },
    );
  }
  const need = needed(p, g);
  if (need > g.blocks) {
    const min = autoBlocks({ ...p, cfg: { ...cfg, headroom: 0 } as Config });
    throw new CapacityError(
      'E_SPACE_FS',
      `the tree needs about ${min.blocks * B} bytes (${need} blocks of ${B}), but the filesystem is ${size} bytes`,
      { expected: min.blocks * B, actual: size },
    );
  }
  const metaCsum = cfg.has('metadata_csum');
  const gdtCsum = metaCsum || cfg.has('uninit_bg');
  const extents = cfg.has('extent');
  const big = cfg.inodeSize > GOOD_OLD_INODE_SIZE;
  const fsSeed = p.fsSeed;

  // ---------------------------------------------------------- fixed metadata
  const al = new Allocator(g.blocks, g.firstData);
  if (g.firstData) al.mark(0);
  const groupStart = (grp: number) => g.firstData + grp * g.bpg;
  for (let grp = 0; grp < g.groups; grp++) if (hasSuper(cfg, grp)) al.mark(groupStart(grp), 1 + g.gdtBlocks);
  const bbm: number[] = new Array(g.groups);
  const ibm: number[] = new Array(g.groups);
  const itab: number[] = new Array(g.groups);
  for (let f = 0; f < g.groups; f += g.flexSize) {
    const last = Math.min(g.groups, f + g.flexSize);
    const from = groupStart(f);
    for (let grp = f; grp < last; grp++) bbm[grp] = al.allocContig(1, from);
    for (let grp = f; grp < last; grp++) ibm[grp] = al.allocContig(1, from);
    for (let grp = f; grp < last; grp++) itab[grp] = al.allocContig(g.itableBlocks, from);
  }
  al.cursor = g.firstData;

  const w = new BlockWriter(dev, B, 0);
  const recs = p.recs;
  const mapInode = (r: Rec) => {
    const seed = metaCsum ? inodeCsumSeed(fsSeed, r.ino, 0) : undefined;
    const m = extents ? extentTree(r.runs!, B, () => al.alloc(), seed) : blockMap(r.runs!, B, () => al.alloc(), r.path);
    r.iblock = m.iblock;
    for (const [blk, data] of m.meta) w.put(blk, data);
    let count = m.meta.length;
    for (const run of r.runs!) count += run.len;
    r.blocks += count;
    if (extents) r.flags |= INODE_FLAGS.EXTENTS;
  };

  // ------------------------------------------------ directories and symlinks
  for (const r of recs) {
    if (!r || !r.dirBlocks) continue;
    r.runs = [];
    r.dirBlocks.forEach((b, i) => {
      const blk = al.alloc();
      addBlock(r.runs!, i, blk);
      w.put(blk, b);
    });
    r.dirBlocks = undefined;
    if (r.type === 'dir' && r.indexed) r.flags |= INODE_FLAGS.INDEX;
    mapInode(r);
  }
  // ------------------------------------------------------------- xattr blocks
  // identical attribute sets share one block (h_refcount), at most 1024 inodes per block like the kernel
  const xsets = new Map<string, { block: Uint8Array; users: Rec[] }>();
  for (const r of recs) {
    if (!r || !r.xblock?.length) continue;
    const b = encodeBlock(r.xblock, B);
    const key = bytesKey(b);
    const set = xsets.get(key);
    if (set) set.users.push(r);
    else xsets.set(key, { block: b, users: [r] });
  }
  for (const { block, users } of xsets.values()) {
    for (let i = 0; i < users.length; i += 1024) {
      const share = users.slice(i, i + 1024);
      const b = block.slice();
      const blk = al.alloc();
      new DataView(b.buffer).setUint32(4, share.length, true); // h_refcount
      if (metaCsum) new DataView(b.buffer).setUint32(0x10, xattrBlockCsum(fsSeed, blk, b), true);
      w.put(blk, b);
      for (const r of share) {
        r.fileAcl = blk;
        r.blocks += 1;
      }
    }
  }
  // ------------------------------------------------------------------ journal
  let journal: Rec | undefined;
  if (g.journalBlocks) {
    const t: Timespec = { sec: cfg.epoch, nsec: 0 };
    journal = {
      ino: JOURNAL_INO,
      type: 'file',
      node: undefined,
      meta: { mode: 0o600, uid: 0, gid: 0, atime: t, mtime: t, ctime: t },
      path: '<journal>',
      links: 1,
      est: 0,
      size: g.journalBlocks * B,
      iblock: new Uint8Array(60),
      flags: 0,
      blocks: 0,
      fileAcl: 0,
      runs: [],
    };
    recs[JOURNAL_INO] = journal;
    for (let i = 0; i < g.journalBlocks; i++) {
      const blk = al.alloc();
      addBlock(journal.runs!, i, blk);
    }
    const jsb = jbd2Superblock.encode({
      h_magic: JBD2_MAGIC,
      h_blocktype: JBD2_SUPERBLOCK_V2,
      h_sequence: 0,
      s_blocksize: B,
      s_maxlen: g.journalBlocks,
      s_first: 1,
      s_sequence: 1,
      s_start: 0,
      s_errno: 0,
      s_feature_compat: 0,
      s_feature_incompat: metaCsum ? JBD2_INCOMPAT_CSUM_V3 : 0,
      s_feature_ro_compat: 0,
      s_uuid: cfg.uuid,
      s_nr_users: 1,
      s_max_transaction: 0,
      s_max_trans_data: 0,
      s_checksum_type: metaCsum ? JBD2_CRC32C_CHKSUM : 0,
    });
    if (metaCsum) new DataView(jsb.buffer).setUint32(0xfc, jbd2SuperblockCsum(jsb), false);
    w.put(journal.runs![0]!.pblk, jsb);
    mapInode(journal);
  }

  // --------------------------------------------------------------- file data
  progress.start(`writing ${cfg.type}`, p.dataBytes, 'bytes');
  let dataBytes = 0;
  const CHUNK = 8 << 20;
  const scratch = new Uint8Array(CHUNK); // reused read buffer: no allocation per file
  for (const r of recs) {
    if (!r || r.type !== 'file' || !r.node || r.inline) continue;
    const c = (r.node as Extract<TreeNode, { type: 'file' }>).content;
    r.runs = [];
    const size = c.size;
    // process one chunk that starts at block-aligned file offset `pos`
    const take = (pos: number, data: Uint8Array) => {
      for (let o = 0; o < data.length; o += B) {
        const end = Math.min(data.length, o + B);
        if (isZero(data, o, end)) continue;
        const blk = al.alloc();
        addBlock(r.runs!, (pos + o) / B, blk);
        w.put(blk, data, o, end);
        dataBytes += end - o;
      }
      progress.tick(data.length);
    };
    if (size > 0) {
      const ranges = c.dataRanges?.();
      if (c.readInto || c.readAt) {
        const spans: Array<[number, number]> = [];
        if (ranges) {
          for (const [s, e] of ranges) {
            const a = Math.floor(s / B) * B;
            const b = Math.min(size, Math.ceil(e / B) * B);
            if (b <= a) continue;
            const lastSpan = spans[spans.length - 1];
            if (lastSpan && a <= lastSpan[1]) lastSpan[1] = Math.max(lastSpan[1], b);
            else spans.push([a, b]);
          }
        } else spans.push([0, size]);
        for (const [a, b] of spans) {
          for (let pos = a; pos < b; pos += CHUNK) {
            const want = Math.min(CHUNK, b - pos);
            if (c.readInto) {
              // fast path: read straight into the write buffer when the blocks are contiguous and none is all zeros
              const k = Math.ceil(want / B);
              const first = al.peekRun(k);
              const region = first >= 0 ? w.tail(first, k) : undefined;
              if (region) {
                const got = c.readInto(pos, region.subarray(0, want));
                if (got !== want)
                  throw new HostIOError(
                    'E_IO_CONTENT_SIZE',
                    `${r.path}: content returned ${got} bytes at ${pos}, expected ${want} (file changed while writing?)`,
                    { path: r.path },
                  );
                if (want < k * B) region.fill(0, want, k * B);
                let zero = false;
                for (let o = 0; o < want && !zero; o += B) zero = isZero(region, o, Math.min(want, o + B));
                if (!zero) {
                  al.takeRun(first, k);
                  addRange(r.runs!, pos / B, first, k);
                  w.commit(k);
                  dataBytes += want;
                  progress.tick(want);
                  continue;
                }
                scratch.set(region.subarray(0, want));
                take(pos, scratch.subarray(0, want));
                continue;
              }
            }
            const data = c.readInto
              ? scratch.subarray(0, c.readInto(pos, scratch.subarray(0, want)))
              : c.readAt!(pos, want);
            if (data.length !== want)
              throw new HostIOError(
                'E_IO_CONTENT_SIZE',
                `${r.path}: content returned ${data.length} bytes at ${pos}, expected ${want} (file changed while writing?)`,
                { path: r.path },
              );
            take(pos, data);
          }
        }
      } else {
        let pos = 0;
        let carry: Uint8Array | undefined;
        for await (const chunk0 of c.stream()) {
          let chunk = chunk0;
          if (pos + (carry?.length ?? 0) + chunk.length > size)
            throw new HostIOError(
              'E_IO_CONTENT_SIZE',
              `${r.path}: content yielded more than its declared ${size} bytes`,
              { path: r.path },
            );
          if (carry) {
            const m = new Uint8Array(carry.length + chunk.length);
            m.set(carry);
            m.set(chunk, carry.length);
            chunk = m;
            carry = undefined;
          }
          const whole = chunk.length - (chunk.length % B);
          if (whole) take(pos, chunk.subarray(0, whole));
          pos += whole;
          if (whole < chunk.length) carry = chunk.slice(whole);
        }
        if (carry) {
          take(pos, carry);
          pos += carry.length;
        }
        if (pos !== size)
          throw new HostIOError('E_IO_CONTENT_SIZE', `${r.path}: content yielded ${pos} bytes, declared ${size}`, {
            path: r.path,
          });
      }
    }
    mapInode(r);
  }
  w.flush();
  progress.done();

  // ----------------------------------------------------------- inode tables
  const groupOfIno = (ino: number) => Math.floor((ino - 1) / g.ipg);
  const inodeBits: Uint8Array[] = [];
  const usedDirs = new Array<number>(g.groups).fill(0);
  const usedInGroup = new Array<number>(g.groups).fill(0);
  const highest = Math.max(p.usedInodes, JOURNAL_INO);
  for (let grp = 0; grp < g.groups; grp++) inodeBits.push(new Uint8Array(B));
  for (let ino = 1; ino <= highest; ino++) {
    const grp = groupOfIno(ino);
    const idx = (ino - 1) % g.ipg;
    inodeBits[grp]![idx >>> 3]! |= 1 << (idx & 7);
    usedInGroup[grp] = idx + 1;
    if (recs[ino]?.type === 'dir') usedDirs[grp]!++;
  }
  const isz = cfg.inodeSize;
  for (let grp = 0; grp < g.groups; grp++) {
    const n = usedInGroup[grp]!;
    if (n === 0) continue;
    const table = new Uint8Array(n * isz);
    for (let idx = 0; idx < n; idx++) {
      const ino = grp * g.ipg + idx + 1;
      const r = recs[ino];
      const raw = table.subarray(idx * isz, (idx + 1) * isz);
      if (r) encodeInode(r, raw, cfg, big);
      else if (big) raw[GOOD_OLD_INODE_SIZE] = EXTRA_ISIZE; // reserved inodes: empty, like mke2fs
      if (metaCsum && (r || big)) setInodeCsum(fsSeed, ino, raw);
    }
    dev.writeAt(itab[grp]! * B, table);
  }

  // ---------------------------------------- bitmaps and group descriptors
  const descSize = g.descSize;
  const gdt = new Uint8Array(g.gdtBlocks * B);
  let freeBlocksTotal = 0;
  let freeInodesTotal = 0;
  for (let grp = 0; grp < g.groups; grp++) {
    const start = groupStart(grp);
    const count = Math.min(g.bpg, g.blocks - start);
    const bb = new Uint8Array(B);
    let used = 0;
    if (start % 8 === 0) {
      // byte-aligned (4K blocks, or any group when first_data_block is 0): copy whole bytes
      const whole = count >>> 3;
      bb.set(al.used.subarray(start >>> 3, (start >>> 3) + whole));
      for (let i = 0; i < whole; i++) used += POPCOUNT[bb[i]!]!;
      for (let i = whole * 8; i < count; i++)
        if (al.isUsed(start + i)) {
          bb[i >>> 3]! |= 1 << (i & 7);
          used++;
        }
    } else {
      for (let i = 0; i < count; i++)
        if (al.isUsed(start + i)) {
          bb[i >>> 3]! |= 1 << (i & 7);
          used++;
        }
    }
    for (let i = count; i < B * 8; i++) bb[i >>> 3]! |= 1 << (i & 7);
    const ib = inodeBits[grp]!;
    for (let i = g.ipg; i < B * 8; i++) ib[i >>> 3]! |= 1 << (i & 7);
    dev.writeAt(bbm[grp]! * B, bb);
    dev.writeAt(ibm[grp]! * B, ib);
    const freeB = count - used;
    const usedI = usedInGroup[grp]!;
    const freeI = g.ipg - usedI;
    freeBlocksTotal += freeB;
    freeInodesTotal += freeI;
    let flags = 0;
    if (gdtCsum) {
      flags |= BG_INODE_ZEROED;
      if (usedI === 0) flags |= BG_INODE_UNINIT;
      // BLOCK_UNINIT when the group holds nothing but what readers recompute for it:
      // its superblock/GDT backup and its own bitmaps/inode table (not the last group)
      if (grp < g.groups - 1) {
        const inGroup = (b: number, n = 1) => (b >= start && b + n <= start + count ? n : 0);
        const expected =
          (hasSuper(cfg, grp) ? 1 + g.gdtBlocks : 0) +
          inGroup(bbm[grp]!) +
          inGroup(ibm[grp]!) +
          inGroup(itab[grp]!, g.itableBlocks);
        if (used === expected) flags |= BG_BLOCK_UNINIT;
      }
    }
    const bcs = metaCsum ? bitmapCsum(fsSeed, bb, g.bpg / 8) : 0;
    const ics = metaCsum ? bitmapCsum(fsSeed, ib, g.ipg / 8) : 0;
    const d = {
      bg_block_bitmap_lo: bbm[grp]! >>> 0,
      bg_inode_bitmap_lo: ibm[grp]! >>> 0,
      bg_inode_table_lo: itab[grp]! >>> 0,
      bg_free_blocks_count_lo: freeB & 0xffff,
      bg_free_inodes_count_lo: freeI & 0xffff,
      bg_used_dirs_count_lo: usedDirs[grp]! & 0xffff,
      bg_flags: flags,
      bg_exclude_bitmap_lo: 0,
      bg_block_bitmap_csum_lo: bcs & 0xffff,
      bg_inode_bitmap_csum_lo: ics & 0xffff,
      bg_itable_unused_lo: gdtCsum ? (g.ipg - usedI) & 0xffff : 0,
      bg_checksum: 0,
    };
    const off = grp * descSize;
    if (descSize === 64) {
      groupDesc64.encode(
        {
          ...d,
          bg_block_bitmap_hi: Math.floor(bbm[grp]! / 2 ** 32),
          bg_inode_bitmap_hi: Math.floor(ibm[grp]! / 2 ** 32),
          bg_inode_table_hi: Math.floor(itab[grp]! / 2 ** 32),
          bg_free_blocks_count_hi: freeB >>> 16,
          bg_free_inodes_count_hi: freeI >>> 16,
          bg_used_dirs_count_hi: usedDirs[grp]! >>> 16,
          bg_itable_unused_hi: gdtCsum ? (g.ipg - usedI) >>> 16 : 0,
          bg_exclude_bitmap_hi: 0,
          bg_block_bitmap_csum_hi: bcs >>> 16,
          bg_inode_bitmap_csum_hi: ics >>> 16,
          bg_reserved: 0,
        },
        gdt,
        off,
      );
    } else {
      groupDesc32.encode(d, gdt, off);
    }
    if (gdtCsum) {
      const cs = groupDescCsum(
        { metadataCsum: metaCsum, fsSeed, uuid: cfg.uuid, descSize },
        grp,
        gdt.subarray(off, off + descSize),
      );
      new DataView(gdt.buffer).setUint16(off + 0x1e, cs, true);
    }
  }

  // --------------------------------------------------------------- superblock
  const sbTime = splitTime({ sec: cfg.epoch, nsec: 0 }, true);
  const sbHi = Math.floor(cfg.epoch / 2 ** 32) & 0xff;
  const jnl = new Uint8Array(68);
  if (journal) {
    jnl.set(journal.iblock, 0);
    const jdv = new DataView(jnl.buffer);
    jdv.setUint32(60, Math.floor(journal.size / 2 ** 32), true);
    jdv.setUint32(64, journal.size >>> 0, true);
  }
  const rBlocks = Math.floor((g.blocks * cfg.reservedPercent) / 100);
  const sbFields = {
    s_inodes_count: g.inodes,
    s_blocks_count_lo: g.blocks >>> 0,
    s_r_blocks_count_lo: rBlocks >>> 0,
    s_free_blocks_count_lo: freeBlocksTotal >>> 0,
    s_free_inodes_count: freeInodesTotal,
    s_first_data_block: g.firstData,
    s_log_block_size: Math.log2(B) - 10,
    s_log_cluster_size: Math.log2(B) - 10,
    s_blocks_per_group: g.bpg,
    s_clusters_per_group: g.bpg,
    s_inodes_per_group: g.ipg,
    s_mtime: 0,
    s_wtime: sbTime.lo,
    s_mnt_count: 0,
    s_max_mnt_count: 0xffff,
    s_magic: EXT4_MAGIC,
    s_state: 1,
    s_errors: 1,
    s_minor_rev_level: 0,
    s_lastcheck: sbTime.lo,
    s_checkinterval: 0,
    s_creator_os: 0,
    s_rev_level: 1,
    s_def_resuid: 0,
    s_def_resgid: 0,
    s_first_ino: FIRST_INO,
    s_inode_size: cfg.inodeSize,
    s_block_group_nr: 0,
    s_feature_compat: cfg.set.compat,
    s_feature_incompat: cfg.set.incompat,
    s_feature_ro_compat: cfg.set.ro_compat,
    s_uuid: cfg.uuid,
    s_volume_name: cfg.label,
    s_reserved_gdt_blocks: 0,
    s_journal_inum: journal ? JOURNAL_INO : 0,
    s_hash_seed: cfg.hashSeed,
    s_def_hash_version: cfg.hashVersion,
    s_jnl_backup_type: journal ? 1 : 0,
    s_desc_size: cfg.has('64bit') ? 64 : 0,
    s_default_mount_opts: DEFM_XATTR_USER | DEFM_ACL,
    s_first_meta_bg: 0,
    s_mkfs_time: sbTime.lo,
    s_jnl_blocks: jnl,
    s_blocks_count_hi: Math.floor(g.blocks / 2 ** 32),
    s_r_blocks_count_hi: Math.floor(rBlocks / 2 ** 32),
    s_free_blocks_count_hi: Math.floor(freeBlocksTotal / 2 ** 32),
    s_min_extra_isize: big && cfg.has('extra_isize') ? EXTRA_ISIZE : 0,
    s_want_extra_isize: big && cfg.has('extra_isize') ? EXTRA_ISIZE : 0,
    s_flags: FLAGS_UNSIGNED_HASH,
    s_log_groups_per_flex: cfg.has('flex_bg') ? 4 : 0,
    s_checksum_type: metaCsum ? 1 : 0,
    s_wtime_hi: sbHi,
    s_mkfs_time_hi: sbHi,
    s_lastcheck_hi: sbHi,
  };
  for (let grp = 0; grp < g.groups; grp++) {
    if (!hasSuper(cfg, grp)) continue;
    const sb = superblock.encode({ ...sbFields, s_block_group_nr: grp });
    if (metaCsum) new DataView(sb.buffer).setUint32(0x3fc, superblockCsum(sb), true);
    const start = groupStart(grp);
    // primary at byte 1024; backups at the start of their group
    const sbOff = grp === 0 ? 1024 : start * B;
    dev.writeAt(sbOff, sb);
    dev.writeAt((start + 1) * B, gdt);
  }
  dev.flush();

  const uuidStr = (u: Uint8Array) =>
    [...u]
      .map((x) => x.toString(16).padStart(2, '0'))
      .join('')
      .replace(/^(.{8})(.{4})(.{4})(.{4})(.{12})$/, '$1-$2-$3-$4-$5');
  return {
    type: cfg.type,
    size: g.blocks * B,
    blockSize: B,
    blocksCount: g.blocks,
    freeBlocks: freeBlocksTotal,
    inodesCount: g.inodes,
    freeInodes: freeInodesTotal,
    groups: g.groups,
    uuid: uuidStr(cfg.uuid),
    hashSeed: uuidStr(cfg.hashSeed),
    label: opts.label ?? '',
    features: featureNames(cfg.set),
    journalBlocks: g.journalBlocks,
    dataBytes,
  };
}

function encodeInode(r: Rec, out: Uint8Array, cfg: Config, big: boolean): void {
  // the struct table covers 160 bytes; 128-byte inodes are built in a scratch buffer
  const raw = big ? out : INODE_SCRATCH.fill(0);
  const m = r.meta;
  const at = splitTime(m.atime, big);
  const mt = splitTime(m.mtime, big);
  const ct = splitTime(m.ctime, big);
  const B = cfg.blockSize;
  const sectors = r.blocks * (B / 512);
  // one encode pass; the extra fields only exist in large inodes
  inodeStruct.encode(
    {
      i_mode: fullMode({ type: r.type, mode: m.mode }),
      i_uid: m.uid & 0xffff,
      i_size_lo: r.size >>> 0,
      i_atime: at.lo,
      i_ctime: ct.lo,
      i_mtime: mt.lo,
      i_dtime: 0,
      i_gid: m.gid & 0xffff,
      i_links_count: r.links,
      i_blocks_lo: sectors >>> 0,
      i_flags: r.flags,
      l_i_version: 0,
      i_block: r.iblock,
      i_generation: 0,
      i_file_acl_lo: r.fileAcl >>> 0,
      i_size_high: Math.floor(r.size / 2 ** 32),
      i_obso_faddr: 0,
      l_i_blocks_high: Math.floor(sectors / 2 ** 32) & 0xffff,
      l_i_file_acl_high: Math.floor(r.fileAcl / 2 ** 32) & 0xffff,
      l_i_uid_high: m.uid >>> 16,
      l_i_gid_high: m.gid >>> 16,
      l_i_checksum_lo: 0,
      l_i_reserved: 0,
      ...(big
        ? {
            i_extra_isize: EXTRA_ISIZE,
            i_checksum_hi: 0,
            i_ctime_extra: ct.extra,
            i_mtime_extra: mt.extra,
            i_atime_extra: at.extra,
            i_crtime: ct.lo,
            i_crtime_extra: ct.extra,
            i_version_hi: 0,
            i_projid: 0,
          }
        : {}),
    },
    raw,
    0,
  );
  if (!big) {
    out.set(raw.subarray(0, out.length));
    return;
  }
  if (r.xin?.length) encodeIbody(r.xin, raw.subarray(GOOD_OLD_INODE_SIZE + EXTRA_ISIZE));
}

const INODE_SCRATCH = new Uint8Array(inodeStruct.size);
