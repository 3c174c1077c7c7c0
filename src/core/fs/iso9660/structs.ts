/**
 * ISO 9660 on-disk structures, each declared once and shared by the writer
 * and the reader: ECMA-119 (volume descriptors, directory records, path
 * table records), El Torito 1.0 (boot record, boot catalog entries, the boot
 * info table), SUSP 1.12 and RRIP 1.12 (Rock Ridge) system use entries.
 *
 * ECMA-119 stores many numbers "both-endian": the little-endian value
 * followed by the big-endian one. Such a field is two table fields here,
 * `<name>Le` and `<name>Be`; `both()` fills the pair for encode, and readers
 * take the little-endian half (checking the other where it matters).
 */
import { defineStruct, type FieldDef } from '../../binary/struct.js';
import type { BlockDevice } from '../../io/device.js';

/** Logical block (and sector) size; ECMA-119 allows others, every CD and tool uses 2048. */
export const BLOCK = 2048;
/** Blocks 0..15: the system area (MBR, GPT and boot code of a hybrid image). */
export const SYSTEM_AREA_BLOCKS = 16;
export const STANDARD_ID = 'CD001';

/** Whether the device holds an ISO 9660 volume descriptor at block 16. */
export function isIso9660(dev: BlockDevice): boolean {
  if (dev.size < (SYSTEM_AREA_BLOCKS + 1) * BLOCK) return false;
  const h = dev.readAt(SYSTEM_AREA_BLOCKS * BLOCK, 6);
  return String.fromCharCode(...h.subarray(1, 6)) === STANDARD_ID;
}

/** Both-endian 32-bit field: `${name}Le` (u32le) at `offset`, `${name}Be` (u32be) at `offset + 4`. */
function bb32<const N extends string>(name: N, offset: number) {
  return [
    { name: `${name}Le`, offset, type: 'u32le' },
    { name: `${name}Be`, offset: offset + 4, type: 'u32be' },
  ] as const satisfies readonly FieldDef[] as readonly [
    { readonly name: `${N}Le`; readonly offset: number; readonly type: 'u32le' },
    { readonly name: `${N}Be`; readonly offset: number; readonly type: 'u32be' },
  ];
}
/** Both-endian 16-bit field. */
function bb16<const N extends string>(name: N, offset: number) {
  return [
    { name: `${name}Le`, offset, type: 'u16le' },
    { name: `${name}Be`, offset: offset + 2, type: 'u16be' },
  ] as const satisfies readonly FieldDef[] as readonly [
    { readonly name: `${N}Le`; readonly offset: number; readonly type: 'u16le' },
    { readonly name: `${N}Be`; readonly offset: number; readonly type: 'u16be' },
  ];
}
const bytes = <const N extends string>(name: N, offset: number, length: number) =>
  ({ name, offset, type: 'bytes', length }) as const;
const u8 = <const N extends string>(name: N, offset: number) => ({ name, offset, type: 'u8' }) as const;

/** Both halves of a both-endian field, for encode: `both('extent', 20)` -> `{ extentLe: 20, extentBe: 20 }`. */
export function both<const K extends string>(key: K, value: number): Record<`${K}Le` | `${K}Be`, number> {
  return { [`${key}Le`]: value, [`${key}Be`]: value } as Record<`${K}Le` | `${K}Be`, number>;
}

// ------------------------------------------------------------ ECMA-119

/** Directory record (ECMA-119 9.1): 33 fixed bytes, then the identifier, a pad byte and the system use area. */
export const DIR_RECORD = defineStruct('iso9660.dirRecord', 33, [
  u8('length', 0),
  u8('extAttrLength', 1),
  ...bb32('extent', 2),
  ...bb32('dataLength', 10),
  bytes('date', 18, 7),
  u8('flags', 25),
  u8('unitSize', 26),
  u8('interleaveGap', 27),
  ...bb16('volumeSeq', 28),
  u8('nameLength', 32),
]);
/** File flags of a directory record. */
export const FLAG_HIDDEN = 0x01;
export const FLAG_DIRECTORY = 0x02;
export const FLAG_ASSOCIATED = 0x04;
export const FLAG_RECORD = 0x08;
export const FLAG_PROTECTION = 0x10;
/** This record is not the file's last extent (a multi-extent file, level 3). */
export const FLAG_MULTI_EXTENT = 0x80;
/** Longest directory record (its length is one byte). */
export const MAX_RECORD = 255;

