/**
 * qcow2 on-disk structures (QEMU docs/interop/qcow2.txt), all big-endian.
 * Version 3 header with the compression_type byte (header_length 112, as
 * QEMU writes it), header extensions, and the bit layout of L1/L2/refcount
 * table entries. 64-bit feature masks are split into two 32-bit halves so a
 * reader can test bits above 2^53 without losing them.
 */
import { defineStruct } from '../../binary/struct.js';

export const QCOW_MAGIC = 0x514649fb; // "QFI\xfb"
export const QCOW2_VERSION = 3;

export const QCOW2_HEADER = defineStruct('qcow2 header', 112, [
  { name: 'magic', offset: 0, type: 'u32be' },
  { name: 'version', offset: 4, type: 'u32be' },
  { name: 'backingFileOffset', offset: 8, type: 'u64be' },
  { name: 'backingFileSize', offset: 16, type: 'u32be' },
  { name: 'clusterBits', offset: 20, type: 'u32be' },
  { name: 'size', offset: 24, type: 'u64be' },
  { name: 'cryptMethod', offset: 32, type: 'u32be' },
  { name: 'l1Size', offset: 36, type: 'u32be' },
  { name: 'l1TableOffset', offset: 40, type: 'u64be' },
  { name: 'refcountTableOffset', offset: 48, type: 'u64be' },
  { name: 'refcountTableClusters', offset: 56, type: 'u32be' },
  { name: 'nbSnapshots', offset: 60, type: 'u32be' },
  { name: 'snapshotsOffset', offset: 64, type: 'u64be' },
  // version 3 from here (header_length >= 104)
  { name: 'incompatibleHi', offset: 72, type: 'u32be' },
  { name: 'incompatibleLo', offset: 76, type: 'u32be' },
  { name: 'compatibleHi', offset: 80, type: 'u32be' },
  { name: 'compatibleLo', offset: 84, type: 'u32be' },
  { name: 'autoclearHi', offset: 88, type: 'u32be' },
  { name: 'autoclearLo', offset: 92, type: 'u32be' },
  { name: 'refcountOrder', offset: 96, type: 'u32be' },
  { name: 'headerLength', offset: 100, type: 'u32be' },
  { name: 'compressionType', offset: 104, type: 'u8' },
  { name: 'padding', offset: 105, type: 'bytes', length: 7 },
] as const);

/** Length of a version 2 header; version 3 headers are at least V3_MIN_HEADER. */
export const V2_HEADER_LENGTH = 72;
export const V3_MIN_HEADER = 104;

/** Header extension header: type and length, then the data padded to 8 bytes. */
export const QCOW2_EXTENSION = defineStruct('qcow2 header extension', 8, [
  { name: 'type', offset: 0, type: 'u32be' },
  { name: 'length', offset: 4, type: 'u32be' },
] as const);

export const EXT_END = 0x00000000;
export const EXT_BACKING_FORMAT = 0xe2792aca;
export const EXT_FEATURE_NAMES = 0x6803f857;
export const EXT_BITMAPS = 0x23852875;
export const EXT_CRYPTO = 0x0537be77;
export const EXT_DATA_FILE = 0x44415441;

/** One entry of the feature name table extension. */
export const QCOW2_FEATURE_NAME = defineStruct('qcow2 feature name', 48, [
  { name: 'type', offset: 0, type: 'u8' },
  { name: 'bit', offset: 1, type: 'u8' },
  { name: 'name', offset: 2, type: 'bytes', length: 46 },
] as const);

export const FEATURE_INCOMPATIBLE = 0;
export const FEATURE_COMPATIBLE = 1;
export const FEATURE_AUTOCLEAR = 2;

// incompatible feature bits (low word)
export const INCOMPAT_DIRTY = 1 << 0;
export const INCOMPAT_CORRUPT = 1 << 1;
export const INCOMPAT_DATA_FILE = 1 << 2;
export const INCOMPAT_COMPRESSION = 1 << 3;
export const INCOMPAT_EXTL2 = 1 << 4;
export const INCOMPAT_KNOWN =
  INCOMPAT_DIRTY | INCOMPAT_CORRUPT | INCOMPAT_DATA_FILE | INCOMPAT_COMPRESSION | INCOMPAT_EXTL2;

/** The feature name table QEMU writes into every image it creates (same entries, same order). */
export const FEATURE_NAMES: ReadonlyArray<readonly [type: number, bit: number, name: string]> = [
  [FEATURE_INCOMPATIBLE, 0, 'dirty bit'],
  [FEATURE_INCOMPATIBLE, 1, 'corrupt bit'],
  [FEATURE_INCOMPATIBLE, 2, 'external data file'],
  [FEATURE_INCOMPATIBLE, 3, 'compression type'],
  [FEATURE_INCOMPATIBLE, 4, 'extended L2 entries'],
  [FEATURE_COMPATIBLE, 0, 'lazy refcounts'],
  [FEATURE_AUTOCLEAR, 0, 'bitmaps'],
  [FEATURE_AUTOCLEAR, 1, 'raw external data'],
];

export const CRYPT_NONE = 0;
export const COMPRESSION_ZLIB = 0;
export const COMPRESSION_ZSTD = 1;
/** refcount_order 4: 16-bit refcounts, QEMU's default. */
export const REFCOUNT_ORDER = 4;
export const DEFAULT_CLUSTER_BITS = 16;
export const MIN_CLUSTER_BITS = 9;
export const MAX_CLUSTER_BITS = 21;
/** QEMU's limits: L1 table at most 32 MiB, refcount table at most 8 MiB. */
export const MAX_L1_BYTES = 32 << 20;
export const MAX_REFTABLE_BYTES = 8 << 20;

// Table entries are u64 big-endian; bits are given on the high (bits 32-63)
// and low (bits 0-31) words.
/** L1 and L2: bit 63, refcount is exactly one. */
export const OFLAG_COPIED_HI = 0x80000000;
/** L2: bit 62, compressed cluster. */
export const OFLAG_COMPRESSED_HI = 0x40000000;
/** L2 standard cluster: bit 0, reads as zeros (version 3). */
export const OFLAG_ZERO_LO = 0x1;
/** L1/L2/refcount table offsets: bits 9-55. */
export const OFFSET_MASK_HI = 0x00ffffff;
export const OFFSET_MASK_LO = 0xfffffe00;
/** L1 entries: reserved bits 0-8 and 56-62. */
export const L1_RESERVED_HI = 0x7f000000;
export const L1_RESERVED_LO = 0x000001ff;
/** L2 standard cluster descriptor: reserved bits 1-8 and 56-61. */
export const L2_RESERVED_HI = 0x3f000000;
export const L2_RESERVED_LO = 0x000001fe;
