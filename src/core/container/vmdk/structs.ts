/**
 * VMDK hosted sparse extents (VMware Virtual Disk Format 1.1), little-endian:
 * the 512-byte SparseExtentHeader, the stream markers of streamOptimized
 * images, and the constants of grain directories and tables. The gdOffset
 * GD_AT_END (all ones) is kept as two 32-bit halves.
 */
import { defineStruct } from '../../binary/struct.js';

export const VMDK_HEADER = defineStruct('VMDK sparse extent header', 512, [
  { name: 'magic', offset: 0, type: 'u32le' },
  { name: 'version', offset: 4, type: 'u32le' },
  { name: 'flags', offset: 8, type: 'u32le' },
  { name: 'capacity', offset: 12, type: 'u64le' },
  { name: 'grainSize', offset: 20, type: 'u64le' },
  { name: 'descriptorOffset', offset: 28, type: 'u64le' },
  { name: 'descriptorSize', offset: 36, type: 'u64le' },
  { name: 'numGTEsPerGT', offset: 44, type: 'u32le' },
  { name: 'rgdOffset', offset: 48, type: 'u64le' },
  { name: 'gdOffsetLo', offset: 56, type: 'u32le' },
  { name: 'gdOffsetHi', offset: 60, type: 'u32le' },
  { name: 'overHead', offset: 64, type: 'u64le' },
  { name: 'uncleanShutdown', offset: 72, type: 'u8' },
  { name: 'singleEndLineChar', offset: 73, type: 'u8' },
  { name: 'nonEndLineChar', offset: 74, type: 'u8' },
  { name: 'doubleEndLineChar1', offset: 75, type: 'u8' },
  { name: 'doubleEndLineChar2', offset: 76, type: 'u8' },
  { name: 'compressAlgorithm', offset: 77, type: 'u16le' },
  { name: 'pad', offset: 79, type: 'bytes', length: 433 },
] as const);

/** A metadata marker of a streamOptimized image: one sector, the metadata follows in the next ones. */
export const VMDK_MARKER = defineStruct('VMDK stream marker', 16, [
  { name: 'value', offset: 0, type: 'u64le' },
  { name: 'size', offset: 8, type: 'u32le' },
  { name: 'type', offset: 12, type: 'u32le' },
] as const);

/** The head of a compressed grain: its guest sector, the compressed length; the data follows. */
export const VMDK_GRAIN_MARKER = defineStruct('VMDK grain marker', 12, [
  { name: 'lba', offset: 0, type: 'u64le' },
  { name: 'size', offset: 8, type: 'u32le' },
] as const);

/** "KDMV" read as a little-endian u32. */
export const VMDK_MAGIC = 0x564d444b;
export const FLAG_NL_DETECT = 1 << 0;
export const FLAG_RGD = 1 << 1;
export const FLAG_ZERO_GRAIN = 1 << 2;
export const FLAG_COMPRESSED = 1 << 16;
export const FLAG_MARKERS = 1 << 17;
export const COMPRESS_NONE = 0;
export const COMPRESS_DEFLATE = 1;
export const MARKER_EOS = 0;
export const MARKER_GT = 1;
export const MARKER_GD = 2;
export const MARKER_FOOTER = 3;
/** gdOffset of a stream whose grain directory is at the end (read the footer). */
export const GD_AT_END = 0xffffffff;
/** Grain table entry of a zeroed grain (with FLAG_ZERO_GRAIN). */
export const GTE_ZEROED = 1;
export const GTES_PER_GT = 512;
/** 64 KiB grains, as QEMU and VMware write them. */
export const GRAIN_SECTORS = 128;
export const DESCRIPTOR_OFFSET = 1;
export const DESCRIPTOR_SECTORS = 20;
export const SECTOR = 512;
/** Largest capacity a hosted sparse extent addresses with 32-bit sector numbers. */
export const MAX_VMDK_SIZE = 2 ** 32 * SECTOR;
/** The newline-detection bytes every header carries. */
export const LINE_CHARS = {
  singleEndLineChar: 0x0a,
  nonEndLineChar: 0x20,
  doubleEndLineChar1: 0x0d,
  doubleEndLineChar2: 0x0a,
} as const;