/**
 * Primary (type 1) and supplementary (type 2, Joliet) volume descriptor
 * (ECMA-119 8.4 and 8.5: the same layout; `flags` and `escapes` are unused
 * in a primary descriptor). The root directory record sits at 156.
 */
export const VOLUME_DESCRIPTOR = defineStruct('iso9660.volumeDescriptor', BLOCK, [
  u8('type', 0),
  bytes('id', 1, 5),
  u8('version', 6),
  u8('flags', 7),
  bytes('systemId', 8, 32),
  bytes('volumeId', 40, 32),
  bytes('unused1', 72, 8),
  ...bb32('volumeSpaceSize', 80),
  bytes('escapes', 88, 32),
  ...bb16('volumeSetSize', 120),
  ...bb16('volumeSeq', 124),
  ...bb16('blockSize', 128),
  ...bb32('pathTableSize', 132),
  { name: 'lPathTable', offset: 140, type: 'u32le' },
  { name: 'lPathTableOptional', offset: 144, type: 'u32le' },
  { name: 'mPathTable', offset: 148, type: 'u32be' },
  { name: 'mPathTableOptional', offset: 152, type: 'u32be' },
  bytes('rootRecord', 156, 34),
  bytes('volumeSetId', 190, 128),
  bytes('publisherId', 318, 128),
  bytes('preparerId', 446, 128),
  bytes('applicationId', 574, 128),
  bytes('copyrightFileId', 702, 37),
  bytes('abstractFileId', 739, 37),
  bytes('bibliographicFileId', 776, 37),
  bytes('created', 813, 17),
  bytes('modified', 830, 17),
  bytes('expires', 847, 17),
  bytes('effective', 864, 17),
  u8('fileStructureVersion', 881),
  u8('reserved1', 882),
  bytes('applicationUse', 883, 512),
  bytes('reserved2', 1395, 653),
]);
export const VD_BOOT_RECORD = 0;
export const VD_PRIMARY = 1;
export const VD_SUPPLEMENTARY = 2;
export const VD_TERMINATOR = 255;
/** Joliet escape sequences: UCS-2 levels 1, 2 and 3 ("%/@", "%/C", "%/E"). */
export const JOLIET_ESCAPES = ['%/@', '%/C', '%/E'] as const;

/** Path table record (ECMA-119 9.4): 8 fixed bytes, the identifier, a pad byte when its length is odd. */
export const PATH_RECORD_LE = defineStruct('iso9660.pathRecordL', 8, [
  u8('nameLength', 0),
  u8('extAttrLength', 1),
  { name: 'extent', offset: 2, type: 'u32le' },
  { name: 'parent', offset: 6, type: 'u16le' },
]);
/** The same record in the M (big-endian) path table. */
export const PATH_RECORD_BE = defineStruct('iso9660.pathRecordM', 8, [
  u8('nameLength', 0),
  u8('extAttrLength', 1),
  { name: 'extent', offset: 2, type: 'u32be' },
  { name: 'parent', offset: 6, type: 'u16be' },
]);

/** Recording date and time of a directory record (ECMA-119 9.1.5). */
export const RECORD_DATE = defineStruct('iso9660.recordDate', 7, [
  u8('year', 0),
  u8('month', 1),
  u8('day', 2),
  u8('hour', 3),
  u8('minute', 4),
  u8('second', 5),
  { name: 'gmtOffset', offset: 6, type: 'u8' },
]);
/** Years a 7-byte date holds (1900 + 0..255). */
export const RECORD_YEAR_MIN = 1900;
export const RECORD_YEAR_MAX = 2155;

/** Volume date (ECMA-119 8.4.26.1): 16 ASCII digits YYYYMMDDHHMMSScc and a GMT offset byte. */
export const VOLUME_DATE = defineStruct('iso9660.volumeDate', 17, [bytes('digits', 0, 16), u8('gmtOffset', 16)]);

// ------------------------------------------------------------ El Torito

