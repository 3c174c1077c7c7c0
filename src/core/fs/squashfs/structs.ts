/**
 * squashfs 4.0 on-disk structures, each declared once (names follow the
 * kernel's fs/squashfs/squashfs_fs.h in lower camel case). Everything is
 * little endian. Inode structures repeat the 16-byte base header as their
 * first fields, as the kernel's structs do, so each table decodes a whole
 * inode of its type.
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

export const SQUASHFS_MAGIC = 0x73717368;
export const SQUASHFS_MAJOR = 4;
export const SQUASHFS_MINOR = 0;
/** Uncompressed size of a metadata block (inodes, directories, tables). */
export const METADATA_SIZE = 8192;
/** Metadata blocks start with a u16 length; this bit set means stored uncompressed. */
export const META_UNCOMPRESSED = 0x8000;
/** Data block and fragment size words: this bit set means stored uncompressed. */
export const DATA_UNCOMPRESSED = 1 << 24;
/** Data block size words must not use bits above 24 (the kernel's squashfs_block_size). */
export const DATA_SIZE_MASK = DATA_UNCOMPRESSED - 1;
export const MIN_BLOCK_LOG = 12;
export const MAX_BLOCK_LOG = 20;
export const INVALID_FRAG = 0xffffffff;
export const INVALID_XATTR = 0xffffffff;
/** A table start meaning "no such table" (stored as all ones; decoded by i64le as -1). */
export const INVALID_TABLE = -1;
/** Most entries one directory header may carry. */
export const DIR_COUNT_MAX = 256;
/** Longest name (the kernel's SQUASHFS_NAME_LEN; Linux names stop at 255). */
export const NAME_MAX = 256;
/** Most distinct uid/gid values (the id index is a u16). */
export const IDS_MAX = 65536;

/** Compression ids (superblock `compression`). */
export const COMPRESSION = { gzip: 1, lzma: 2, lzo: 3, xz: 4, lz4: 5, zstd: 6 } as const;
export type CompressionName = keyof typeof COMPRESSION;

/** Superblock flag bits (squashfs-tools' squashfs_fs.h). */
export const FLAG = {
  uncompressedInodes: 1 << 0,
  uncompressedData: 1 << 1,
  check: 1 << 2,
  uncompressedFragments: 1 << 3,
  noFragments: 1 << 4,
  alwaysFragments: 1 << 5,
  duplicates: 1 << 6,
  exportable: 1 << 7,
  uncompressedXattrs: 1 << 8,
  noXattrs: 1 << 9,
  compressorOptions: 1 << 10,
  uncompressedIds: 1 << 11,
} as const;

/** Inode types; the extended ("long") variant of each basic type is basic + 7. */
export const INODE = {
  dir: 1,
  file: 2,
  symlink: 3,
  blockdev: 4,
  chardev: 5,
  fifo: 6,
  socket: 7,
  ldir: 8,
  lfile: 9,
  lsymlink: 10,
  lblockdev: 11,
  lchardev: 12,
  lfifo: 13,
  lsocket: 14,
} as const;
export const EXTENDED_OFFSET = 7;

/** Xattr name prefixes (entry `type` low byte) and the out-of-line value flag. */
export const XATTR_PREFIXES = ['user.', 'trusted.', 'security.'] as const;
export const XATTR_VALUE_OOL = 0x100;
export const XATTR_PREFIX_MASK = 0xff;

export const SUPERBLOCK = defineStruct(
  'squashfs.superblock',
  96,
  fields([
    ['magic', 'u32le'],
    ['inodes', 'u32le'],
    ['mkfsTime', 'u32le'],
    ['blockSize', 'u32le'],
    ['fragments', 'u32le'],
    ['compression', 'u16le'],
    ['blockLog', 'u16le'],
    ['flags', 'u16le'],
    ['noIds', 'u16le'],
    ['major', 'u16le'],
    ['minor', 'u16le'],
    ['rootInode', 'u64le'],
    ['bytesUsed', 'u64le'],
    ['idTableStart', 'u64le'],
    ['xattrIdTableStart', 'i64le'],
    ['inodeTableStart', 'u64le'],
    ['directoryTableStart', 'u64le'],
    ['fragmentTableStart', 'u64le'],
    ['lookupTableStart', 'i64le'],
  ]),
);

const BASE = [
  ['inodeType', 'u16le'],
  ['mode', 'u16le'],
  ['uid', 'u16le'],
  ['guid', 'u16le'],
  ['mtime', 'u32le'],
  ['inodeNumber', 'u32le'],
] as const;

