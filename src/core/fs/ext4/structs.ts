/**
 * ext2/3/4 on-disk structures, each declared once as a field table.
 * Offsets follow the kernel's Documentation/filesystems/ext4 (ondisk/*.rst)
 * and fs/ext4/ext4.h; all little-endian except the jbd2 journal (big-endian).
 * Shared by the writer (src/fs/ext4/write*.ts) and the reader (read*.ts).
 */
import { defineStruct } from '../../binary/struct.js';

// ---------------------------------------------------------------- superblock

/** ext4_super_block: 1024 bytes at byte offset 1024 of the volume. */
export const superblock = defineStruct('ext4_super_block', 1024, [
  { name: 's_inodes_count', offset: 0x0, type: 'u32le' },
  { name: 's_blocks_count_lo', offset: 0x4, type: 'u32le' },
  { name: 's_r_blocks_count_lo', offset: 0x8, type: 'u32le' },
  { name: 's_free_blocks_count_lo', offset: 0xc, type: 'u32le' },
  { name: 's_free_inodes_count', offset: 0x10, type: 'u32le' },
  { name: 's_first_data_block', offset: 0x14, type: 'u32le' },
  { name: 's_log_block_size', offset: 0x18, type: 'u32le' },
  { name: 's_log_cluster_size', offset: 0x1c, type: 'u32le' },
  { name: 's_blocks_per_group', offset: 0x20, type: 'u32le' },
  { name: 's_clusters_per_group', offset: 0x24, type: 'u32le' },
  { name: 's_inodes_per_group', offset: 0x28, type: 'u32le' },
  { name: 's_mtime', offset: 0x2c, type: 'u32le' },
  { name: 's_wtime', offset: 0x30, type: 'u32le' },
  { name: 's_mnt_count', offset: 0x34, type: 'u16le' },
  { name: 's_max_mnt_count', offset: 0x36, type: 'u16le' },
  { name: 's_magic', offset: 0x38, type: 'u16le' },
  { name: 's_state', offset: 0x3a, type: 'u16le' },
  { name: 's_errors', offset: 0x3c, type: 'u16le' },
  { name: 's_minor_rev_level', offset: 0x3e, type: 'u16le' },
  { name: 's_lastcheck', offset: 0x40, type: 'u32le' },
  { name: 's_checkinterval', offset: 0x44, type: 'u32le' },
  { name: 's_creator_os', offset: 0x48, type: 'u32le' },
  { name: 's_rev_level', offset: 0x4c, type: 'u32le' },
  { name: 's_def_resuid', offset: 0x50, type: 'u16le' },
  { name: 's_def_resgid', offset: 0x52, type: 'u16le' },
  { name: 's_first_ino', offset: 0x54, type: 'u32le' },
  { name: 's_inode_size', offset: 0x58, type: 'u16le' },
  { name: 's_block_group_nr', offset: 0x5a, type: 'u16le' },
  { name: 's_feature_compat', offset: 0x5c, type: 'u32le' },
  { name: 's_feature_incompat', offset: 0x60, type: 'u32le' },
  { name: 's_feature_ro_compat', offset: 0x64, type: 'u32le' },
  { name: 's_uuid', offset: 0x68, type: 'bytes', length: 16 },
  { name: 's_volume_name', offset: 0x78, type: 'bytes', length: 16 },
  { name: 's_last_mounted', offset: 0x88, type: 'bytes', length: 64 },
  { name: 's_algorithm_usage_bitmap', offset: 0xc8, type: 'u32le' },
  { name: 's_prealloc_blocks', offset: 0xcc, type: 'u8' },
  { name: 's_prealloc_dir_blocks', offset: 0xcd, type: 'u8' },
  { name: 's_reserved_gdt_blocks', offset: 0xce, type: 'u16le' },
  { name: 's_journal_uuid', offset: 0xd0, type: 'bytes', length: 16 },
  { name: 's_journal_inum', offset: 0xe0, type: 'u32le' },
  { name: 's_journal_dev', offset: 0xe4, type: 'u32le' },
  { name: 's_last_orphan', offset: 0xe8, type: 'u32le' },
  /** Four u32le words (s_hash_seed[4]); kept as bytes = the 16 UUID-like bytes dumpe2fs prints. */
  { name: 's_hash_seed', offset: 0xec, type: 'bytes', length: 16 },
  { name: 's_def_hash_version', offset: 0xfc, type: 'u8' },
  { name: 's_jnl_backup_type', offset: 0xfd, type: 'u8' },
  { name: 's_desc_size', offset: 0xfe, type: 'u16le' },
  { name: 's_default_mount_opts', offset: 0x100, type: 'u32le' },
  { name: 's_first_meta_bg', offset: 0x104, type: 'u32le' },
  { name: 's_mkfs_time', offset: 0x108, type: 'u32le' },
  /** s_jnl_blocks[17]: copy of the journal inode's i_block[15], i_size_high, i_size. */
  { name: 's_jnl_blocks', offset: 0x10c, type: 'bytes', length: 68 },
  { name: 's_blocks_count_hi', offset: 0x150, type: 'u32le' },
  { name: 's_r_blocks_count_hi', offset: 0x154, type: 'u32le' },
  { name: 's_free_blocks_count_hi', offset: 0x158, type: 'u32le' },
  { name: 's_min_extra_isize', offset: 0x15c, type: 'u16le' },
  { name: 's_want_extra_isize', offset: 0x15e, type: 'u16le' },
  { name: 's_flags', offset: 0x160, type: 'u32le' },
  { name: 's_raid_stride', offset: 0x164, type: 'u16le' },
  { name: 's_mmp_interval', offset: 0x166, type: 'u16le' },
  { name: 's_mmp_block', offset: 0x168, type: 'u64le' },
  { name: 's_raid_stripe_width', offset: 0x170, type: 'u32le' },
  { name: 's_log_groups_per_flex', offset: 0x174, type: 'u8' },
  { name: 's_checksum_type', offset: 0x175, type: 'u8' },
  { name: 's_encryption_level', offset: 0x176, type: 'u8' },
  { name: 's_reserved_pad', offset: 0x177, type: 'u8' },
  { name: 's_kbytes_written', offset: 0x178, type: 'u64le' },
  { name: 's_snapshot_inum', offset: 0x180, type: 'u32le' },
  { name: 's_snapshot_id', offset: 0x184, type: 'u32le' },
  { name: 's_snapshot_r_blocks_count', offset: 0x188, type: 'u64le' },
  { name: 's_snapshot_list', offset: 0x190, type: 'u32le' },
  { name: 's_error_count', offset: 0x194, type: 'u32le' },
  { name: 's_first_error_time', offset: 0x198, type: 'u32le' },
  { name: 's_first_error_ino', offset: 0x19c, type: 'u32le' },
  { name: 's_first_error_block', offset: 0x1a0, type: 'u64le' },
  { name: 's_first_error_func', offset: 0x1a8, type: 'bytes', length: 32 },
  { name: 's_first_error_line', offset: 0x1c8, type: 'u32le' },
  { name: 's_last_error_time', offset: 0x1cc, type: 'u32le' },
  { name: 's_last_error_ino', offset: 0x1d0, type: 'u32le' },
  { name: 's_last_error_line', offset: 0x1d4, type: 'u32le' },
  { name: 's_last_error_block', offset: 0x1d8, type: 'u64le' },
  { name: 's_last_error_func', offset: 0x1e0, type: 'bytes', length: 32 },
  { name: 's_mount_opts', offset: 0x200, type: 'bytes', length: 64 },
  { name: 's_usr_quota_inum', offset: 0x240, type: 'u32le' },
  { name: 's_grp_quota_inum', offset: 0x244, type: 'u32le' },
  { name: 's_overhead_clusters', offset: 0x248, type: 'u32le' },
  { name: 's_backup_bgs', offset: 0x24c, type: 'bytes', length: 8 },
  { name: 's_encrypt_algos', offset: 0x254, type: 'bytes', length: 4 },
  { name: 's_encrypt_pw_salt', offset: 0x258, type: 'bytes', length: 16 },
  { name: 's_lpf_ino', offset: 0x268, type: 'u32le' },
  { name: 's_prj_quota_inum', offset: 0x26c, type: 'u32le' },
  { name: 's_checksum_seed', offset: 0x270, type: 'u32le' },
  { name: 's_wtime_hi', offset: 0x274, type: 'u8' },
  { name: 's_mtime_hi', offset: 0x275, type: 'u8' },
  { name: 's_mkfs_time_hi', offset: 0x276, type: 'u8' },
  { name: 's_lastcheck_hi', offset: 0x277, type: 'u8' },
  { name: 's_first_error_time_hi', offset: 0x278, type: 'u8' },
  { name: 's_last_error_time_hi', offset: 0x279, type: 'u8' },
  { name: 's_first_error_errcode', offset: 0x27a, type: 'u8' },
  { name: 's_last_error_errcode', offset: 0x27b, type: 'u8' },
  { name: 's_encoding', offset: 0x27c, type: 'u16le' },
  { name: 's_encoding_flags', offset: 0x27e, type: 'u16le' },
  { name: 's_orphan_file_inum', offset: 0x280, type: 'u32le' },
  { name: 's_reserved', offset: 0x284, type: 'bytes', length: 376 },
  { name: 's_checksum', offset: 0x3fc, type: 'u32le' },
] as const);

