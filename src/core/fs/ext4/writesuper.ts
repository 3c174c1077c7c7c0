/**
 * Writer, last step: bitmaps, group descriptors and superblocks. Each
 * group's block bitmap comes from the allocator, its inode bitmap from the
 * inode tables; descriptors carry the free counts, flags and checksums; the
 * superblock and descriptor table go to group 0 and every backup group.
 */
import { bitmapCsum, groupDescCsum, superblockCsum } from './csum.js';
import { encodeTime } from './fields.js';
import { hasSuper } from './layout.js';
import {
  BG_BLOCK_UNINIT,
  BG_INODE_UNINIT,
  BG_INODE_ZEROED,
  CHECKSUM_CRC32C,
  DEFM_ACL,
  DEFM_XATTR_USER,
  ERRORS_CONTINUE,
  EXT4_MAGIC,
  EXTRA_ISIZE,
  FIRST_INO,
  FLAGS_UNSIGNED_HASH,
  GOOD_OLD_INODE_SIZE,
  JNL_BACKUP_BLOCKS,
  JOURNAL_INO,
  LOG_GROUPS_PER_FLEX,
  MAX_MNT_COUNT_NONE,
  MIN_BLOCK_SIZE,
  OS_LINUX,
  REV,
  STATE,
  SUPERBLOCK_OFFSET,
  groupDesc32,
  groupDesc64,
  jnlBlocks,
  superblock,
} from './structs.js';
import { groupStart, type GroupMetadata } from './writealloc.js';
import type { InodeUse, WriteCtx } from './writeinodes.js';
import type { Rec } from './writeplan.js';

const POPCOUNT = Uint8Array.from({ length: 256 }, (_, i) => {
  let n = 0;
  for (let x = i; x; x >>= 1) n += x & 1;
  return n;
});
const U32 = 2 ** 32;
const BITS = 8;

/** Free blocks and inodes of the whole filesystem. */
export interface FreeCounts {
  blocks: number;
  inodes: number;
}

/** Group `grp`'s block bitmap from the allocator (bits past the group's end set); returns it and its used count. */
function blockBitmap(ctx: WriteCtx, grp: number): { bb: Uint8Array; used: number; count: number } {
  const { g, al } = ctx;
  const start = groupStart(g, grp);
  const count = Math.min(g.bpg, g.blocks - start);
  const bb = new Uint8Array(g.B);
  let used = 0;
  let from = 0;
  if (start % BITS === 0) {
    // byte-aligned (4K blocks, or any group when first_data_block is 0): copy whole bytes
    const whole = count >>> 3;
    bb.set(al.used.subarray(start >>> 3, (start >>> 3) + whole));
    for (let i = 0; i < whole; i++) used += POPCOUNT[bb[i]!]!;
    from = whole * BITS;
  }
  for (let i = from; i < count; i++)
    if (al.isUsed(start + i)) {
      bb[i >>> 3]! |= 1 << (i & 7);
      used++;
    }
  for (let i = count; i < g.B * BITS; i++) bb[i >>> 3]! |= 1 << (i & 7);
  return { bb, used, count };
}

/** bg_flags: INODE_ZEROED always, INODE_UNINIT for unused tables, BLOCK_UNINIT where readers can recompute the bitmap. */
function groupFlags(ctx: WriteCtx, grp: number, meta: GroupMetadata, usedBlocks: number, usedInodes: number): number {
  const { cfg, g } = ctx;
  let flags = BG_INODE_ZEROED;
  if (usedInodes === 0) flags |= BG_INODE_UNINIT;
  // BLOCK_UNINIT when the group holds nothing but what readers recompute for it:
  // its superblock/GDT backup and its own bitmaps/inode table (not the last group)
  if (grp < g.groups - 1) {
    const start = groupStart(g, grp);
    const count = Math.min(g.bpg, g.blocks - start);
    const inGroup = (b: number, n = 1) => (b >= start && b + n <= start + count ? n : 0);
    const expected =
      (hasSuper(cfg, grp) ? 1 + g.gdtBlocks : 0) +
      inGroup(meta.blockBitmap[grp]!) +
      inGroup(meta.inodeBitmap[grp]!) +
      inGroup(meta.inodeTable[grp]!, g.itableBlocks);
    if (usedBlocks === expected) flags |= BG_BLOCK_UNINIT;
  }
  return flags;
}

interface GroupFacts {
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  blockCsum: number;
  inodeCsum: number;
}

