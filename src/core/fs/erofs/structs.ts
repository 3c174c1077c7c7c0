/**
 * EROFS on-disk structures, each declared once (names follow the kernel's
 * fs/erofs/erofs_fs.h in lower camel case). Everything is little endian.
 * The superblock sits at byte 1024; an inode is found at
 * meta_blkaddr * block_size + 32 * nid; compact inodes are 32 bytes and take
 * their time from the superblock, extended ones are 64 bytes.
 */
import { defineStruct, seq, type FieldType } from '../../binary/struct.js';

type SeqIn = ReadonlyArray<readonly [string, FieldType, number?]>;
type SeqOut<T extends SeqIn> = {
  readonly [K in keyof T]: {
    readonly name: T[K][0];
    readonly offset: number;
    readonly type: T[K][1];
    readonly length?: number;
  };
};
/** `seq` keeping the literal field names and types for typed encode/decode. */
function fields<const T extends SeqIn>(defs: T): SeqOut<T> {
  return seq(defs) as unknown as SeqOut<T>;
}

export const EROFS_MAGIC = 0xe0f5e1e2;
/** Byte offset of the superblock (the first 1 KiB is left for boot sectors). */
export const SUPER_OFFSET = 1024;
/** The only block size every kernel mounts (it must equal the page size before Linux 6.4). */
export const BLOCK_SIZE = 4096;
export const BLOCK_BITS = 12;
/** Smallest and largest block size bits a reader accepts (mkfs.erofs -b: 512 B to 64 KiB). */
export const MIN_BLOCK_BITS = 9;
export const MAX_BLOCK_BITS = 16;
/** Inodes sit on 32-byte slots; a nid counts slots from the start of the metadata area. */
export const ISLOT_SIZE = 32;
export const ISLOT_BITS = 5;
/** Longest name (EROFS_NAME_LEN). */
export const NAME_LEN = 255;
/** A block address meaning "no block" (EROFS_NULL_ADDR: a chunk that is a hole, inline-only data). */
export const NULL_ADDR = 0xffffffff;
/** Superblock extension slots are 16 bytes each (sb_extslots). */
export const SB_EXTSLOT_SIZE = 16;

/** feature_compat bits: a kernel that does not know one still mounts. */
export const FEATURE_COMPAT = {
  sbChecksum: 0x1,
  mtime: 0x2,
  xattrFilter: 0x4,
} as const;

/** feature_incompat bits: a kernel refuses an image with one it does not know. */
export const FEATURE_INCOMPAT = {
  zeroPadding: 0x1,
  comprCfgs: 0x2,
  bigPcluster: 0x2,
  chunkedFile: 0x4,
  deviceTable: 0x8,
  comprHead2: 0x8,
  ztailpacking: 0x10,
  fragments: 0x20,
  dedupe: 0x20,
  xattrPrefixes: 0x40,
} as const;

/** Inode data layouts (bits 1-3 of i_format). */
export const LAYOUT = {
  flatPlain: 0,
  compressedFull: 1,
  flatInline: 2,
  compressedCompact: 3,
  chunkBased: 4,
} as const;
/** i_format bit 0: 0 compact (32 bytes), 1 extended (64 bytes). */
export const I_VERSION_MASK = 0x1;
export const I_LAYOUT_SHIFT = 1;
export const I_LAYOUT_MASK = 0x7;
/** Every i_format bit a kernel knows; any other set bit is refused. */
export const I_ALL = 0xf;

/** Chunk-based inodes: i_u holds chunk_info.format (chunk size = block size << these bits). */
export const CHUNK_FORMAT_BLKBITS_MASK = 0x1f;
/** With 8-byte chunk indexes instead of a 4-byte block address array. */
export const CHUNK_FORMAT_INDEXES = 0x20;
export const BLOCK_MAP_ENTRY_SIZE = 4;

/** Directory entry file types (the kernel's generic FT_* values). */
export const FT = {
  unknown: 0,
  file: 1,
  dir: 2,
  chardev: 3,
  blockdev: 4,
  fifo: 5,
  socket: 6,
  symlink: 7,
} as const;

/** Extended attribute name indexes (e_name_index) and the prefix each stands for. */
export const XATTR_INDEX = {
  user: 1,
  posixAclAccess: 2,
  posixAclDefault: 3,
  trusted: 4,
  lustre: 5,
  security: 6,
} as const;
/** Name prefixes by index; the two ACL names are whole names (their suffix is empty). */
export const XATTR_PREFIXES: ReadonlyArray<readonly [number, string]> = [
  [XATTR_INDEX.user, 'user.'],
  [XATTR_INDEX.posixAclAccess, 'system.posix_acl_access'],
  [XATTR_INDEX.posixAclDefault, 'system.posix_acl_default'],
  [XATTR_INDEX.trusted, 'trusted.'],
  [XATTR_INDEX.lustre, 'lustre.'],
  [XATTR_INDEX.security, 'security.'],
];
/** e_name_index with this bit refers to a long name prefix (EROFS_FEATURE_INCOMPAT_XATTR_PREFIXES). */
export const XATTR_LONG_PREFIX = 0x80;
/** Longest value an entry can describe (e_value_size is a u16). */
export const XATTR_VALUE_MAX = 0xffff;