export const SUPERBLOCK_OFFSET = 1024;
export const EXT4_MAGIC = 0xef53;

// ---------------------------------------------------------- group descriptor

const gdFields32 = [
  { name: 'bg_block_bitmap_lo', offset: 0x0, type: 'u32le' },
  { name: 'bg_inode_bitmap_lo', offset: 0x4, type: 'u32le' },
  { name: 'bg_inode_table_lo', offset: 0x8, type: 'u32le' },
  { name: 'bg_free_blocks_count_lo', offset: 0xc, type: 'u16le' },
  { name: 'bg_free_inodes_count_lo', offset: 0xe, type: 'u16le' },
  { name: 'bg_used_dirs_count_lo', offset: 0x10, type: 'u16le' },
  { name: 'bg_flags', offset: 0x12, type: 'u16le' },
  { name: 'bg_exclude_bitmap_lo', offset: 0x14, type: 'u32le' },
  { name: 'bg_block_bitmap_csum_lo', offset: 0x18, type: 'u16le' },
  { name: 'bg_inode_bitmap_csum_lo', offset: 0x1a, type: 'u16le' },
  { name: 'bg_itable_unused_lo', offset: 0x1c, type: 'u16le' },
  { name: 'bg_checksum', offset: 0x1e, type: 'u16le' },
] as const;

