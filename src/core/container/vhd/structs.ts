/**
 * VHD (Virtual Hard Disk Image Format Specification, Microsoft, 2006), all
 * big-endian: the 512-byte footer every VHD ends with (dynamic disks also
 * start with a copy), the 1024-byte dynamic disk header and the block
 * allocation table (BAT) of u32 sector numbers. The 64-bit data offset,
 * 0xFFFFFFFF_FFFFFFFF for fixed disks, is kept as two 32-bit halves.
 */
import { defineStruct } from '../../binary/struct.js';

export const VHD_FOOTER = defineStruct('VHD footer', 512, [
  { name: 'cookie', offset: 0, type: 'bytes', length: 8 },
  { name: 'features', offset: 8, type: 'u32be' },
  { name: 'formatVersion', offset: 12, type: 'u32be' },
  { name: 'dataOffsetHi', offset: 16, type: 'u32be' },
  { name: 'dataOffsetLo', offset: 20, type: 'u32be' },
  { name: 'timestamp', offset: 24, type: 'u32be' },
  { name: 'creatorApp', offset: 28, type: 'bytes', length: 4 },
  { name: 'creatorVersion', offset: 32, type: 'u32be' },
  { name: 'creatorHostOs', offset: 36, type: 'u32be' },
  { name: 'originalSize', offset: 40, type: 'u64be' },
  { name: 'currentSize', offset: 48, type: 'u64be' },
  { name: 'cylinders', offset: 56, type: 'u16be' },
  { name: 'heads', offset: 58, type: 'u8' },
  { name: 'sectorsPerTrack', offset: 59, type: 'u8' },
  { name: 'diskType', offset: 60, type: 'u32be' },
  { name: 'checksum', offset: 64, type: 'u32be' },
  { name: 'uniqueId', offset: 68, type: 'bytes', length: 16 },
  { name: 'savedState', offset: 84, type: 'u8' },
  { name: 'reserved', offset: 85, type: 'bytes', length: 427 },
] as const);

export const VHD_DYNAMIC_HEADER = defineStruct('VHD dynamic disk header', 1024, [
  { name: 'cookie', offset: 0, type: 'bytes', length: 8 },
  { name: 'dataOffsetHi', offset: 8, type: 'u32be' },
  { name: 'dataOffsetLo', offset: 12, type: 'u32be' },
  { name: 'tableOffset', offset: 16, type: 'u64be' },
  { name: 'headerVersion', offset: 24, type: 'u32be' },
  { name: 'maxTableEntries', offset: 28, type: 'u32be' },
  { name: 'blockSize', offset: 32, type: 'u32be' },
  { name: 'checksum', offset: 36, type: 'u32be' },
  { name: 'parentUniqueId', offset: 40, type: 'bytes', length: 16 },
  { name: 'parentTimestamp', offset: 56, type: 'u32be' },
  { name: 'reserved1', offset: 60, type: 'u32be' },
  { name: 'parentUnicodeName', offset: 64, type: 'bytes', length: 512 },
  { name: 'parentLocators', offset: 576, type: 'bytes', length: 192 },
  { name: 'reserved2', offset: 768, type: 'bytes', length: 256 },
] as const);

export const FOOTER_COOKIE = 'conectix';
export const DYNAMIC_COOKIE = 'cxsparse';
/** Features: bit 1 "reserved" must always be set. */
export const FEATURES_RESERVED = 0x00000002;
export const FORMAT_VERSION = 0x00010000;
export const HEADER_VERSION = 0x00010000;
export const DISK_FIXED = 2;
export const DISK_DYNAMIC = 3;
export const DISK_DIFFERENCING = 4;
/** "Wi2k": the host OS field Hyper-V and QEMU write. */
export const HOST_OS_WINDOWS = 0x5769326b;
export const CREATOR_VERSION = 0x00010000;
/** Timestamps count seconds from 2000-01-01 00:00:00 UTC. */
export const VHD_EPOCH = 946684800;
/** BAT entry of a block that is not allocated. */
export const BAT_UNUSED = 0xffffffff;
export const DEFAULT_BLOCK_SIZE = 2 * 1024 * 1024;
/** Largest virtual size the format allows (2040 GiB). */
export const MAX_VHD_SIZE = 2040 * 2 ** 30;
/** Where QEMU and Hyper-V put the dynamic header and the BAT. */
export const DYNAMIC_HEADER_OFFSET = 512;
export const BAT_OFFSET = 1536;
export const SECTOR = 512;

/** The checksum of a footer or header: one's complement of the byte sum, the checksum field counted as zero. */
export function vhdChecksum(b: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  for (let i = 0; i < b.length; i++) if (i < checksumOffset || i >= checksumOffset + 4) sum += b[i]!;
  return ~sum >>> 0;
}

/** CHS geometry of `size` bytes, by the algorithm in the VHD specification's appendix. */
export function vhdGeometry(size: number): { cylinders: number; heads: number; sectorsPerTrack: number } {
  let total = Math.floor(size / SECTOR);
  if (total > 65535 * 16 * 255) total = 65535 * 16 * 255;
  let spt: number;
  let heads: number;
  let cth: number;
  if (total >= 65535 * 16 * 63) {
    spt = 255;
    heads = 16;
    cth = Math.floor(total / spt);
  } else {
    spt = 17;
    cth = Math.floor(total / spt);
    heads = Math.max(4, Math.floor((cth + 1023) / 1024));
    if (cth >= heads * 1024 || heads > 16) {
      spt = 31;
      heads = 16;
      cth = Math.floor(total / spt);
    }
    if (cth >= heads * 1024) {
      spt = 63;
      heads = 16;
      cth = Math.floor(total / spt);
    }
  }
  return { cylinders: Math.floor(cth / heads), heads, sectorsPerTrack: spt };
}