/** Encode descriptor `grp` (both halves with 64-byte descriptors) and its checksum into the table. */
function encodeDescriptor(ctx: WriteCtx, gdt: Uint8Array, grp: number, meta: GroupMetadata, f: GroupFacts): void {
  const { cfg, g } = ctx;
  const gdtCsum = cfg.has('metadata_csum') || cfg.has('uninit_bg');
  const unused = gdtCsum ? f.freeInodes : 0;
  const [bbm, ibm, itab] = [meta.blockBitmap[grp]!, meta.inodeBitmap[grp]!, meta.inodeTable[grp]!];
  const off = grp * g.descSize;
  groupDesc32.encode(
    {
      bg_block_bitmap_lo: bbm >>> 0,
      bg_inode_bitmap_lo: ibm >>> 0,
      bg_inode_table_lo: itab >>> 0,
      bg_free_blocks_count_lo: f.freeBlocks & 0xffff,
      bg_free_inodes_count_lo: f.freeInodes & 0xffff,
      bg_used_dirs_count_lo: f.usedDirs & 0xffff,
      bg_flags: f.flags,
      bg_exclude_bitmap_lo: 0,
      bg_block_bitmap_csum_lo: f.blockCsum & 0xffff,
      bg_inode_bitmap_csum_lo: f.inodeCsum & 0xffff,
      bg_itable_unused_lo: unused & 0xffff,
      bg_checksum: 0,
    },
    gdt,
    off,
  );
  if (g.descSize === groupDesc64.size)
    groupDesc64.encode(
      {
        bg_block_bitmap_hi: Math.floor(bbm / U32),
        bg_inode_bitmap_hi: Math.floor(ibm / U32),
        bg_inode_table_hi: Math.floor(itab / U32),
        bg_free_blocks_count_hi: f.freeBlocks >>> 16,
        bg_free_inodes_count_hi: f.freeInodes >>> 16,
        bg_used_dirs_count_hi: f.usedDirs >>> 16,
        bg_itable_unused_hi: unused >>> 16,
        bg_exclude_bitmap_hi: 0,
        bg_block_bitmap_csum_hi: f.blockCsum >>> 16,
        bg_inode_bitmap_csum_hi: f.inodeCsum >>> 16,
        bg_reserved: 0,
      },
      gdt,
      off,
    );
  if (!gdtCsum) return;
  const opts = { metadataCsum: cfg.has('metadata_csum'), fsSeed: ctx.fsSeed, uuid: cfg.uuid, descSize: g.descSize };
  const cs = groupDescCsum(opts, grp, gdt.subarray(off, off + g.descSize));
  groupDesc32.encode({ bg_checksum: cs }, gdt, off);
}

/** Write every group's bitmaps; returns the descriptor table and the free counts. */
export function writeGroups(
  ctx: WriteCtx,
  meta: GroupMetadata,
  inodes: InodeUse,
): { gdt: Uint8Array; free: FreeCounts } {
  const { cfg, g, dev } = ctx;
  const metaCsum = cfg.has('metadata_csum');
  const gdtCsum = metaCsum || cfg.has('uninit_bg');
  const gdt = new Uint8Array(g.gdtBlocks * g.B);
  const free: FreeCounts = { blocks: 0, inodes: 0 };
  for (let grp = 0; grp < g.groups; grp++) {
    const { bb, used, count } = blockBitmap(ctx, grp);
    const ib = inodes.bitmaps[grp]!;
    for (let i = g.ipg; i < g.B * BITS; i++) ib[i >>> 3]! |= 1 << (i & 7);
    dev.writeAt(meta.blockBitmap[grp]! * g.B, bb);
    dev.writeAt(meta.inodeBitmap[grp]! * g.B, ib);
    const usedI = inodes.used[grp]!;
    const facts: GroupFacts = {
      freeBlocks: count - used,
      freeInodes: g.ipg - usedI,
      usedDirs: inodes.usedDirs[grp]!,
      flags: gdtCsum ? groupFlags(ctx, grp, meta, used, usedI) : 0,
      blockCsum: metaCsum ? bitmapCsum(ctx.fsSeed, bb, g.bpg / BITS) : 0,
      inodeCsum: metaCsum ? bitmapCsum(ctx.fsSeed, ib, g.ipg / BITS) : 0,
    };
    free.blocks += facts.freeBlocks;
    free.inodes += facts.freeInodes;
    encodeDescriptor(ctx, gdt, grp, meta, facts);
  }
  return { gdt, free };
}