/** ext4_group_desc, 32-byte form (no 64bit feature). */
export const groupDesc32 = defineStruct('ext4_group_desc32', 32, gdFields32);

/** ext4_group_desc, 64-byte form (64bit feature, s_desc_size = 64). */
export const groupDesc64 = defineStruct('ext4_group_desc64', 64, [
  ...gdFields32,
  { name: 'bg_block_bitmap_hi', offset: 0x20, type: 'u32le' },
  { name: 'bg_inode_bitmap_hi', offset: 0x24, type: 'u32le' },
  { name: 'bg_inode_table_hi', offset: 0x28, type: 'u32le' },
  { name: 'bg_free_blocks_count_hi', offset: 0x2c, type: 'u16le' },
  { name: 'bg_free_inodes_count_hi', offset: 0x2e, type: 'u16le' },
  { name: 'bg_used_dirs_count_hi', offset: 0x30, type: 'u16le' },
  { name: 'bg_itable_unused_hi', offset: 0x32, type: 'u16le' },
  { name: 'bg_exclude_bitmap_hi', offset: 0x34, type: 'u32le' },
  { name: 'bg_block_bitmap_csum_hi', offset: 0x38, type: 'u16le' },
  { name: 'bg_inode_bitmap_csum_hi', offset: 0x3a, type: 'u16le' },
  { name: 'bg_reserved', offset: 0x3c, type: 'u32le' },
] as const);

export const BG_INODE_UNINIT = 0x0001;
export const BG_BLOCK_UNINIT = 0x0002;
export const BG_INODE_ZEROED = 0x0004;

