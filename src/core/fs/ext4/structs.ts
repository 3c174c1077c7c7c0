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
  /** s_backup_bgs[2]: the two groups holding backups with sparse_super2. */
  { name: 's_backup_bgs_0', offset: 0x24c, type: 'u32le' },
  { name: 's_backup_bgs_1', offset: 0x250, type: 'u32le' },
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

/** Byte offset of the primary superblock (and of group 0's superblock with 1 KiB blocks: block 1). */
export const SUPERBLOCK_OFFSET = 1024;
export const EXT4_MAGIC = 0xef53;
/** Block size = MIN_BLOCK_SIZE << s_log_block_size (1 KiB to 64 KiB). */
export const MIN_BLOCK_SIZE = 1024;
export const MAX_LOG_BLOCK_SIZE = 6;
/** s_rev_level: the original format (128-byte inodes, first inode 11) and the dynamic one. */
export const REV = { GOOD_OLD: 0, DYNAMIC: 1 } as const;
/** s_state bits. */
export const STATE = { VALID_FS: 0x1, ERROR_FS: 0x2, ORPHAN_FS: 0x4 } as const;
/** s_errors values (index = value). */
export const ERRORS_BEHAVIOR = ['unknown', 'continue', 'remount-ro', 'panic'] as const;
export const ERRORS_CONTINUE = 1;
/** s_creator_os values (index = value). */
export const CREATOR_OS = ['Linux', 'Hurd', 'Masix', 'FreeBSD', 'Lites'] as const;
export const OS_LINUX = 0;
/** s_checksum_type: the only metadata checksum algorithm. */
export const CHECKSUM_CRC32C = 1;
/** s_jnl_backup_type: s_jnl_blocks holds a copy of the journal inode's i_block and size. */
export const JNL_BACKUP_BLOCKS = 1;
/** s_max_mnt_count that disables the mount-count check (-1 as a u16). */
export const MAX_MNT_COUNT_NONE = 0xffff;
/** s_default_mount_opts bits. */
export const DEFM_XATTR_USER = 0x4;
export const DEFM_ACL = 0x8;
/** s_flags bits. */
export const FLAGS_SIGNED_HASH = 0x1;
export const FLAGS_UNSIGNED_HASH = 0x2;
/** s_log_groups_per_flex the writer uses: 16 groups per flex group, like mke2fs. */
export const LOG_GROUPS_PER_FLEX = 4;

/** s_jnl_blocks: the journal inode's i_block, then its size (high word first). */
export const jnlBlocks = defineStruct('s_jnl_blocks', 68, [
  { name: 'i_block', offset: 0x0, type: 'bytes', length: 60 },
  { name: 'i_size_high', offset: 0x3c, type: 'u32le' },
  { name: 'i_size', offset: 0x40, type: 'u32le' },
] as const);

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

/** bg_flags bits. */
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
/** Bytes of i_block (EXT4_N_BLOCKS u32 words): fast symlink targets and inline data start here. */
export const I_BLOCK_SIZE = 60;
/** i_blocks counts 512-byte sectors (unless HUGE_FILE_FL). */
export const SECTOR_SIZE = 512;
/** Largest i_size_high the reader accepts: sizes stay below 2^53. */
export const MAX_SIZE_HIGH = 0x1fffff;
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
  ENCRYPT: 0x800,
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
export const EXTRA_NSEC_SHIFT = 2;

/** i_block of a block-mapped (ext2/3) file: 12 direct block numbers, then the indirect blocks. */
export const blockMapRoot = defineStruct('ext2_i_block', 60, [
  { name: 'direct', offset: 0x0, type: 'bytes', length: 48 },
  { name: 'ind', offset: 0x30, type: 'u32le' },
  { name: 'dind', offset: 0x34, type: 'u32le' },
  { name: 'tind', offset: 0x38, type: 'u32le' },
] as const);
/** Direct block numbers in i_block. */
export const NDIR_BLOCKS = 12;
/** A block number in i_block and in indirect blocks is a u32le. */
export const BLOCK_NR_SIZE = 4;

/** i_block of a device inode: the old 8:8 encoding, else the new 12:20 one. */
export const deviceIBlock = defineStruct('ext4_i_block_dev', 8, [
  { name: 'old_dev', offset: 0x0, type: 'u32le' },
  { name: 'new_dev', offset: 0x4, type: 'u32le' },
] as const);
/** Largest major and minor the old encoding holds. */
export const OLD_DEV_MAX = 255;

/** i_block of an inline-data directory: the parent inode, then directory records. */
export const inlineDirHeader = defineStruct('ext4_inline_dir', 4, [
  { name: 'parent', offset: 0x0, type: 'u32le' },
] as const);

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
/** The kernel's limit on extent tree depth. */
export const MAX_EXTENT_DEPTH = 5;

