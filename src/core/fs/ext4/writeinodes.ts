/**
 * Writer, step five: inodes and what they own besides file data. Directory
 * blocks and slow symlink targets, shared xattr blocks, each inode's block
 * map or extent tree, and finally the inode tables (used inodes only).
 */
import { bytesKey } from '../../binary/bytes.js';
import type { BlockDevice } from '../../io/device.js';
import { fullMode } from '../../tree/types.js';
import type { BlockWriter } from './blockwriter.js';
import { inodeCsumSeed, setInodeCsum, xattrBlockCsum } from './csum.js';
import { encodeTime } from './fields.js';
import type { Geometry } from './layout.js';
import { addBlock, blockMap, extentTree } from './map.js';
import type { Config } from './options.js';
import {
  EXTRA_ISIZE,
  GOOD_OLD_INODE_SIZE,
  INODE_FLAGS,
  JOURNAL_INO,
  SECTOR_SIZE,
  inode as inodeStruct,
  xattrHeader,
} from './structs.js';
import type { Allocator } from './writealloc.js';
import type { Plan, Rec } from './writeplan.js';
import { encodeBlock, encodeIbody } from './xattr.js';

/** What the writing steps share. */
export interface WriteCtx {
  cfg: Config;
  g: Geometry;
  dev: BlockDevice;
  al: Allocator;
  w: BlockWriter;
  fsSeed: number;
}

/** Inodes sharing one xattr block at most (h_refcount), like the kernel. */
const XATTR_BLOCK_MAX_USERS = 1024;

/** Build the block map or extent tree of r.runs (allocating its blocks) and count r's blocks. */
export function mapInode(ctx: WriteCtx, r: Rec): void {
  const { cfg, al, w } = ctx;
  const B = cfg.blockSize;
  const extents = cfg.has('extent');
  const seed = cfg.has('metadata_csum') ? inodeCsumSeed(ctx.fsSeed, r.ino, 0) : undefined;
  const alloc = () => al.alloc();
  const m = extents ? extentTree(r.runs!, B, alloc, seed) : blockMap(r.runs!, B, alloc, r.path);
  r.iblock = m.iblock;
  for (const [blk, data] of m.meta) w.put(blk, data);
  let count = m.meta.length;
  for (const run of r.runs!) count += run.len;
  r.blocks += count;
  if (extents) r.flags |= INODE_FLAGS.EXTENTS;
}

/** Directory blocks and slow symlink targets, then each such inode's map. */
export function writeDirBlocks(ctx: WriteCtx, recs: Rec[]): void {
  for (const r of recs) {
    if (!r || !r.dirBlocks) continue;
    r.runs = [];
    r.dirBlocks.forEach((b, i) => {
      const blk = ctx.al.alloc();
      addBlock(r.runs!, i, blk);
      ctx.w.put(blk, b);
    });
    r.dirBlocks = undefined;
    if (r.type === 'dir' && r.indexed) r.flags |= INODE_FLAGS.INDEX;
    mapInode(ctx, r);
  }
}

/** External xattr blocks: identical attribute sets share one block (h_refcount). */
export function writeXattrBlocks(ctx: WriteCtx, recs: Rec[]): void {
  const B = ctx.cfg.blockSize;
  const metaCsum = ctx.cfg.has('metadata_csum');
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
    for (let i = 0; i < users.length; i += XATTR_BLOCK_MAX_USERS) {
      const share = users.slice(i, i + XATTR_BLOCK_MAX_USERS);
      const b = block.slice();
      const blk = ctx.al.alloc();
      xattrHeader.encode({ h_refcount: share.length }, b);
      if (metaCsum) xattrHeader.encode({ h_checksum: xattrBlockCsum(ctx.fsSeed, blk, b) }, b);
      ctx.w.put(blk, b);
      for (const r of share) {
        r.fileAcl = blk;
        r.blocks += 1;
      }
    }
  }
}

/** The struct table covers 160 bytes; 128-byte inodes are built in this scratch buffer. */
const INODE_SCRATCH = new Uint8Array(inodeStruct.size);
const U32 = 2 ** 32;

/** Encode inode `r` into `out` (s_inode_size bytes, zeroed). */
export function encodeInode(r: Rec, out: Uint8Array, cfg: Config, big: boolean): void {
  const raw = big ? out : INODE_SCRATCH.fill(0);
  const m = r.meta;
  const at = encodeTime(m.atime, big);
  const mt = encodeTime(m.mtime, big);
  const ct = encodeTime(m.ctime, big);
  const sectors = r.blocks * (cfg.blockSize / SECTOR_SIZE);
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
      i_size_high: Math.floor(r.size / U32),
      i_obso_faddr: 0,
      l_i_blocks_high: Math.floor(sectors / U32) & 0xffff,
      l_i_file_acl_high: Math.floor(r.fileAcl / U32) & 0xffff,
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
  for (let ino = 1; ino <= highest; ino++) {
    const grp = Math.floor((ino - 1) / g.ipg);
    const idx = (ino - 1) % g.ipg;
    use.bitmaps[grp]![idx >>> 3]! |= 1 << (idx & 7);
    use.used[grp] = idx + 1;
    if (p.recs[ino]?.type === 'dir') use.usedDirs[grp]!++;
  }
  return use;
}

/** Write the inode tables (the used part of each group's) and return what they hold. */
export function writeInodeTables(ctx: WriteCtx, p: Plan, inodeTables: number[]): InodeUse {
  const { cfg, g, dev } = ctx;
  const use = inodeUse(p, g);
  const isz = cfg.inodeSize;
  const big = isz > GOOD_OLD_INODE_SIZE;
  const metaCsum = cfg.has('metadata_csum');
  for (let grp = 0; grp < g.groups; grp++) {
    const n = use.used[grp]!;
    if (n === 0) continue;
    const table = new Uint8Array(n * isz);
    for (let idx = 0; idx < n; idx++) {
      const ino = grp * g.ipg + idx + 1;
      const r = p.recs[ino];
      const raw = table.subarray(idx * isz, (idx + 1) * isz);
      if (r) encodeInode(r, raw, cfg, big);
      else if (big) inodeStruct.encode({ i_extra_isize: EXTRA_ISIZE }, raw); // reserved inodes: empty, like mke2fs
      if (metaCsum && (r || big)) setInodeCsum(ctx.fsSeed, ino, raw);
    }
    dev.writeAt(inodeTables[grp]! * cfg.blockSize, table);
  }
  return use;
}