// --------------------------------------------------------------------- inode

/**
 * ext4_inode: the 128-byte base (offsets 0..0x7f) plus the extra fields up to
 * 0xa0 (i_extra_isize = 32). With 256-byte inodes, bytes from
 * 128 + i_extra_isize to the inode end hold in-inode xattrs.
 */
export const inode = defineStruct('ext4_inode', 160, [
  { name: 'i_mode', offset: 0x0, type: 'u16le' },
  { name: 'i_uid', offset: 0x2, type: 'u16le' },
  { name: 'i_size_lo', offset: 0x4, type: 'u32le' },
  { name: 'i_atime', offset: 0x8, type: 'u32le' },
  { name: 'i_ctime', offset: 0xc, type: 'u32le' },
  { name: 'i_mtime', offset: 0x10, type: 'u32le' },
  { name: 'i_dtime', offset: 0x14, type: 'u32le' },
  { name: 'i_gid', offset: 0x18, type: 'u16le' },
  { name: 'i_links_count', offset: 0x1a, type: 'u16le' },
  { name: 'i_blocks_lo', offset: 0x1c, type: 'u32le' },
  { name: 'i_flags', offset: 0x20, type: 'u32le' },
  { name: 'l_i_version', offset: 0x24, type: 'u32le' },
  /** i_block[15]: extent tree root, block map, fast symlink target or device numbers. */
  { name: 'i_block', offset: 0x28, type: 'bytes', length: 60 },
  { name: 'i_generation', offset: 0x64, type: 'u32le' },
  { name: 'i_file_acl_lo', offset: 0x68, type: 'u32le' },
  { name: 'i_size_high', offset: 0x6c, type: 'u32le' },
  { name: 'i_obso_faddr', offset: 0x70, type: 'u32le' },
  { name: 'l_i_blocks_high', offset: 0x74, type: 'u16le' },
  { name: 'l_i_file_acl_high', offset: 0x76, type: 'u16le' },
  { name: 'l_i_uid_high', offset: 0x78, type: 'u16le' },
  { name: 'l_i_gid_high', offset: 0x7a, type: 'u16le' },
  { name: 'l_i_checksum_lo', offset: 0x7c, type: 'u16le' },
  { name: 'l_i_reserved', offset: 0x7e, type: 'u16le' },
  { name: 'i_extra_isize', offset: 0x80, type: 'u16le' },
  { name: 'i_checksum_hi', offset: 0x82, type: 'u16le' },
  { name: 'i_ctime_extra', offset: 0x84, type: 'u32le' },
  { name: 'i_mtime_extra', offset: 0x88, type: 'u32le' },
  { name: 'i_atime_extra', offset: 0x8c, type: 'u32le' },
  { name: 'i_crtime', offset: 0x90, type: 'u32le' },
  { name: 'i_crtime_extra', offset: 0x94, type: 'u32le' },
  { name: 'i_version_hi', offset: 0x98, type: 'u32le' },
  { name: 'i_projid', offset: 0x9c, type: 'u32le' },
] as const);

export const GOOD_OLD_INODE_SIZE = 128;
/** i_extra_isize we write (all fields through i_projid). */
export const EXTRA_ISIZE = 32;
/** Extra fields must reach here for i_checksum_hi to exist (i_extra_isize >= 4). */
export const INODE_CSUM_HI_END = 0x84;

// Special inode numbers.
export const ROOT_INO = 2;
export const RESIZE_INO = 7;
export const JOURNAL_INO = 8;
export const FIRST_INO = 11;

// i_flags
export const INODE_FLAGS = {
  SECRM: 0x1,
  UNRM: 0x2,
  COMPR: 0x4,
  SYNC: 0x8,
  IMMUTABLE: 0x10,
  APPEND: 0x20,
  NODUMP: 0x40,
  NOATIME: 0x80,
  INDEX: 0x1000,
  IMAGIC: 0x2000,
  JOURNAL_DATA: 0x4000,
  NOTAIL: 0x8000,
  DIRSYNC: 0x10000,
  TOPDIR: 0x20000,
  HUGE_FILE: 0x40000,
  EXTENTS: 0x80000,
  VERITY: 0x100000,
  EA_INODE: 0x200000,
  INLINE_DATA: 0x10000000,
  PROJINHERIT: 0x20000000,
  CASEFOLD: 0x40000000,
} as const;