/** Entries (index or leaf, 12 bytes each) after the header in an extent node of `bytes` bytes. */
export function extentCapacity(bytes: number): number {
  return Math.floor((bytes - extentHeader.size) / extentLeaf.size);
}

/** Offset of entry `i` in an extent node (also where the tail goes when i = eh_max). */
export function extentEntryOffset(i: number): number {
  return extentHeader.size + i * extentLeaf.size;
}

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
export const DIR_TAIL_SIZE = dirTail.size;
/** rec_len as stored for a whole 64 KiB block (65536 does not fit in a u16; 0 means the same). */
export const MAX_REC_LEN = 65535;
/** Longest name in a directory entry. */
export const NAME_MAX = 255;

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

/** dx_root_info starts at reserved_zero; the dx_countlimit follows after info_length bytes. */
export const DX_ROOT_INFO_OFFSET = dxRoot.offsetOf('reserved_zero');
/** info_length the writer stores (the dx_root_info fields). */
export const DX_ROOT_INFO_LENGTH = dxRoot.size - DX_ROOT_INFO_OFFSET;
export const DX_ROOT_COUNT_OFFSET = dxRoot.size;
export const DX_NODE_COUNT_OFFSET = dxNode.size;
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
/** A zero u32 where the next ext4_xattr_entry would start ends the list. */
export const XATTR_END_SIZE = 4;
/** Entries and values are padded to this. */
export const XATTR_ROUND = 4;
/** e_name_index values. */
export const XATTR_INDEX = {
  USER: 1,
  POSIX_ACL_ACCESS: 2,
  POSIX_ACL_DEFAULT: 3,
  TRUSTED: 4,
  SECURITY: 6,
  SYSTEM: 7,
  RICHACL: 8,
  /** gnu.* (the kernel's and e2fsprogs' name for the index reserved for the Hurd). */
  HURD: 10,
} as const;
/** The xattr that holds inline data beyond i_block (index SYSTEM, name "data"). */
export const INLINE_DATA_XATTR = 'system.data';
export const INLINE_DATA_NAME = 'data';
/** Name index -> prefix. system.posix_acl_* values use ext4's own ACL encoding. */
export const XATTR_PREFIXES: ReadonlyArray<readonly [index: number, prefix: string]> = [
  [XATTR_INDEX.POSIX_ACL_ACCESS, 'system.posix_acl_access'],
  [XATTR_INDEX.POSIX_ACL_DEFAULT, 'system.posix_acl_default'],
  [XATTR_INDEX.USER, 'user.'],
  [XATTR_INDEX.TRUSTED, 'trusted.'],
  [XATTR_INDEX.SECURITY, 'security.'],
  [XATTR_INDEX.SYSTEM, 'system.'],
  [XATTR_INDEX.RICHACL, 'system.richacl'],
  [XATTR_INDEX.HURD, 'gnu.'],
];

// ----------------------------------------------------------------------- ACLs

/** ext4's on-disk ACL (a_version 1); entries follow, short ones for *_OBJ, MASK and OTHER. */
export const ext4AclHeader = defineStruct('ext4_acl_header', 4, [
  { name: 'a_version', offset: 0x0, type: 'u32le' },
] as const);
export const ext4AclEntry = defineStruct('ext4_acl_entry', 8, [
  { name: 'e_tag', offset: 0x0, type: 'u16le' },
  { name: 'e_perm', offset: 0x2, type: 'u16le' },
  { name: 'e_id', offset: 0x4, type: 'u32le' },
] as const);
export const ext4AclEntryShort = defineStruct('ext4_acl_entry_short', 4, [
  { name: 'e_tag', offset: 0x0, type: 'u16le' },
  { name: 'e_perm', offset: 0x2, type: 'u16le' },
] as const);
/** The VFS form getfattr and the FileTree hold (a_version 2): every entry has an id. */
export const posixAclXattrHeader = defineStruct('posix_acl_xattr_header', 4, [
  { name: 'a_version', offset: 0x0, type: 'u32le' },
] as const);
export const posixAclXattrEntry = defineStruct('posix_acl_xattr_entry', 8, [
  { name: 'e_tag', offset: 0x0, type: 'u16le' },
  { name: 'e_perm', offset: 0x2, type: 'u16le' },
  { name: 'e_id', offset: 0x4, type: 'u32le' },
] as const);
export const EXT4_ACL_VERSION = 1;
export const POSIX_ACL_XATTR_VERSION = 2;
export const ACL_TAG = { USER_OBJ: 0x1, USER: 0x2, GROUP_OBJ: 0x4, GROUP: 0x8, MASK: 0x10, OTHER: 0x20 } as const;
/** e_id of entries without an id, in the VFS form. */
export const ACL_UNDEFINED_ID = 0xffffffff;

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
/** h_blocktype values. */
export const JBD2_BLOCKTYPE = {
  DESCRIPTOR: 1,
  COMMIT: 2,
  SUPERBLOCK_V1: 3,
  SUPERBLOCK_V2: 4,
  REVOKE: 5,
} as const;
/** s_feature_incompat bits of the journal. */
export const JBD2_INCOMPAT = {
  REVOKE: 0x1,
  BIT64: 0x2,
  ASYNC_COMMIT: 0x4,
  CSUM_V2: 0x8,
  CSUM_V3: 0x10,
  FAST_COMMIT: 0x20,
} as const;
/** s_feature_compat bits of the journal: the old (v1) transaction checksum, crc32_be in the commit block. */
export const JBD2_COMPAT = { CHECKSUM: 0x1 } as const;
/** Journal features e2fsprogs and the kernel know; a journal with others is not replayed. */
export const JBD2_KNOWN_INCOMPAT =
  JBD2_INCOMPAT.REVOKE |
  JBD2_INCOMPAT.BIT64 |
  JBD2_INCOMPAT.ASYNC_COMMIT |
  JBD2_INCOMPAT.CSUM_V2 |
  JBD2_INCOMPAT.CSUM_V3 |
  JBD2_INCOMPAT.FAST_COMMIT;