/** s_jnl_blocks: the journal inode's i_block and size, for e2fsck to find the journal by. */
function journalBackup(journal: Rec | undefined): Uint8Array {
  const jnl = new Uint8Array(jnlBlocks.size);
  if (journal)
    jnlBlocks.encode(
      { i_block: journal.iblock, i_size_high: Math.floor(journal.size / U32), i_size: journal.size >>> 0 },
      jnl,
    );
  return jnl;
}

/** Superblock fields common to the primary and the backups. */
function superFields(ctx: WriteCtx, free: FreeCounts, journal: Rec | undefined) {
  const { cfg, g } = ctx;
  const B = cfg.blockSize;
  const big = cfg.inodeSize > GOOD_OLD_INODE_SIZE;
  const metaCsum = cfg.has('metadata_csum');
  const sbTime = encodeTime({ sec: cfg.epoch, nsec: 0 }, true);
  const sbHi = Math.floor(cfg.epoch / U32) & 0xff;
  const rBlocks = Math.floor((g.blocks * cfg.reservedPercent) / 100);
  const logBlock = Math.log2(B / MIN_BLOCK_SIZE);
  const extraIsize = big && cfg.has('extra_isize') ? EXTRA_ISIZE : 0;
  return {
    s_inodes_count: g.inodes,
    s_blocks_count_lo: g.blocks >>> 0,
    s_r_blocks_count_lo: rBlocks >>> 0,
    s_free_blocks_count_lo: free.blocks >>> 0,
    s_free_inodes_count: free.inodes,
    s_first_data_block: g.firstData,
    s_log_block_size: logBlock,
    s_log_cluster_size: logBlock,
    s_blocks_per_group: g.bpg,
    s_clusters_per_group: g.bpg,
    s_inodes_per_group: g.ipg,
    s_mtime: 0,
    s_wtime: sbTime.lo,
    s_mnt_count: 0,
    s_max_mnt_count: MAX_MNT_COUNT_NONE,
    s_magic: EXT4_MAGIC,
    s_state: STATE.VALID_FS,
    s_errors: ERRORS_CONTINUE,
    s_minor_rev_level: 0,
    s_lastcheck: sbTime.lo,
    s_checkinterval: 0,
    s_creator_os: OS_LINUX,
    s_rev_level: REV.DYNAMIC,
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
    s_jnl_backup_type: journal ? JNL_BACKUP_BLOCKS : 0,
    s_desc_size: cfg.has('64bit') ? groupDesc64.size : 0,
    s_default_mount_opts: DEFM_XATTR_USER | DEFM_ACL,
    s_first_meta_bg: 0,
    s_mkfs_time: sbTime.lo,
    s_jnl_blocks: journalBackup(journal),
    s_blocks_count_hi: Math.floor(g.blocks / U32),
    s_r_blocks_count_hi: Math.floor(rBlocks / U32),
    s_free_blocks_count_hi: Math.floor(free.blocks / U32),
    s_min_extra_isize: extraIsize,
    s_want_extra_isize: extraIsize,
    s_flags: FLAGS_UNSIGNED_HASH,
    s_log_groups_per_flex: cfg.has('flex_bg') ? LOG_GROUPS_PER_FLEX : 0,
    s_checksum_type: metaCsum ? CHECKSUM_CRC32C : 0,
    s_wtime_hi: sbHi,
    s_mkfs_time_hi: sbHi,
    s_lastcheck_hi: sbHi,
  };
}

/** The superblock and descriptor table in group 0 and every backup group. */
export function writeSuperblocks(ctx: WriteCtx, gdt: Uint8Array, free: FreeCounts, journal: Rec | undefined): void {
  const { cfg, g, dev } = ctx;
  const fields = superFields(ctx, free, journal);
  for (let grp = 0; grp < g.groups; grp++) {
    if (!hasSuper(cfg, grp)) continue;
    const sb = superblock.encode({ ...fields, s_block_group_nr: grp });
    if (cfg.has('metadata_csum')) superblock.encode({ s_checksum: superblockCsum(sb) }, sb);
    const start = groupStart(g, grp);
    // primary at byte 1024; backups at the start of their group
    dev.writeAt(grp === 0 ? SUPERBLOCK_OFFSET : start * g.B, sb);
    dev.writeAt((start + 1) * g.B, gdt);
  }
}