/** Bits of the "extra" timestamp word: low 2 = epoch bits (seconds bits 32/33), high 30 = nanoseconds. */
export const EXTRA_EPOCH_MASK = 0x3;

// -------------------------------------------------------------------- extents

export const extentHeader = defineStruct('ext4_extent_header', 12, [
  { name: 'eh_magic', offset: 0x0, type: 'u16le' },
  { name: 'eh_entries', offset: 0x2, type: 'u16le' },
  { name: 'eh_max', offset: 0x4, type: 'u16le' },
  { name: 'eh_depth', offset: 0x6, type: 'u16le' },
  { name: 'eh_generation', offset: 0x8, type: 'u32le' },
] as const);

/** Interior node entry. */
export const extentIndex = defineStruct('ext4_extent_idx', 12, [
  { name: 'ei_block', offset: 0x0, type: 'u32le' },
  { name: 'ei_leaf_lo', offset: 0x4, type: 'u32le' },
  { name: 'ei_leaf_hi', offset: 0x8, type: 'u16le' },
  { name: 'ei_unused', offset: 0xa, type: 'u16le' },
] as const);

/** Leaf entry. ee_len > 32768 marks an unwritten (preallocated) extent of ee_len - 32768 blocks. */
export const extentLeaf = defineStruct('ext4_extent', 12, [
  { name: 'ee_block', offset: 0x0, type: 'u32le' },
  { name: 'ee_len', offset: 0x4, type: 'u16le' },
  { name: 'ee_start_hi', offset: 0x6, type: 'u16le' },
  { name: 'ee_start_lo', offset: 0x8, type: 'u32le' },
] as const);

/** After eh_max entries in an extent tree block (not in i_block). */
export const extentTail = defineStruct('ext4_extent_tail', 4, [
  { name: 'et_checksum', offset: 0x0, type: 'u32le' },
] as const);

export const EXTENT_MAGIC = 0xf30a;
export const EXT_INIT_MAX_LEN = 32768;
export const EXT_UNWRITTEN_MAX_LEN = 32767;

// ------------------------------------------------------------------ directories

/** ext4_dir_entry_2 header; `name_len` name bytes follow, rec_len is a multiple of 4. */
export const dirEntry = defineStruct('ext4_dir_entry_2', 8, [
  { name: 'inode', offset: 0x0, type: 'u32le' },
  { name: 'rec_len', offset: 0x4, type: 'u16le' },
  { name: 'name_len', offset: 0x6, type: 'u8' },
  { name: 'file_type', offset: 0x7, type: 'u8' },
] as const);

/** ext4_dir_entry_tail: the last 12 bytes of a leaf directory block with metadata_csum. */
export const dirTail = defineStruct('ext4_dir_entry_tail', 12, [
  { name: 'det_reserved_zero1', offset: 0x0, type: 'u32le' },
  { name: 'det_rec_len', offset: 0x4, type: 'u16le' },
  { name: 'det_reserved_zero2', offset: 0x6, type: 'u8' },
  { name: 'det_reserved_ft', offset: 0x7, type: 'u8' },
  { name: 'det_checksum', offset: 0x8, type: 'u32le' },
] as const);

export const DIR_TAIL_FT = 0xde;
export const DIR_TAIL_SIZE = 12;

/** Directory entry file_type values (filetype feature). */
export const FT = { unknown: 0, file: 1, dir: 2, chardev: 3, blockdev: 4, fifo: 5, socket: 6, symlink: 7 } as const;

/** rec_len needed by an entry with a name of `nameLen` bytes. */
export function dirRecLen(nameLen: number): number {
  return (8 + nameLen + 3) & ~3;
}

/**
 * dx_root: block 0 of an htree directory. A fake "." (rec_len 12) and ".."
 * (rec_len = rest of block) then dx_root_info; a dx_countlimit follows at 0x20.
 */