/** struct erofs_super_block (128 bytes at SUPER_OFFSET). */
export const SUPERBLOCK = defineStruct(
  'erofs_super_block',
  128,
  fields([
    ['magic', 'u32le'],
    ['checksum', 'u32le'],
    ['featureCompat', 'u32le'],
    ['blkszbits', 'u8'],
    ['sbExtslots', 'u8'],
    ['rootNid', 'u16le'],
    ['inos', 'u64le'],
    ['buildTime', 'i64le'],
    ['buildTimeNsec', 'u32le'],
    ['blocks', 'u32le'],
    ['metaBlkaddr', 'u32le'],
    ['xattrBlkaddr', 'u32le'],
    ['uuid', 'bytes', 16],
    ['volumeName', 'bytes', 16],
    ['featureIncompat', 'u32le'],
    ['availableComprAlgs', 'u16le'],
    ['extraDevices', 'u16le'],
    ['devtSlotoff', 'u16le'],
    ['dirblkbits', 'u8'],
    ['xattrPrefixCount', 'u8'],
    ['xattrPrefixStart', 'u32le'],
    ['packedNid', 'u64le'],
    ['xattrFilterReserved', 'u8'],
    ['reserved2', 'bytes', 23],
  ] as const),
);

/** struct erofs_inode_compact (32 bytes): mtime is the superblock's build time. */
export const INODE_COMPACT = defineStruct(
  'erofs_inode_compact',
  32,
  fields([
    ['format', 'u16le'],
    ['xattrIcount', 'u16le'],
    ['mode', 'u16le'],
    ['nlink', 'u16le'],
    ['size', 'u32le'],
    ['reserved', 'u32le'],
    /** raw_blkaddr, rdev, compressed_blocks or chunk_info, by layout and type. */
    ['u', 'u32le'],
    ['ino', 'u32le'],
    ['uid', 'u16le'],
    ['gid', 'u16le'],
    ['reserved2', 'u32le'],
  ] as const),
);

/** struct erofs_inode_extended (64 bytes). */
export const INODE_EXTENDED = defineStruct(
  'erofs_inode_extended',
  64,
  fields([
    ['format', 'u16le'],
    ['xattrIcount', 'u16le'],
    ['mode', 'u16le'],
    ['reserved', 'u16le'],
    ['size', 'u64le'],
    ['u', 'u32le'],
    ['ino', 'u32le'],
    ['uid', 'u32le'],
    ['gid', 'u32le'],
    ['mtime', 'i64le'],
    ['mtimeNsec', 'u32le'],
    ['nlink', 'u32le'],
    ['reserved2', 'bytes', 16],
  ] as const),
);

/** struct erofs_xattr_ibody_header (12 bytes), followed by h_shared_count u32 shared xattr ids. */
export const XATTR_IBODY_HEADER = defineStruct(
  'erofs_xattr_ibody_header',
  12,
  fields([
    ['nameFilter', 'u32le'],
    ['sharedCount', 'u8'],
    ['reserved', 'bytes', 7],
  ] as const),
);

/** struct erofs_xattr_entry (4 bytes), followed by the name suffix and the value, padded to 4 bytes. */
export const XATTR_ENTRY = defineStruct(
  'erofs_xattr_entry',
  4,
  fields([
    ['nameLen', 'u8'],
    ['nameIndex', 'u8'],
    ['valueSize', 'u16le'],
  ] as const),
);

/** struct erofs_dirent (12 bytes); the names follow all the entries of a directory block. */
export const DIRENT = defineStruct(
  'erofs_dirent',
  12,
  fields([
    ['nid', 'u64le'],
    ['nameoff', 'u16le'],
    ['fileType', 'u8'],
    ['reserved', 'u8'],
  ] as const),
);

/** struct erofs_inode_chunk_index (8 bytes), used when CHUNK_FORMAT_INDEXES is set. */
export const CHUNK_INDEX = defineStruct(
  'erofs_inode_chunk_index',
  8,
  fields([
    ['advise', 'u16le'],
    ['deviceId', 'u16le'],
    ['blkaddr', 'u32le'],
  ] as const),
);

/** Size of the xattr region an inode's i_xattr_icount describes (0 when it has none). */
export function xattrIbodySize(icount: number): number {
  return icount === 0 ? 0 : XATTR_IBODY_HEADER.size + 4 * (icount - 1);
}

/** Rounds up to a multiple of 4, as every xattr entry is. */
export function xattrAlign(n: number): number {
  return (n + 3) & ~3;
}