/** Boot record volume descriptor (El Torito 2.0). */
export const BOOT_RECORD = defineStruct('eltorito.bootRecord', BLOCK, [
  u8('type', 0),
  bytes('id', 1, 5),
  u8('version', 6),
  bytes('bootSystemId', 7, 32),
  bytes('bootId', 39, 32),
  { name: 'catalog', offset: 71, type: 'u32le' },
  bytes('unused', 75, 1973),
]);
export const EL_TORITO_ID = 'EL TORITO SPECIFICATION';

/** Validation entry, the first 32 bytes of the boot catalog (El Torito 2.1). */
export const VALIDATION_ENTRY = defineStruct('eltorito.validation', 32, [
  u8('headerId', 0),
  u8('platform', 1),
  { name: 'reserved', offset: 2, type: 'u16le' },
  bytes('idString', 4, 24),
  { name: 'checksum', offset: 28, type: 'u16le' },
  u8('key55', 30),
  u8('keyAA', 31),
]);
/** Initial/default entry and section entries (El Torito 2.2 and 2.4) share this layout. */
export const BOOT_ENTRY = defineStruct('eltorito.entry', 32, [
  u8('indicator', 0),
  u8('media', 1),
  { name: 'loadSegment', offset: 2, type: 'u16le' },
  u8('systemType', 4),
  u8('unused1', 5),
  { name: 'sectorCount', offset: 6, type: 'u16le' },
  { name: 'loadRba', offset: 8, type: 'u32le' },
  u8('criteriaType', 12),
  bytes('criteria', 13, 19),
]);
/** Section header entry (El Torito 2.3). */
export const SECTION_HEADER = defineStruct('eltorito.sectionHeader', 32, [
  u8('indicator', 0),
  u8('platform', 1),
  { name: 'entries', offset: 2, type: 'u16le' },
  bytes('idString', 4, 28),
]);
export const CATALOG_HEADER_ID = 1;
export const CATALOG_KEY_55 = 0x55;
export const CATALOG_KEY_AA = 0xaa;
export const ENTRY_BOOTABLE = 0x88;
export const ENTRY_NOT_BOOTABLE = 0x00;
export const SECTION_MORE = 0x90;
export const SECTION_LAST = 0x91;
export const PLATFORM_X86 = 0x00;
export const PLATFORM_EFI = 0xef;
export const MEDIA_NO_EMULATION = 0;
/** Size of a "virtual sector" in El Torito sector counts. */
export const VIRTUAL_SECTOR = 512;

/**
 * Boot info table (mkisofs -boot-info-table), written into the boot image
 * at byte 8: what isolinux and GRUB's cdboot.img read to find themselves.
 */
export const BOOT_INFO_TABLE = defineStruct('eltorito.bootInfoTable', 56, [
  { name: 'pvdLba', offset: 0, type: 'u32le' },
  { name: 'fileLba', offset: 4, type: 'u32le' },
  { name: 'fileLength', offset: 8, type: 'u32le' },
  { name: 'checksum', offset: 12, type: 'u32le' },
  bytes('reserved', 16, 40),
]);
export const BOOT_INFO_TABLE_OFFSET = 8;
/** The checksum of the boot info table covers the image from this byte on. */
export const BOOT_INFO_CHECKSUM_START = 64;
/**
 * GRUB2 boot info (xorriso --grub2-boot-info): GRUB's El Torito image is
 * cdboot.img (2048 bytes) followed by diskboot.img, whose first blocklist
 * entry (at 2048 + 500) gets the 512-byte LBA of the image plus 5: where the
 * rest of core.img starts when the image is booted from a hard disk.
 */
export const GRUB2_BOOT_INFO_OFFSET = 2548;
export const GRUB2_BOOT_INFO_ADD = 5;
/** GRUB's boot_hybrid.img MBR loads diskboot.img from the 512-byte LBA at 0x1B0: the image's LBA * 4 + 4. */
export const GRUB2_MBR_LBA_OFFSET = 0x1b0;
export const GRUB2_MBR_LBA_ADD = 4;

// ------------------------------------------------------------ SUSP / RRIP