export const dxRoot = defineStruct('dx_root', 32, [
  { name: 'dot_inode', offset: 0x0, type: 'u32le' },
  { name: 'dot_rec_len', offset: 0x4, type: 'u16le' },
  { name: 'dot_name_len', offset: 0x6, type: 'u8' },
  { name: 'dot_file_type', offset: 0x7, type: 'u8' },
  { name: 'dot_name', offset: 0x8, type: 'bytes', length: 4 },
  { name: 'dotdot_inode', offset: 0xc, type: 'u32le' },
  { name: 'dotdot_rec_len', offset: 0x10, type: 'u16le' },
  { name: 'dotdot_name_len', offset: 0x12, type: 'u8' },
  { name: 'dotdot_file_type', offset: 0x13, type: 'u8' },
  { name: 'dotdot_name', offset: 0x14, type: 'bytes', length: 4 },
  { name: 'reserved_zero', offset: 0x18, type: 'u32le' },
  { name: 'hash_version', offset: 0x1c, type: 'u8' },
  { name: 'info_length', offset: 0x1d, type: 'u8' },
  { name: 'indirect_levels', offset: 0x1e, type: 'u8' },
  { name: 'unused_flags', offset: 0x1f, type: 'u8' },
] as const);

/** dx_node: interior htree block: a fake empty dirent spanning the block; dx_countlimit at 0x8. */
export const dxNode = defineStruct('dx_node', 8, [
  { name: 'fake_inode', offset: 0x0, type: 'u32le' },
  { name: 'fake_rec_len', offset: 0x4, type: 'u16le' },
  { name: 'fake_name_len', offset: 0x6, type: 'u8' },
  { name: 'fake_file_type', offset: 0x7, type: 'u8' },
] as const);

/** dx_countlimit overlays the first dx_entry's hash; `block` is that entry's block (hash 0 implied). */
export const dxCountLimit = defineStruct('dx_countlimit', 8, [
  { name: 'limit', offset: 0x0, type: 'u16le' },
  { name: 'count', offset: 0x2, type: 'u16le' },
  { name: 'block', offset: 0x4, type: 'u32le' },
] as const);

export const dxEntry = defineStruct('dx_entry', 8, [
  { name: 'hash', offset: 0x0, type: 'u32le' },
  { name: 'block', offset: 0x4, type: 'u32le' },
] as const);

/** dx_tail after `limit` dx entries with metadata_csum (limit is one entry smaller). */
export const dxTail = defineStruct('dx_tail', 8, [
  { name: 'dt_reserved', offset: 0x0, type: 'u32le' },
  { name: 'dt_checksum', offset: 0x4, type: 'u32le' },
] as const);

export const DX_ROOT_COUNT_OFFSET = 0x20;
export const DX_NODE_COUNT_OFFSET = 0x8;
export const DX_HASH = {
  legacy: 0,
  half_md4: 1,
  tea: 2,
  legacy_unsigned: 3,
  half_md4_unsigned: 4,
  tea_unsigned: 5,
  siphash: 6,
} as const;

// --------------------------------------------------------------------- xattrs

/** Header of an external xattr block (i_file_acl). Entries start at 0x20. */
export const xattrHeader = defineStruct('ext4_xattr_header', 32, [
  { name: 'h_magic', offset: 0x0, type: 'u32le' },
  { name: 'h_refcount', offset: 0x4, type: 'u32le' },
  { name: 'h_blocks', offset: 0x8, type: 'u32le' },
  { name: 'h_hash', offset: 0xc, type: 'u32le' },
  { name: 'h_checksum', offset: 0x10, type: 'u32le' },
  { name: 'h_reserved', offset: 0x14, type: 'bytes', length: 12 },
] as const);

/** In-inode xattr area header at 128 + i_extra_isize; entries follow, value offsets count from the first entry. */
export const xattrIbodyHeader = defineStruct('ext4_xattr_ibody_header', 4, [
  { name: 'h_magic', offset: 0x0, type: 'u32le' },
] as const);