/** The header every inode starts with. */
export const BASE_INODE = defineStruct('squashfs.base_inode', 16, fields(BASE));
/** FIFO or socket. */
export const IPC_INODE = defineStruct('squashfs.ipc_inode', 20, fields([...BASE, ['nlink', 'u32le']]));
export const LIPC_INODE = defineStruct(
  'squashfs.lipc_inode',
  24,
  fields([...BASE, ['nlink', 'u32le'], ['xattr', 'u32le']]),
);
export const DEV_INODE = defineStruct(
  'squashfs.dev_inode',
  24,
  fields([...BASE, ['nlink', 'u32le'], ['rdev', 'u32le']]),
);
export const LDEV_INODE = defineStruct(
  'squashfs.ldev_inode',
  28,
  fields([...BASE, ['nlink', 'u32le'], ['rdev', 'u32le'], ['xattr', 'u32le']]),
);
/** Followed by `symlinkSize` bytes of target (and, for the extended type, a u32 xattr id). */
export const SYMLINK_INODE = defineStruct(
  'squashfs.symlink_inode',
  24,
  fields([...BASE, ['nlink', 'u32le'], ['symlinkSize', 'u32le']]),
);
/** Followed by the block list: one u32 size word per full data block. */
export const REG_INODE = defineStruct(
  'squashfs.reg_inode',
  32,
  fields([...BASE, ['startBlock', 'u32le'], ['fragment', 'u32le'], ['offset', 'u32le'], ['fileSize', 'u32le']]),
);
export const LREG_INODE = defineStruct(
  'squashfs.lreg_inode',
  56,
  fields([
    ...BASE,
    ['startBlock', 'u64le'],
    ['fileSize', 'u64le'],
    ['sparse', 'u64le'],
    ['nlink', 'u32le'],
    ['fragment', 'u32le'],
    ['offset', 'u32le'],
    ['xattr', 'u32le'],
  ]),
);
export const DIR_INODE = defineStruct(
  'squashfs.dir_inode',
  32,
  fields([
    ...BASE,
    ['startBlock', 'u32le'],
    ['nlink', 'u32le'],
    ['fileSize', 'u16le'],
    ['offset', 'u16le'],
    ['parentInode', 'u32le'],
  ]),
);
/** Followed by `iCount` directory index entries. */
export const LDIR_INODE = defineStruct(
  'squashfs.ldir_inode',
  40,
  fields([
    ...BASE,
    ['nlink', 'u32le'],
    ['fileSize', 'u32le'],
    ['startBlock', 'u32le'],
    ['parentInode', 'u32le'],
    ['iCount', 'u16le'],
    ['offset', 'u16le'],
    ['xattr', 'u32le'],
  ]),
);
/** Followed by `size + 1` bytes of name. */
export const DIR_INDEX = defineStruct(
  'squashfs.dir_index',
  12,
  fields([
    ['index', 'u32le'],
    ['startBlock', 'u32le'],
    ['size', 'u32le'],
  ]),
);
/** `count` is the number of entries minus one. */
export const DIR_HEADER = defineStruct(
  'squashfs.dir_header',
  12,
  fields([
    ['count', 'u32le'],
    ['startBlock', 'u32le'],
    ['inodeNumber', 'u32le'],
  ]),
);
/** Followed by `size + 1` bytes of name; `inodeNumber` is a signed difference from the header's. */
export const DIR_ENTRY = defineStruct(
  'squashfs.dir_entry',
  8,
  fields([
    ['offset', 'u16le'],
    ['inodeNumber', 'u16le'],
    ['type', 'u16le'],
    ['size', 'u16le'],
  ]),
);
export const FRAGMENT_ENTRY = defineStruct(
  'squashfs.fragment_entry',
  16,
  fields([
    ['startBlock', 'u64le'],
    ['size', 'u32le'],
    ['unused', 'u32le'],
  ]),
);
/** Followed by `size` bytes of name (without its prefix), then a XATTR_VAL. */
export const XATTR_ENTRY = defineStruct(
  'squashfs.xattr_entry',
  4,
  fields([
    ['type', 'u16le'],
    ['size', 'u16le'],
  ]),
);
/** Followed by `vsize` bytes of value (or an 8-byte reference when out of line). */
export const XATTR_VAL = defineStruct('squashfs.xattr_val', 4, fields([['vsize', 'u32le']]));
export const XATTR_ID = defineStruct(
  'squashfs.xattr_id',
  16,
  fields([
    ['xattr', 'u64le'],
    ['count', 'u32le'],
    ['size', 'u32le'],
  ]),
);
/** At xattrIdTableStart, followed by the index of the xattr id metadata blocks. */
export const XATTR_ID_TABLE = defineStruct(
  'squashfs.xattr_id_table',
  16,
  fields([
    ['xattrTableStart', 'u64le'],
    ['xattrIds', 'u32le'],
    ['unused', 'u32le'],
  ]),
);

/** Size of one entry of the id, export (lookup) and fragment tables. */
export const ID_ENTRY_SIZE = 4;
export const LOOKUP_ENTRY_SIZE = 8;
/** Each table index entry is a u64 absolute offset of one metadata block. */
export const INDEX_ENTRY_SIZE = 8;

/** A reference into a metadata table: block offset (relative to the table) and offset inside the uncompressed block. */
export function metaRef(block: number, offset: number): number {
  return block * 0x10000 + offset;
}
export function refBlock(ref: number): number {
  return Math.floor(ref / 0x10000);
}
export function refOffset(ref: number): number {
  return ref % 0x10000;
}