/** Every system use entry starts with a signature, its length and a version. */
export const SUSP_HEADER = defineStruct('susp.header', 4, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
]);
/** SP: SUSP indicator in the root's "." record (check bytes BE EF). */
export const SUSP_SP = defineStruct('susp.SP', 7, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  u8('check1', 4),
  u8('check2', 5),
  u8('skip', 6),
]);
export const SP_CHECK = [0xbe, 0xef] as const;
/** CE: continuation area (block, offset in it, length). */
export const SUSP_CE = defineStruct('susp.CE', 28, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  ...bb32('block', 4),
  ...bb32('offset', 12),
  ...bb32('size', 20),
]);
/** ER: extension reference; identifier, descriptor and source texts follow. */
export const SUSP_ER = defineStruct('susp.ER', 8, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  u8('idLength', 4),
  u8('descriptorLength', 5),
  u8('sourceLength', 6),
  u8('extensionVersion', 7),
]);
/** RRIP 1.12 as libisofs and the Linux kernel recognise it. */
export const RRIP_ID = 'IEEE_1282';
export const RRIP_DESCRIPTOR = 'THE IEEE 1282 PROTOCOL PROVIDES SUPPORT FOR POSIX FILE SYSTEM SEMANTICS.';
export const RRIP_SOURCE =
  'PLEASE CONTACT THE IEEE STANDARDS DEPARTMENT, PISCATAWAY, NJ, USA FOR THE 1282 SPECIFICATION.';
/** The identifiers of the Rock Ridge versions a reader accepts. */
export const RRIP_IDS = ['IEEE_1282', 'IEEE_P1282', 'RRIP_1991A'] as const;

/** PX: POSIX mode, links, owner, group and (RRIP 1.12) the file serial number. */
export const RR_PX = defineStruct('rrip.PX', 44, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  ...bb32('mode', 4),
  ...bb32('links', 12),
  ...bb32('uid', 20),
  ...bb32('gid', 28),
  ...bb32('serial', 36),
]);
/** Length of the RRIP 1.10 PX, without the serial number. */
export const RR_PX_OLD_LENGTH = 36;
/** PN: device number, high and low 32 bits. */
export const RR_PN = defineStruct('rrip.PN', 20, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  ...bb32('high', 4),
  ...bb32('low', 12),
]);
/** SL (symbolic link) and NM (alternate name): a flags byte, then components or name bytes. */
export const RR_FLAGGED = defineStruct('rrip.flagged', 5, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  u8('flags', 4),
]);
/** One component record inside SL. */
export const SL_COMPONENT = defineStruct('rrip.SL.component', 2, [u8('flags', 0), u8('length', 1)]);
export const SL_CONTINUE = 0x01;
export const SL_CURRENT = 0x02;
export const SL_PARENT = 0x04;
export const SL_ROOT = 0x08;
export const NM_CONTINUE = 0x01;
export const NM_CURRENT = 0x02;
export const NM_PARENT = 0x04;
/** CL (child link) and PL (parent link): the block of a relocated directory / of the original parent. */
export const RR_LINK = defineStruct('rrip.link', 12, [
  bytes('signature', 0, 2),
  u8('length', 2),
  u8('version', 3),
  ...bb32('block', 4),
]);
/** TF: timestamps; flags say which follow (7-byte dates unless TF_LONG_FORM). */
export const TF_CREATION = 0x01;
export const TF_MODIFY = 0x02;
export const TF_ACCESS = 0x04;
export const TF_ATTRIBUTES = 0x08;
export const TF_BACKUP = 0x10;
export const TF_EXPIRATION = 0x20;
export const TF_EFFECTIVE = 0x40;
export const TF_LONG_FORM = 0x80;
/** Longest system use entry (its length is one byte). */
export const MAX_SUSP_ENTRY = 255;

/** Every table, for the layout test. */
export const ALL_STRUCTS = [
  DIR_RECORD,
  VOLUME_DESCRIPTOR,
  PATH_RECORD_LE,
  PATH_RECORD_BE,
  RECORD_DATE,
  VOLUME_DATE,
  BOOT_RECORD,
  VALIDATION_ENTRY,
  BOOT_ENTRY,
  SECTION_HEADER,
  BOOT_INFO_TABLE,
  SUSP_HEADER,
  SUSP_SP,
  SUSP_CE,
  SUSP_ER,
  RR_PX,
  RR_PN,
  RR_FLAGGED,
  SL_COMPONENT,
  RR_LINK,
] as const;