/** ext4_xattr_entry header; e_name_len name bytes follow, entry padded to 4. A zero u32 ends the list. */
export const xattrEntry = defineStruct('ext4_xattr_entry', 16, [
  { name: 'e_name_len', offset: 0x0, type: 'u8' },
  { name: 'e_name_index', offset: 0x1, type: 'u8' },
  { name: 'e_value_offs', offset: 0x2, type: 'u16le' },
  { name: 'e_value_inum', offset: 0x4, type: 'u32le' },
  { name: 'e_value_size', offset: 0x8, type: 'u32le' },
  { name: 'e_hash', offset: 0xc, type: 'u32le' },
] as const);

export const XATTR_MAGIC = 0xea020000;
/** Name index -> prefix. system.posix_acl_* values use ext4's own ACL encoding. */
export const XATTR_PREFIXES: ReadonlyArray<readonly [index: number, prefix: string]> = [
  [2, 'system.posix_acl_access'],
  [3, 'system.posix_acl_default'],
  [1, 'user.'],
  [4, 'trusted.'],
  [6, 'security.'],
  [7, 'system.'],
  [8, 'system.richacl'],
];

// -------------------------------------------------------------------- journal

/** jbd2 journal superblock (big-endian), block 0 of the journal. */
export const jbd2Superblock = defineStruct('journal_superblock', 1024, [
  { name: 'h_magic', offset: 0x0, type: 'u32be' },
  { name: 'h_blocktype', offset: 0x4, type: 'u32be' },
  { name: 'h_sequence', offset: 0x8, type: 'u32be' },
  { name: 's_blocksize', offset: 0xc, type: 'u32be' },
  { name: 's_maxlen', offset: 0x10, type: 'u32be' },
  { name: 's_first', offset: 0x14, type: 'u32be' },
  { name: 's_sequence', offset: 0x18, type: 'u32be' },
  { name: 's_start', offset: 0x1c, type: 'u32be' },
  { name: 's_errno', offset: 0x20, type: 'u32be' },
  { name: 's_feature_compat', offset: 0x24, type: 'u32be' },
  { name: 's_feature_incompat', offset: 0x28, type: 'u32be' },
  { name: 's_feature_ro_compat', offset: 0x2c, type: 'u32be' },
  { name: 's_uuid', offset: 0x30, type: 'bytes', length: 16 },
  { name: 's_nr_users', offset: 0x40, type: 'u32be' },
  { name: 's_dynsuper', offset: 0x44, type: 'u32be' },
  { name: 's_max_transaction', offset: 0x48, type: 'u32be' },
  { name: 's_max_trans_data', offset: 0x4c, type: 'u32be' },
  { name: 's_checksum_type', offset: 0x50, type: 'u8' },
  { name: 's_padding2', offset: 0x51, type: 'bytes', length: 3 },
  { name: 's_num_fc_blks', offset: 0x54, type: 'u32be' },
  { name: 's_head', offset: 0x58, type: 'u32be' },
  { name: 's_padding', offset: 0x5c, type: 'bytes', length: 160 },
  { name: 's_checksum', offset: 0xfc, type: 'u32be' },
  { name: 's_users', offset: 0x100, type: 'bytes', length: 768 },
] as const);

export const JBD2_MAGIC = 0xc03b3998;
export const JBD2_SUPERBLOCK_V2 = 4;
export const JBD2_INCOMPAT_CSUM_V3 = 0x10;
export const JBD2_CRC32C_CHKSUM = 4;

// ------------------------------------------------------------------- features

export type FeatureKind = 'compat' | 'incompat' | 'ro_compat';