export const JBD2_KNOWN_COMPAT = JBD2_COMPAT.CHECKSUM;
export const JBD2_KNOWN_ROCOMPAT = 0;
/** The smallest journal e2fsck and the kernel accept (blocks). */
export const JBD2_MIN_JOURNAL_BLOCKS = 1024;
/** h_chksum_size of a v1 (crc32_be) commit checksum. */
export const JBD2_CRC32_CHKSUM_SIZE = 4;
/** s_checksum_type / h_chksum_type values. */
export const JBD2_CRC32_CHKSUM = 1;
export const JBD2_MD5_CHKSUM = 2;
export const JBD2_SHA1_CHKSUM = 3;
export const JBD2_CRC32C_CHKSUM = 4;
/** Fast-commit blocks when s_num_fc_blks is 0. */
export const JBD2_DEFAULT_FAST_COMMIT_BLOCKS = 256;
/** t_flags bits of a block tag. */
export const JBD2_TAG_FLAG = { ESCAPE: 0x1, SAME_UUID: 0x2, DELETED: 0x4, LAST_TAG: 0x8 } as const;
/** A tag without SAME_UUID is followed by the 16-byte journal UUID. */
export const JBD2_UUID_SIZE = 16;

/** journal_header_t: the first 12 bytes of every descriptor, commit and revoke block. */
export const jbd2Header = defineStruct('journal_header', 12, [
  { name: 'h_magic', offset: 0x0, type: 'u32be' },
  { name: 'h_blocktype', offset: 0x4, type: 'u32be' },
  { name: 'h_sequence', offset: 0x8, type: 'u32be' },
] as const);

/** journal_block_tag_t with the 64bit feature (csum v2 adds 2 bytes after it, see jbd2TagSize). */
export const jbd2Tag = defineStruct('journal_block_tag', 12, [
  { name: 't_blocknr', offset: 0x0, type: 'u32be' },
  { name: 't_checksum', offset: 0x4, type: 'u16be' },
  { name: 't_flags', offset: 0x6, type: 'u16be' },
  { name: 't_blocknr_high', offset: 0x8, type: 'u32be' },
] as const);

/** journal_block_tag_t without the 64bit feature: no t_blocknr_high. */
export const jbd2Tag32 = defineStruct('journal_block_tag32', 8, [
  { name: 't_blocknr', offset: 0x0, type: 'u32be' },
  { name: 't_checksum', offset: 0x4, type: 'u16be' },
  { name: 't_flags', offset: 0x6, type: 'u16be' },
] as const);

/** journal_block_tag3_t (csum v3): 32-bit flags and checksum; t_blocknr_high is used with 64bit only. */
export const jbd2Tag3 = defineStruct('journal_block_tag3', 16, [
  { name: 't_blocknr', offset: 0x0, type: 'u32be' },
  { name: 't_flags', offset: 0x4, type: 'u32be' },
  { name: 't_blocknr_high', offset: 0x8, type: 'u32be' },
  { name: 't_checksum', offset: 0xc, type: 'u32be' },
] as const);

const JBD2_TAG_CSUM_V2_EXTRA = 2;

