/**
 * Android sparse images (AOSP system/core/libsparse sparse_format.h),
 * little-endian: a 28-byte file header, then chunks, each a 12-byte header
 * followed by its data (RAW: the blocks; FILL: one 32-bit value; DONT_CARE:
 * nothing; CRC32: the checksum of the image so far).
 */
import { defineStruct } from '../../binary/struct.js';

export const SPARSE_HEADER = defineStruct('Android sparse header', 28, [
  { name: 'magic', offset: 0, type: 'u32le' },
  { name: 'majorVersion', offset: 4, type: 'u16le' },
  { name: 'minorVersion', offset: 6, type: 'u16le' },
  { name: 'fileHeaderSize', offset: 8, type: 'u16le' },
  { name: 'chunkHeaderSize', offset: 10, type: 'u16le' },
  { name: 'blockSize', offset: 12, type: 'u32le' },
  { name: 'totalBlocks', offset: 16, type: 'u32le' },
  { name: 'totalChunks', offset: 20, type: 'u32le' },
  { name: 'imageChecksum', offset: 24, type: 'u32le' },
] as const);

export const SPARSE_CHUNK = defineStruct('Android sparse chunk header', 12, [
  { name: 'type', offset: 0, type: 'u16le' },
  { name: 'reserved', offset: 2, type: 'u16le' },
  { name: 'blocks', offset: 4, type: 'u32le' },
  { name: 'totalSize', offset: 8, type: 'u32le' },
] as const);

/** The data of a FILL chunk (and of a CRC32 chunk): one 32-bit value. */
export const SPARSE_FILL = defineStruct('Android sparse fill value', 4, [
  { name: 'value', offset: 0, type: 'u32le' },
] as const);

export const SPARSE_MAGIC = 0xed26ff3a;
export const MAJOR_VERSION = 1;
export const MINOR_VERSION = 0;
export const CHUNK_RAW = 0xcac1;
export const CHUNK_FILL = 0xcac2;
export const CHUNK_DONT_CARE = 0xcac3;
export const CHUNK_CRC32 = 0xcac4;
export const DEFAULT_BLOCK_SIZE = 4096;
/** Largest RAW chunk written, in bytes (total_sz is a u32). */
export const MAX_RAW_CHUNK = 64 * 1024 * 1024;
