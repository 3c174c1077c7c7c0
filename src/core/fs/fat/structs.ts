/**
 * FAT on-disk structures, each declared once (Microsoft "FAT: General
 * Overview of On-Disk Format" 1.03 names, lower camel case).
 *
 * The boot sector is the common BPB (bytes 0..35) followed by either the
 * FAT12/16 extended BPB (36..61, boot code from 62) or the FAT32 extended BPB
 * (36..89, boot code from 90); the 0x55AA signature sits at 510.
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

/** Common BIOS parameter block: bytes 0..35 of every FAT boot sector. */
export const BPB = defineStruct(
  'fat.bpb',
  36,
  fields([
    ['jmpBoot', 'bytes', 3],
    ['oemName', 'bytes', 8],
    ['bytesPerSector', 'u16le'],
    ['sectorsPerCluster', 'u8'],
    ['reservedSectors', 'u16le'],
    ['numFats', 'u8'],
    ['rootEntries', 'u16le'],
    ['totalSectors16', 'u16le'],
    ['media', 'u8'],
    ['fatSize16', 'u16le'],
    ['sectorsPerTrack', 'u16le'],
    ['numHeads', 'u16le'],
    ['hiddenSectors', 'u32le'],
    ['totalSectors32', 'u32le'],
  ]),
);

/** FAT12/FAT16 extended BPB, bytes 36..61. */
export const EBPB16 = defineStruct(
  'fat.ebpb16',
  26,
  fields([
    ['driveNumber', 'u8'],
    ['reserved1', 'u8'],
    ['bootSignature', 'u8'],
    ['volumeId', 'u32le'],
    ['volumeLabel', 'bytes', 11],
    ['fsType', 'bytes', 8],
  ]),
);

/** FAT32 extended BPB, bytes 36..89. */
export const EBPB32 = defineStruct(
  'fat.ebpb32',
  54,
  fields([
    ['fatSize32', 'u32le'],
    ['extFlags', 'u16le'],
    ['fsVersion', 'u16le'],
    ['rootCluster', 'u32le'],
    ['fsInfoSector', 'u16le'],
    ['backupBootSector', 'u16le'],
    ['reserved', 'bytes', 12],
    ['driveNumber', 'u8'],
    ['reserved1', 'u8'],
    ['bootSignature', 'u8'],
    ['volumeId', 'u32le'],
    ['volumeLabel', 'bytes', 11],
    ['fsType', 'bytes', 8],
  ]),
);

export const BOOT_SIGNATURE_OFFSET = 510;
export const BOOT_CODE_OFFSET_16 = BPB.size + EBPB16.size; // 62
export const BOOT_CODE_OFFSET_32 = BPB.size + EBPB32.size; // 90

/** FAT32 FSInfo sector. */
export const FSINFO = defineStruct(
  'fat.fsinfo',
  512,
  fields([
    ['leadSignature', 'u32le'],
    ['reserved1', 'bytes', 480],
    ['structSignature', 'u32le'],
    ['freeCount', 'u32le'],
    ['nextFree', 'u32le'],
    ['reserved2', 'bytes', 12],
    ['trailSignature', 'u32le'],
  ]),
);
export const FSINFO_LEAD = 0x41615252;
export const FSINFO_STRUCT = 0x61417272;
export const FSINFO_TRAIL = 0xaa550000;

/** 32-byte short (8.3) directory entry. */
export const DIRENT = defineStruct(
  'fat.dirent',
  32,
  fields([
    ['name', 'bytes', 11],
    ['attr', 'u8'],
    ['ntRes', 'u8'],
    ['createTimeTenth', 'u8'],
    ['createTime', 'u16le'],
    ['createDate', 'u16le'],
    ['accessDate', 'u16le'],
    ['clusterHi', 'u16le'],
    ['writeTime', 'u16le'],
    ['writeDate', 'u16le'],
    ['clusterLo', 'u16le'],
    ['fileSize', 'u32le'],
  ]),
);

/** 32-byte VFAT long-name entry: 13 UTF-16 units in three pieces. */
export const LFN = defineStruct(
  'fat.lfn',
  32,
  fields([
    ['ord', 'u8'],
    ['name1', 'bytes', 10],
    ['attr', 'u8'],
    ['type', 'u8'],
    ['checksum', 'u8'],
    ['name2', 'bytes', 12],
    ['clusterLo', 'u16le'],
    ['name3', 'bytes', 4],
  ]),
);

export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LONG_NAME = 0x0f;
/** ntRes bits (Windows NT / Linux vfat): base name / extension stored in lower case. */
export const NT_LOWER_BASE = 0x08;
export const NT_LOWER_EXT = 0x10;
export const LFN_LAST = 0x40;