/** Size of one descriptor-block tag (the kernel's journal_tag_bytes). */
export function jbd2TagSize(incompat: number): number {
  if (incompat & JBD2_INCOMPAT.CSUM_V3) return jbd2Tag3.size;
  // csum v2 tags keep the kernel's extra sizeof(u16) after the tag
  const csum2 = incompat & JBD2_INCOMPAT.CSUM_V2 ? JBD2_TAG_CSUM_V2_EXTRA : 0;
  return (incompat & JBD2_INCOMPAT.BIT64 ? jbd2Tag.size : jbd2Tag32.size) + csum2;
}

/** jbd2_journal_block_tail: the last 4 bytes of descriptor and revoke blocks with csum v2/v3. */
export const jbd2BlockTail = defineStruct('jbd2_journal_block_tail', 4, [
  { name: 't_checksum', offset: 0x0, type: 'u32be' },
] as const);

/** commit_header: the commit block of a transaction. */
export const jbd2Commit = defineStruct('commit_header', 60, [
  { name: 'h_magic', offset: 0x0, type: 'u32be' },
  { name: 'h_blocktype', offset: 0x4, type: 'u32be' },
  { name: 'h_sequence', offset: 0x8, type: 'u32be' },
  { name: 'h_chksum_type', offset: 0xc, type: 'u8' },
  { name: 'h_chksum_size', offset: 0xd, type: 'u8' },
  { name: 'h_padding', offset: 0xe, type: 'bytes', length: 2 },
  /** h_chksum[JBD2_CHECKSUM_BYTES]: eight u32be words; the first holds crc32c with csum v2/v3. */
  { name: 'h_chksum', offset: 0x10, type: 'bytes', length: 32 },
  { name: 'h_commit_sec', offset: 0x30, type: 'u64be' },
  { name: 'h_commit_nsec', offset: 0x38, type: 'u32be' },
] as const);

/** jbd2_journal_revoke_header_t: r_count bytes of the block are used, records follow the header. */
export const jbd2RevokeHeader = defineStruct('jbd2_journal_revoke_header', 16, [
  { name: 'h_magic', offset: 0x0, type: 'u32be' },
  { name: 'h_blocktype', offset: 0x4, type: 'u32be' },
  { name: 'h_sequence', offset: 0x8, type: 'u32be' },
  { name: 'r_count', offset: 0xc, type: 'u32be' },
] as const);

/** A revoke record: a u32be block number, or two u32be words with the 64bit feature. */
export const jbd2Revoke32 = defineStruct('jbd2_revoke_record32', 4, [
  { name: 'r_blocknr', offset: 0x0, type: 'u32be' },
] as const);
export const jbd2Revoke64 = defineStruct('jbd2_revoke_record64', 8, [
  { name: 'r_blocknr_high', offset: 0x0, type: 'u32be' },
  { name: 'r_blocknr', offset: 0x4, type: 'u32be' },
] as const);

// -------------------------------------------------------------- fast commits

/**
 * The fast-commit area (the last s_num_fc_blks blocks of a journal with the
 * fast_commit feature) is a little-endian tag-length-value log: each record
 * is an ext4_fc_tl followed by fc_len bytes of value.
 */
export const ext4FcTl = defineStruct('ext4_fc_tl', 4, [
  { name: 'fc_tag', offset: 0x0, type: 'u16le' },
  { name: 'fc_len', offset: 0x2, type: 'u16le' },
] as const);
/** The value of a HEAD tag: the first record of a fast commit. */
export const ext4FcHead = defineStruct('ext4_fc_head', 8, [
  { name: 'fc_features', offset: 0x0, type: 'u32le' },
  { name: 'fc_tid', offset: 0x4, type: 'u32le' },
] as const);
/** The value of a TAIL tag: closes a fast commit; fc_crc is crc32c(0, records since the last tail, up to fc_crc). */
export const ext4FcTail = defineStruct('ext4_fc_tail', 8, [
  { name: 'fc_tid', offset: 0x0, type: 'u32le' },
  { name: 'fc_crc', offset: 0x4, type: 'u32le' },
] as const);
/** fc_tag values. */
export const EXT4_FC_TAG = {
  ADD_RANGE: 0x1,
  DEL_RANGE: 0x2,
  CREAT: 0x3,
  LINK: 0x4,
  UNLINK: 0x5,
  INODE: 0x6,
  PAD: 0x7,
  TAIL: 0x8,
  HEAD: 0x9,
} as const;
/** fc_features bits any replayer knows (none yet). */
export const EXT4_FC_SUPPORTED_FEATURES = 0;

// ------------------------------------------------------------------- features

export * from './features.js';