/** Feature bits with the names mke2fs -O takes and dumpe2fs prints. */
export const FEATURES: ReadonlyArray<readonly [kind: FeatureKind, bit: number, name: string]> = [
  ['compat', 0x1, 'dir_prealloc'],
  ['compat', 0x2, 'imagic_inodes'],
  ['compat', 0x4, 'has_journal'],
  ['compat', 0x8, 'ext_attr'],
  ['compat', 0x10, 'resize_inode'],
  ['compat', 0x20, 'dir_index'],
  ['compat', 0x40, 'lazy_bg'],
  ['compat', 0x80, 'snapshot_bitmap'],
  ['compat', 0x100, 'exclude_bitmap'],
  ['compat', 0x200, 'sparse_super2'],
  ['compat', 0x400, 'fast_commit'],
  ['compat', 0x800, 'stable_inodes'],
  ['compat', 0x1000, 'orphan_file'],
  ['ro_compat', 0x1, 'sparse_super'],
  ['ro_compat', 0x2, 'large_file'],
  ['ro_compat', 0x4, 'btree_dir'],
  ['ro_compat', 0x8, 'huge_file'],
  ['ro_compat', 0x10, 'uninit_bg'],
  ['ro_compat', 0x20, 'dir_nlink'],
  ['ro_compat', 0x40, 'extra_isize'],
  ['ro_compat', 0x80, 'snapshot'],
  ['ro_compat', 0x100, 'quota'],
  ['ro_compat', 0x200, 'bigalloc'],
  ['ro_compat', 0x400, 'metadata_csum'],
  ['ro_compat', 0x800, 'replica'],
  ['ro_compat', 0x1000, 'read-only'],
  ['ro_compat', 0x2000, 'project'],
  ['ro_compat', 0x4000, 'shared_blocks'],
  ['ro_compat', 0x8000, 'verity'],
  ['ro_compat', 0x10000, 'orphan_present'],
  ['incompat', 0x1, 'compression'],
  ['incompat', 0x2, 'filetype'],
  ['incompat', 0x4, 'needs_recovery'],
  ['incompat', 0x8, 'journal_dev'],
  ['incompat', 0x10, 'meta_bg'],
  ['incompat', 0x40, 'extent'],
  ['incompat', 0x80, '64bit'],
  ['incompat', 0x100, 'mmp'],
  ['incompat', 0x200, 'flex_bg'],
  ['incompat', 0x400, 'ea_inode'],
  ['incompat', 0x1000, 'dirdata'],
  ['incompat', 0x2000, 'metadata_csum_seed'],
  ['incompat', 0x4000, 'large_dir'],
  ['incompat', 0x8000, 'inline_data'],
  ['incompat', 0x10000, 'encrypt'],
  ['incompat', 0x20000, 'casefold'],
];

/** Other spellings mke2fs accepts. */
export const FEATURE_ALIASES: Readonly<Record<string, string>> = {
  extents: 'extent',
  gdt_csum: 'uninit_bg',
  uninit_groups: 'uninit_bg',
  largedir: 'large_dir',
  fname_encoding: 'casefold',
};

export interface FeatureSet {
  compat: number;
  incompat: number;
  ro_compat: number;
}

export function featureBit(name: string): readonly [FeatureKind, number] | undefined {
  const n = FEATURE_ALIASES[name] ?? name;
  const f = FEATURES.find((x) => x[2] === n);
  return f ? [f[0], f[1]] : undefined;
}

/** Feature names in dumpe2fs order (compat, incompat, ro_compat; by bit). Unknown bits print as FEATURE_C12 style. */
export function featureNames(set: FeatureSet): string[] {
  const out: string[] = [];
  const letter = { compat: 'C', incompat: 'I', ro_compat: 'R' } as const;
  for (const kind of ['compat', 'incompat', 'ro_compat'] as const) {
    for (let b = 0; b < 32; b++) {
      if (((set[kind] >>> b) & 1) === 0) continue;
      const bit = 2 ** b;
      const f = FEATURES.find((x) => x[0] === kind && x[1] === bit);
      out.push(f ? f[2] : `FEATURE_${letter[kind]}${b}`);
    }
  }
  return out;
}

export function hasFeature(set: FeatureSet, name: string): boolean {
  const fb = featureBit(name);
  return fb !== undefined && ((set[fb[0]] >>> 0) & fb[1]) !== 0;
}

/** s_default_mount_opts bits. */
export const DEFM_XATTR_USER = 0x4;
export const DEFM_ACL = 0x8;
/** s_flags bits. */
export const FLAGS_SIGNED_HASH = 0x1;
export const FLAGS_UNSIGNED_HASH = 0x2;
