/**
 * Writer, step five: inodes and what they own. Directory blocks and slow
 * symlink targets first (built from the plan, written as each is made),
 * shared xattr blocks, then every inode in number order: a file's data and
 * its block map or extent tree, then its encoding into its group's inode
 * table, which is written as soon as its last used inode is encoded (used
 * inodes only). Only directories and slow symlinks keep anything (their
 * i_block) until their table is written.
 */
import { bytesKey } from '../../binary/bytes.js';
import { HostIOError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { fullMode, TYPE_BITS, type TreeNode } from '../../tree/types.js';
import type { BlockWriter } from './blockwriter.js';
import { inodeCsumSeed, setFreshInodeCsumAt, xattrBlockCsum } from './csum.js';
import { buildDir } from './dir.js';
import { encodeDevice, timeExtra, timeLo } from './fields.js';
import type { Geometry } from './layout.js';
import { addBlock, blockMap, extentTree } from './map.js';
import type { Config } from './options.js';
import {
  EXTRA_ISIZE,
  GOOD_OLD_INODE_SIZE,
  INLINE_DATA_NAME,
  INLINE_DATA_XATTR,
  INODE_FLAGS,
  I_BLOCK_SIZE,
  JOURNAL_INO,
  SECTOR_SIZE,
  XATTR_INDEX,
  extentCapacity,
  inode as inodeStruct,
  xattrHeader,
} from './structs.js';
import type { Allocator } from './writealloc.js';
import { writeFileData, type DataWriter } from './writedata.js';
import { dirEntries, madeLpfMeta, minDirBlocks, PLAN_BIT, Rec, type Plan } from './writeplan.js';
import { encodeBlock, encodeIbody, placeXattrs, xattrEntries } from './xattr.js';

const enc = new TextEncoder();

/** What the writing steps share. */
export interface WriteCtx {
  cfg: Config;
  g: Geometry;
  dev: BlockDevice;
  al: Allocator;
  w: BlockWriter;
  fsSeed: number;
}

/** Extents i_block holds (more make a tree with blocks of its own). */
const EXTENT_ROOT_CAPACITY = extentCapacity(I_BLOCK_SIZE);

/** Inodes sharing one xattr block at most (h_refcount), like the kernel. */
const XATTR_BLOCK_MAX_USERS = 1024;

/** Build the block map or extent tree of r.runs (allocating its blocks) and count r's blocks. */
export function mapInode(ctx: WriteCtx, r: Rec): void {
  const { cfg, al, w } = ctx;
  const B = cfg.blockSize;
  const extents = cfg.has('extent');
  const runs = r.runs!;
  // the seed checksums extent tree blocks, which only files of more extents than i_block holds have
  const seed =
    extents && runs.length > EXTENT_ROOT_CAPACITY && cfg.has('metadata_csum')
      ? inodeCsumSeed(ctx.fsSeed, r.ino, 0)
      : undefined;
  const alloc = () => al.alloc();
  const m = extents ? extentTree(runs, B, alloc, seed) : blockMap(runs, B, alloc, () => r.path);
  r.iblock.set(m.iblock); // extentTree's is shared
  for (const [blk, data] of m.meta) w.put(blk, data);
  let count = m.meta.length;
  for (const run of runs) count += run.len;
  r.blocks += count;
  if (extents) r.flags |= INODE_FLAGS.EXTENTS;
}

/**
 * What the first writing step leaves for the inode tables: the i_block,
 * block count and flags of each directory and slow symlink, in slabs.
 */
export class EarlyInodes {
  private readonly slot: Int32Array;
  private readonly iblocks: Uint8Array;
  private readonly counts: Float64Array;
  private readonly flagsOf: Uint32Array;
  private n = 0;
  constructor(inodes: number, early: number) {
    this.slot = new Int32Array(inodes + 1).fill(-1);
    this.iblocks = new Uint8Array(early * I_BLOCK_SIZE);
    this.counts = new Float64Array(early);
    this.flagsOf = new Uint32Array(early);
  }
  keep(r: Rec): void {
    const k = this.n++;
    this.slot[r.ino] = k;
    this.iblocks.set(r.iblock, k * I_BLOCK_SIZE);
    this.counts[k] = r.blocks;
    this.flagsOf[k] = r.flags;
  }
  /** Give `r` what was kept for its inode; false if nothing was. */
  restore(r: Rec): boolean {
    const k = this.slot[r.ino] ?? -1;
    if (k < 0) return false;
    r.iblock = this.iblocks.subarray(k * I_BLOCK_SIZE, (k + 1) * I_BLOCK_SIZE);
    r.blocks += this.counts[k]!;
    r.flags |= this.flagsOf[k]!;
    return true;
  }
}

/** Is inode `ino` written in the first step (a directory or a slow symlink)? */
function isEarly(p: Plan, ino: number): boolean {
  return p.inodes.type(ino) === 'dir' || (p.inodes.bits[ino]! & PLAN_BIT.SLOW_SYMLINK) !== 0;
}

/** The blocks of a directory or slow symlink, made from the plan. */
function earlyBlocks(ctx: WriteCtx, p: Plan, r: Rec): Uint8Array[] {
  const B = ctx.cfg.blockSize;
  if (r.type !== 'dir') {
    const block = new Uint8Array(B);
    enc.encodeInto((r.node as Extract<TreeNode, { type: 'symlink' }>).target, block);
    return [block];
  }
  const seed = inodeCsumSeed(p.fsSeed, r.ino, 0);
  const opts = { ...p.dirOpts, minBlocks: minDirBlocks(r.ino, B) };
  const built = buildDir(r.ino, p.inodes.parent[r.ino]!, dirEntries(p, r.ino), opts, seed, () => r.path);
  if (built.blocks.length !== p.inodes.nblocks[r.ino])
    throw new Error(
      `internal: directory ${r.path} has ${built.blocks.length} blocks, planned ${p.inodes.nblocks[r.ino]}`,
    );
  if (built.indexed) r.flags |= INODE_FLAGS.INDEX;
  return built.blocks;
}

/** Directory blocks and slow symlink targets in inode order, each inode's map after its blocks. */
export function writeDirBlocks(ctx: WriteCtx, p: Plan): EarlyInodes {
  let early = 0;
  for (let ino = 1; ino <= p.usedInodes; ino++) if (isEarly(p, ino)) early++;
  const kept = new EarlyInodes(p.usedInodes, early);
  for (let ino = 1; ino <= p.usedInodes; ino++) {
    if (!isEarly(p, ino)) continue;
    const r = newRec(ctx, p, ino);
    r.runs = [];
    earlyBlocks(ctx, p, r).forEach((b, i) => {
      const blk = ctx.al.alloc();
      addBlock(r.runs!, i, blk);
      ctx.w.put(blk, b);
    });
    mapInode(ctx, r);
    kept.keep(r);
  }
  return kept;
}

/** The xattr entries of inode `ino` split between the inode and a block. */
function xattrPlacement(ctx: WriteCtx, p: Plan, ino: number) {
  const node = p.inodes.nodes[ino]!;
  const isz = ctx.cfg.inodeSize;
  const ibodySpace = isz > GOOD_OLD_INODE_SIZE ? isz - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE : 0;
  const where = () => p.pathOf(ino);
  return placeXattrs(xattrEntries(node.xattrs, where), ibodySpace, ctx.cfg.blockSize, where);
}

/** External xattr blocks: identical attribute sets share one block (h_refcount). Returns i_file_acl by inode. */
export function writeXattrBlocks(ctx: WriteCtx, p: Plan): Map<number, number> {
  const B = ctx.cfg.blockSize;
  const metaCsum = ctx.cfg.has('metadata_csum');
  const xsets = new Map<string, { block: Uint8Array; users: number[] }>();
  for (let ino = 1; ino <= p.usedInodes; ino++) {
    if (!(p.inodes.bits[ino]! & PLAN_BIT.XATTR_BLOCK)) continue;
    const b = encodeBlock(xattrPlacement(ctx, p, ino).block, B);
    const key = bytesKey(b);
    const set = xsets.get(key);
    if (set) set.users.push(ino);
    else xsets.set(key, { block: b, users: [ino] });
  }
  const acl = new Map<number, number>();
  for (const { block, users } of xsets.values()) {
    for (let i = 0; i < users.length; i += XATTR_BLOCK_MAX_USERS) {
      const share = users.slice(i, i + XATTR_BLOCK_MAX_USERS);
      const b = block.slice();
      const blk = ctx.al.alloc();
      xattrHeader.encode({ h_refcount: share.length }, b);
      if (metaCsum) xattrHeader.encode({ h_checksum: xattrBlockCsum(ctx.fsSeed, blk, b) }, b);
      ctx.w.put(blk, b);
      for (const ino of share) acl.set(ino, blk);
    }
  }
  return acl;
}

/**
 * The i_block of the record being made: one record is made, encoded and
 * dropped at a time (directories and slow symlinks keep a copy), so they
 * share one buffer, zeroed for each.
 */
const IBLOCK = new Uint8Array(I_BLOCK_SIZE);

/** A fresh record of inode `ino` with its metadata (the node's own fields) and link count. */
function newRec(ctx: WriteCtx, p: Plan, ino: number): Rec {
  const node = p.inodes.nodes[ino];
  const r = new Rec(ino, p.inodes.type(ino)!, node, node ?? madeLpfMeta(ctx.cfg), p.pathOf, IBLOCK.fill(0));
  r.links = p.inodes.links[ino]!;
  return r;
}

const U32 = 2 ** 32;
const I = (name: Parameters<typeof inodeStruct.offsetOf>[0]) => inodeStruct.offsetOf(name);
const O_MODE = I('i_mode');
const O_UID = I('i_uid');
const O_SIZE_LO = I('i_size_lo');
const O_ATIME = I('i_atime');
const O_CTIME = I('i_ctime');
const O_MTIME = I('i_mtime');
const O_GID = I('i_gid');
const O_LINKS = I('i_links_count');
const O_BLOCKS_LO = I('i_blocks_lo');
const O_FLAGS = I('i_flags');
const O_BLOCK = I('i_block');
const O_FILE_ACL_LO = I('i_file_acl_lo');
const O_SIZE_HIGH = I('i_size_high');
const O_BLOCKS_HIGH = I('l_i_blocks_high');
const O_FILE_ACL_HIGH = I('l_i_file_acl_high');
const O_UID_HIGH = I('l_i_uid_high');
const O_GID_HIGH = I('l_i_gid_high');
const O_EXTRA_ISIZE = I('i_extra_isize');
const O_CTIME_EXTRA = I('i_ctime_extra');
const O_MTIME_EXTRA = I('i_mtime_extra');
const O_ATIME_EXTRA = I('i_atime_extra');
const O_CRTIME = I('i_crtime');
const O_CRTIME_EXTRA = I('i_crtime_extra');

/** The view of the last table encoded into (one per table, not one per inode). */
let viewOf: Uint8Array | undefined;
let view: DataView | undefined;
function tableView(table: Uint8Array): DataView {
  if (table !== viewOf) {
    view = new DataView(table.buffer, table.byteOffset, table.byteLength);
    viewOf = table;
  }
  return view!;
}

/**
 * Encode inode `r` at `off` in `table` (s_inode_size bytes, zeroed: fields
 * that are zero are not stored). The fields are the inode struct's, at its
 * offsets, stored one by one: no record object per inode.
 */
export function encodeInode(r: Rec, table: Uint8Array, off: number, cfg: Config, big: boolean): void {
  const v = tableView(table);
  const m = r.meta;
  const ct = m.ctime;
  const sectors = r.blocks * (cfg.blockSize / SECTOR_SIZE);
  // most inodes are regular files: their type bits without a lookup by type name
  const mode = r.type === 'file' ? TYPE_BITS.file | (m.mode & 0o7777) : fullMode({ type: r.type, mode: m.mode });
  v.setUint16(off + O_MODE, mode & 0xffff, true);
  v.setUint16(off + O_UID, m.uid & 0xffff, true);
  v.setUint32(off + O_SIZE_LO, r.size >>> 0, true);
  v.setUint32(off + O_ATIME, timeLo(m.atime, big), true);
  v.setUint32(off + O_CTIME, timeLo(ct, big), true);
  v.setUint32(off + O_MTIME, timeLo(m.mtime, big), true);
  v.setUint16(off + O_GID, m.gid & 0xffff, true);
  v.setUint16(off + O_LINKS, r.links & 0xffff, true);
  v.setUint32(off + O_BLOCKS_LO, sectors >>> 0, true);
  v.setUint32(off + O_FLAGS, r.flags >>> 0, true);
  table.set(r.iblock, off + O_BLOCK);
  v.setUint32(off + O_FILE_ACL_LO, r.fileAcl >>> 0, true);
  v.setUint32(off + O_SIZE_HIGH, Math.floor(r.size / U32) >>> 0, true);
  v.setUint16(off + O_BLOCKS_HIGH, Math.floor(sectors / U32) & 0xffff, true);
  v.setUint16(off + O_FILE_ACL_HIGH, Math.floor(r.fileAcl / U32) & 0xffff, true);
  v.setUint16(off + O_UID_HIGH, (m.uid >>> 16) & 0xffff, true);
  v.setUint16(off + O_GID_HIGH, (m.gid >>> 16) & 0xffff, true);
  if (!big) return;
  // the extra fields only exist in large inodes
  const ctx = timeExtra(ct, big);
  v.setUint16(off + O_EXTRA_ISIZE, EXTRA_ISIZE, true);
  v.setUint32(off + O_CTIME_EXTRA, ctx, true);
  v.setUint32(off + O_MTIME_EXTRA, timeExtra(m.mtime, big), true);
  v.setUint32(off + O_ATIME_EXTRA, timeExtra(m.atime, big), true);
  v.setUint32(off + O_CRTIME, timeLo(ct, big), true);
  v.setUint32(off + O_CRTIME_EXTRA, ctx, true);
  if (r.xin?.length) encodeIbody(r.xin, table.subarray(off + GOOD_OLD_INODE_SIZE + EXTRA_ISIZE, off + cfg.inodeSize));
}

/** What the inode tables hold per group, for the bitmaps and descriptors. */
export interface InodeUse {
  /** Inode bitmap of each group (a block each). */
  bitmaps: Uint8Array[];
  usedDirs: number[];
  /** Inodes of each group up to the last used one (the rest stay unused). */
  used: number[];
}

/** Which inodes are in use: every inode up to the highest planned one (reserved ones included). */
function inodeUse(p: Plan, g: Geometry): InodeUse {
  const use: InodeUse = {
    bitmaps: Array.from({ length: g.groups }, () => new Uint8Array(g.B)),
    usedDirs: new Array<number>(g.groups).fill(0),
    used: new Array<number>(g.groups).fill(0),
  };
  const highest = Math.max(p.usedInodes, JOURNAL_INO);
  // inodes 1..highest are all in use: each group's first `n` bits, set a byte at a time
  for (let grp = 0; grp * g.ipg < highest; grp++) {
    const first = grp * g.ipg + 1;
    const n = Math.min(g.ipg, highest - grp * g.ipg);
    const bm = use.bitmaps[grp]!;
    bm.fill(0xff, 0, n >>> 3);
    if (n & 7) bm[n >>> 3]! |= (1 << (n & 7)) - 1;
    use.used[grp] = n;
    let dirs = 0;
    for (let ino = first; ino < first + n; ino++) if (p.inodes.isDir(ino)) dirs++;
    use.usedDirs[grp] = dirs;
  }
  return use;
}

/** The whole content of a small file (for inline data). */
function readSmall(r: Rec, c: Extract<TreeNode, { type: 'file' }>['content']): Uint8Array {
  let data: Uint8Array;
  if (c.readInto) {
    const b = new Uint8Array(c.size);
    data = b.subarray(0, c.readInto(0, b));
  } else data = c.readAt!(0, c.size);
  if (data.length !== c.size)
    throw new HostIOError('E_IO_CONTENT_SIZE', `${r.path}: content returned ${data.length} bytes, declared ${c.size}`, {
      path: r.path,
    });
  return data;
}

/** What the inode steps share besides the context. */
export interface InodeSources {
  early: EarlyInodes;
  acl: Map<number, number>;
  journal: Rec | undefined;
  data: DataWriter;
}

/**
 * The record of inode `ino`, complete: for a regular file its data is
 * written (and mapped) first. Undefined for unused reserved inodes.
 */
function completeRec(ctx: WriteCtx, p: Plan, ino: number, src: InodeSources): Rec | undefined | Promise<Rec> {
  const type = p.inodes.type(ino);
  if (!type) return ino === JOURNAL_INO ? src.journal : undefined;
  const r = newRec(ctx, p, ino);
  const node = r.node;
  if (node?.xattrs.size) r.xin = xattrPlacement(ctx, p, ino).inode;
  const acl = src.acl.get(ino);
  if (acl !== undefined) {
    r.fileAcl = acl;
    r.blocks += 1;
  }
  const early = src.early.restore(r);
  if (type === 'dir') r.size = p.inodes.nblocks[ino]! * ctx.cfg.blockSize;
  else if (node?.type === 'symlink') {
    const t = enc.encode(node.target);
    r.size = t.length;
    if (!early) r.iblock.set(t);
  } else if (node?.type === 'chardev' || node?.type === 'blockdev') encodeDevice(r.iblock, node.major, node.minor);
  else if (node?.type === 'file') {
    const c = node.content;
    r.size = c.size;
    if (p.inodes.bits[ino]! & PLAN_BIT.INLINE) {
      const data = readSmall(r, c);
      r.inline = true;
      r.flags |= INODE_FLAGS.INLINE_DATA;
      r.iblock.set(data.subarray(0, I_BLOCK_SIZE));
      const value = data.slice(I_BLOCK_SIZE);
      r.xin = [{ index: XATTR_INDEX.SYSTEM, name: enc.encode(INLINE_DATA_NAME), value, full: INLINE_DATA_XATTR }];
    } else {
      // contents with random access are copied synchronously: no promise per file
      const pending = writeFileData(src.data, r, c);
      if (pending)
        return pending.then(() => {
          mapInode(ctx, r);
          return r;
        });
      mapInode(ctx, r);
    }
  }
  return r;
}

/**
 * Every inode in number order: files' data written and mapped, each inode
 * encoded into its group's table, and each table written once its last used
 * inode is in. Returns what the tables hold, for the bitmaps and descriptors.
 */
export async function writeInodes(ctx: WriteCtx, p: Plan, inodeTables: number[], src: InodeSources): Promise<InodeUse> {
  const { cfg, g, dev } = ctx;
  const use = inodeUse(p, g);
  const isz = cfg.inodeSize;
  const big = isz > GOOD_OLD_INODE_SIZE;
  const metaCsum = cfg.has('metadata_csum');
  const highest = Math.max(p.usedInodes, JOURNAL_INO);
  let grp = -1;
  // one table buffer for every group (the device copies what it is given): a
  // fresh one per group would stay allocated until a full garbage collection
  const whole = new Uint8Array(Math.min(g.ipg, highest) * isz);
  let table = whole.subarray(0, 0);
  const flushTable = () => {
    if (grp >= 0) dev.writeAt(inodeTables[grp]! * cfg.blockSize, table);
  };
  for (let ino = 1; ino <= highest; ino++) {
    const gi = Math.floor((ino - 1) / g.ipg);
    if (gi !== grp) {
      flushTable();
      grp = gi;
      table = whole.subarray(0, use.used[grp]! * isz);
      table.fill(0);
    }
    const off = ((ino - 1) % g.ipg) * isz;
    let r = completeRec(ctx, p, ino, src);
    if (r instanceof Promise) r = await r;
    if (r) encodeInode(r, table, off, cfg, big);
    else if (big) inodeStruct.encode({ i_extra_isize: EXTRA_ISIZE }, table, off); // reserved inodes: empty, like mke2fs
    if (metaCsum && (r || big)) setFreshInodeCsumAt(ctx.fsSeed, ino, table, off, isz);
  }
  flushTable();
  return use;
}
