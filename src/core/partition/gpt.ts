/**
 * GUID partition tables (UEFI 2.x, chapter 5): protective MBR, primary
 * header at LBA 1 with its entry array at LBA 2, backup entry array and
 * backup header at the end of the disk (the backup header's
 * PartitionEntryLBA points at the backup array), CRC32 over header and array.
 */
import { defineStruct } from '../binary/struct.js';
import { crc32 } from '../binary/crc.js';
import { CapacityError, FormatError, UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { decodeGuid, derivedGuid, encodeGuid, isGuid, NIL_GUID } from './guid.js';
import { BOOT_CODE_SIZE, chsBytes, MBR_BOOT_SIGNATURE, MBR_ENTRY, MBR_STRUCT } from './mbr.js';
import {
  checkSectorMultiple,
  gptTypeGuid,
  overlapWarnings,
  SECTOR,
  type PartitionInfo,
  type PartitionTable,
} from './types.js';

export const GPT_HEADER = defineStruct('GPT header', 92, [
  { name: 'signature', offset: 0, type: 'bytes', length: 8 },
  { name: 'revision', offset: 8, type: 'u32le' },
  { name: 'headerSize', offset: 12, type: 'u32le' },
  { name: 'headerCrc32', offset: 16, type: 'u32le' },
  { name: 'reserved', offset: 20, type: 'u32le' },
  { name: 'myLba', offset: 24, type: 'u64le' },
  { name: 'alternateLba', offset: 32, type: 'u64le' },
  { name: 'firstUsableLba', offset: 40, type: 'u64le' },
  { name: 'lastUsableLba', offset: 48, type: 'u64le' },
  { name: 'diskGuid', offset: 56, type: 'bytes', length: 16 },
  { name: 'partitionEntryLba', offset: 72, type: 'u64le' },
  { name: 'numberOfEntries', offset: 80, type: 'u32le' },
  { name: 'entrySize', offset: 84, type: 'u32le' },
  { name: 'entriesCrc32', offset: 88, type: 'u32le' },
] as const);

export const GPT_ENTRY = defineStruct('GPT partition entry', 128, [
  { name: 'typeGuid', offset: 0, type: 'bytes', length: 16 },
  { name: 'partGuid', offset: 16, type: 'bytes', length: 16 },
  { name: 'firstLba', offset: 32, type: 'u64le' },
  { name: 'lastLba', offset: 40, type: 'u64le' },
  { name: 'attributesLo', offset: 48, type: 'u32le' },
  { name: 'attributesHi', offset: 52, type: 'u32le' },
  { name: 'name', offset: 56, type: 'bytes', length: 72 },
] as const);

export const GPT_SIGNATURE = new TextEncoder().encode('EFI PART');
export const GPT_REVISION = 0x00010000;
export const GPT_ENTRIES = 128;
export const GPT_ENTRY_SIZE = 128;
/** Sectors taken by the 128 x 128-byte entry array. */
export const GPT_ARRAY_SECTORS = (GPT_ENTRIES * GPT_ENTRY_SIZE) / SECTOR;
/** First usable LBA with the standard array: 2 + 32 = 34. */
export const GPT_FIRST_USABLE = 2 + GPT_ARRAY_SECTORS;
/** Sectors reserved at the end of the disk: backup array + backup header. */
export const GPT_TAIL_SECTORS = GPT_ARRAY_SECTORS + 1;
/** Attribute bit 2: legacy BIOS bootable. */
export const GPT_ATTR_LEGACY_BIOS_BOOTABLE = 1n << 2n;
/** Largest entry array a reader accepts (bytes); bounds allocation by forged counts. */
const MAX_ARRAY_BYTES = 4 << 20;

export interface GptPartitionSpec {
  /** Byte offset on the disk (multiple of 512, inside the usable area). */
  offset: number;
  /** Size in bytes (multiple of 512). */
  size: number;
  /** Alias ('esp', 'linux', 'bios-boot', 'root-x86-64', ...) or a type GUID. */
  type: string;
  /** Partition name, at most 36 UTF-16 code units. */
  name?: string;
  /** Unique partition GUID; default derived from the seed and the index. */
  guid?: string;
  /** Attribute bits. */
  attributes?: bigint | number;
  /** Sets attribute bit 2 (legacy BIOS bootable). */
  bootable?: boolean;
}

export interface GptLayout {
  /** Disk GUID; default derived from `seed`. */
  diskGuid?: string;
  /** Seed for default GUIDs (default "tinyimage"). */
  seed?: string;
  partitions: GptPartitionSpec[];
}

export interface GptResult {
  diskGuid: string;
  partitions: PartitionInfo[];
  firstUsableLba: number;
  lastUsableLba: number;
}

/** Largest usable byte range of a GPT disk of `diskSize` bytes: [first, end). */
export function gptUsableRange(diskSize: number): { first: number; end: number } {
  const sectors = Math.floor(diskSize / SECTOR);
  return { first: GPT_FIRST_USABLE * SECTOR, end: (sectors - GPT_TAIL_SECTORS) * SECTOR };
}

/** Deterministic partition GUID for entry `index` (1-based) under `seed`. */
export function defaultPartitionGuid(seed: string, index: number): string {
  return derivedGuid(`gpt-partition:${seed}:${index}`);
}
export function defaultDiskGuid(seed: string): string {
  return derivedGuid(`gpt-disk:${seed}`);
}

function encodeName(name: string, where: string): Uint8Array {
  if (name.length > 36)
    throw new UsageError(
      'E_USAGE_PART_NAME',
      `${where}: GPT names hold at most 36 UTF-16 code units; "${name}" has ${name.length}`,
      { actual: name },
    );
  const out = new Uint8Array(72);
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    out[i * 2] = c & 0xff;
    out[i * 2 + 1] = c >> 8;
  }
  return out;
}

function decodeName(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) {
    const c = b[i]! | (b[i + 1]! << 8);
    if (c === 0) break;
    s += String.fromCharCode(c);
  }
  return s;
}

function toBig(a: bigint | number | undefined): bigint {
  if (a === undefined) return 0n;
  const v = BigInt(a);
  if (v < 0n || v >= 1n << 64n)
    throw new UsageError('E_USAGE_PART_ATTRIBUTES', `GPT attributes ${a} do not fit in 64 bits`, { actual: String(a) });
  return v;
}

/** The protective MBR sector (type 0xEE covering the disk), keeping `bootCode` bytes 0..439. */
export function protectiveMbr(diskSize: number, bootCode?: Uint8Array): Uint8Array {
  const sectors = Math.floor(diskSize / SECTOR);
  const sec = new Uint8Array(SECTOR);
  if (bootCode) sec.set(bootCode.subarray(0, BOOT_CODE_SIZE), 0);
  const size = Math.min(sectors - 1, 0xffffffff);
  const entry = MBR_ENTRY.encode({
    status: 0,
    chsFirst: Uint8Array.of(0x00, 0x02, 0x00),
    type: 0xee,
    chsLast: chsBytes(size),
    lbaStart: 1,
    sectors: size,
  });
  const entries = new Uint8Array(64);
  entries.set(entry, 0);
  MBR_STRUCT.encode({ diskSignature: 0, reserved: 0, entries, bootSignature: MBR_BOOT_SIGNATURE }, sec);
  return sec;
}

/**
 * Write a GPT: protective MBR (bytes 0..439 kept unless `bootCode` given),
 * primary header + array, backup array + header. Partitions keep their
 * order: the n-th spec is entry n.
 */
export function writeGpt(dev: BlockDevice, layout: GptLayout, opts: { bootCode?: Uint8Array } = {}): GptResult {
  const sectors = Math.floor(dev.size / SECTOR);
  if (sectors < GPT_FIRST_USABLE + GPT_TAIL_SECTORS + 1)
    throw new CapacityError(
      'E_SPACE_DISK',
      `a ${dev.size}-byte device is too small for a GPT (needs at least ${(GPT_FIRST_USABLE + GPT_TAIL_SECTORS + 1) * SECTOR} bytes)`,
      { actual: dev.size },
    );
  if (layout.partitions.length > GPT_ENTRIES)
    throw new CapacityError(
      'E_LIMIT_GPT_ENTRIES',
      `GPT holds ${GPT_ENTRIES} partitions; ${layout.partitions.length} requested`,
      { actual: layout.partitions.length },
    );
  const seed = layout.seed ?? 'tinyimage';
  const diskGuid = (layout.diskGuid ?? defaultDiskGuid(seed)).toLowerCase();
  if (!isGuid(diskGuid))
    throw new UsageError('E_USAGE_GUID', `disk GUID "${diskGuid}" is not a GUID`, { actual: diskGuid });
  const firstUsable = GPT_FIRST_USABLE;
  const lastUsable = sectors - GPT_TAIL_SECTORS - 1;
  const array = new Uint8Array(GPT_ENTRIES * GPT_ENTRY_SIZE);
  const partitions: PartitionInfo[] = [];
  const spans: Array<[number, number, number]> = [];
  const guids = new Set<string>();
  layout.partitions.forEach((p, i) => {
    const n = i + 1;
    checkSectorMultiple(`partition ${n} offset`, p.offset);
    checkSectorMultiple(`partition ${n} size`, p.size);
    if (p.size === 0) throw new UsageError('E_USAGE_PART_GEOMETRY', `partition ${n} has size 0`, { field: 'size' });
    const first = p.offset / SECTOR,
      last = first + p.size / SECTOR - 1;
    if (first < firstUsable || last > lastUsable)
      throw new CapacityError(
        'E_SPACE_DISK',
        `partition ${n} (bytes ${p.offset}..${p.offset + p.size}) is outside the usable GPT area [${firstUsable * SECTOR}, ${(lastUsable + 1) * SECTOR})`,
        { offset: p.offset, expected: (lastUsable + 1) * SECTOR, actual: p.offset + p.size },
      );
    const type = gptTypeGuid(p.type);
    const guid = (p.guid ?? defaultPartitionGuid(seed, n)).toLowerCase();
    if (!isGuid(guid) || guid === NIL_GUID)
      throw new UsageError('E_USAGE_GUID', `partition ${n}: "${guid}" is not a usable partition GUID`, {
        actual: guid,
      });
    if (guids.has(guid))
      throw new UsageError('E_USAGE_GUID', `partition ${n}: GUID ${guid} is used twice`, { actual: guid });
    guids.add(guid);
    let attrs = toBig(p.attributes);
    if (p.bootable) attrs |= GPT_ATTR_LEGACY_BIOS_BOOTABLE;
    GPT_ENTRY.encode(
      {
        typeGuid: encodeGuid(type),
        partGuid: encodeGuid(guid),
        firstLba: first,
        lastLba: last,
        attributesLo: Number(attrs & 0xffffffffn),
        attributesHi: Number(attrs >> 32n),
        name: encodeName(p.name ?? '', `partition ${n}`),
      },
      array,
      i * GPT_ENTRY_SIZE,
    );
    spans.push([first, last, n]);
    partitions.push({
      index: n,
      offset: p.offset,
      size: p.size,
      type,
      partuuid: guid,
      name: p.name ?? '',
      bootable: (attrs & GPT_ATTR_LEGACY_BIOS_BOOTABLE) !== 0n,
      attributes: attrs,
    });
  });
  spans.sort((a, b) => a[0] - b[0]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]![0] <= spans[i - 1]![1])
      throw new UsageError('E_USAGE_PART_OVERLAP', `partitions ${spans[i - 1]![2]} and ${spans[i]![2]} overlap`, {
        offset: spans[i]![0] * SECTOR,
      });
  }
  const arrayCrc = crc32(array);
  const header = (my: number, alt: number, entryLba: number) => {
    const sec = new Uint8Array(SECTOR);
    GPT_HEADER.encode(
      {
        signature: GPT_SIGNATURE,
        revision: GPT_REVISION,
        headerSize: GPT_HEADER.size,
        headerCrc32: 0,
        reserved: 0,
        myLba: my,
        alternateLba: alt,
        firstUsableLba: firstUsable,
        lastUsableLba: lastUsable,
        diskGuid: encodeGuid(diskGuid),
        partitionEntryLba: entryLba,
        numberOfEntries: GPT_ENTRIES,
        entrySize: GPT_ENTRY_SIZE,
        entriesCrc32: arrayCrc,
      },
      sec,
    );
    GPT_HEADER.encode({ headerCrc32: crc32(sec.subarray(0, GPT_HEADER.size)) }, sec);
    return sec;
  };
  const keep = opts.bootCode ?? dev.readAt(0, BOOT_CODE_SIZE);
  if (keep.length > BOOT_CODE_SIZE && keep.length !== SECTOR)
    throw new UsageError(
      'E_USAGE_BOOT_CODE',
      `boot code is ${keep.length} bytes; at most ${BOOT_CODE_SIZE} (or a whole 512-byte sector)`,
      { actual: keep.length },
    );
  dev.writeAt(0, protectiveMbr(dev.size, keep));
  dev.writeAt(SECTOR, header(1, sectors - 1, 2));
  dev.writeAt(2 * SECTOR, array);
  const backupArrayLba = sectors - GPT_TAIL_SECTORS;
  dev.writeAt(backupArrayLba * SECTOR, array);
  dev.writeAt((sectors - 1) * SECTOR, header(sectors - 1, 1, backupArrayLba));
  return { diskGuid, partitions, firstUsableLba: firstUsable, lastUsableLba: lastUsable };
}

interface ParsedHeader {
  header: ReturnType<typeof GPT_HEADER.decode>;
  entries: Uint8Array;
}

function gptError(
  code: string,
  msg: string,
  lba: number,
  field?: string,
  extra: Record<string, unknown> = {},
): FormatError {
  return new FormatError(code, msg, {
    format: 'gpt',
    structure: 'GPT header',
    offset: lba * SECTOR,
    ...(field ? { field } : {}),
    ...extra,
  });
}

/** Read and fully validate the GPT header at `lba` and its entry array. Throws FormatError. */
export function readGptHeader(dev: BlockDevice, lba: number): ParsedHeader {
  const sectors = Math.floor(dev.size / SECTOR);
  const which = lba === 1 ? 'primary' : 'backup';
  if (lba < 1 || lba >= sectors)
    throw gptError('E_FORMAT_GPT_RANGE', `${which} GPT header LBA ${lba} is outside the ${sectors}-sector device`, lba);
  const sec = dev.readAt(lba * SECTOR, SECTOR);
  const h = GPT_HEADER.decode(sec);
  if (!equalBytes(h.signature, GPT_SIGNATURE))
    throw gptError(
      'E_FORMAT_GPT_SIGNATURE',
      `${which} GPT header at LBA ${lba} lacks the "EFI PART" signature`,
      lba,
      'signature',
    );
  if (h.headerSize < GPT_HEADER.size || h.headerSize > SECTOR)
    throw gptError(
      'E_FORMAT_GPT_HEADER_SIZE',
      `${which} GPT header size ${h.headerSize} is not in ${GPT_HEADER.size}..${SECTOR}`,
      lba,
      'headerSize',
      { actual: h.headerSize },
    );
  const copy = sec.slice(0, h.headerSize);
  copy.fill(0, 16, 20);
  const crc = crc32(copy);
  if (crc !== h.headerCrc32)
    throw gptError(
      'E_FORMAT_GPT_HEADER_CRC',
      `${which} GPT header CRC32 mismatch (stored 0x${h.headerCrc32.toString(16)}, computed 0x${crc.toString(16)})`,
      lba,
      'headerCrc32',
      { expected: crc, actual: h.headerCrc32 },
    );
  if (h.myLba !== lba)
    throw gptError(
      'E_FORMAT_GPT_MYLBA',
      `${which} GPT header at LBA ${lba} says it is at LBA ${h.myLba}`,
      lba,
      'myLba',
      { expected: lba, actual: h.myLba },
    );
  if (h.entrySize < 128 || h.entrySize % 8 !== 0 || h.entrySize > 4096)
    throw gptError(
      'E_FORMAT_GPT_ENTRY_SIZE',
      `${which} GPT entry size ${h.entrySize} is invalid (a multiple of 8, at least 128)`,
      lba,
      'entrySize',
      { actual: h.entrySize },
    );
  const arrayBytes = h.numberOfEntries * h.entrySize;
  const arraySectors = Math.ceil(arrayBytes / SECTOR);
  if (arrayBytes > MAX_ARRAY_BYTES || h.partitionEntryLba < 2 || h.partitionEntryLba + arraySectors > sectors) {
    throw gptError(
      'E_FORMAT_GPT_ARRAY_RANGE',
      `${which} GPT entry array (${h.numberOfEntries} x ${h.entrySize} bytes at LBA ${h.partitionEntryLba}) does not fit the device`,
      lba,
      'numberOfEntries',
      { actual: h.numberOfEntries },
    );
  }
  if (h.firstUsableLba > h.lastUsableLba + 1 || h.lastUsableLba >= sectors)
    throw gptError(
      'E_FORMAT_GPT_USABLE',
      `${which} GPT usable range ${h.firstUsableLba}..${h.lastUsableLba} is invalid for a ${sectors}-sector device`,
      lba,
      'lastUsableLba',
    );
  const entries = arrayBytes ? dev.readAt(h.partitionEntryLba * SECTOR, arrayBytes) : new Uint8Array(0);
  const acrc = crc32(entries);
  if (acrc !== h.entriesCrc32)
    throw gptError(
      'E_FORMAT_GPT_ARRAY_CRC',
      `${which} GPT entry array CRC32 mismatch (stored 0x${h.entriesCrc32.toString(16)}, computed 0x${acrc.toString(16)})`,
      lba,
      'entriesCrc32',
      { expected: acrc, actual: h.entriesCrc32 },
    );
  return { header: h, entries };
}

/**
 * Read a GPT. Falls back to the backup header (at the primary's
 * AlternateLBA, else the last sector) when the primary is corrupt, with a
 * warning; throws the primary's FormatError when both are bad.
 */
export function readGpt(dev: BlockDevice): PartitionTable {
  const sectors = Math.floor(dev.size / SECTOR);
  const warnings: string[] = [];
  let parsed: ParsedHeader;
  try {
    parsed = readGptHeader(dev, 1);
    // check the backup as well (non-fatal)
    try {
      const alt = parsed.header.alternateLba;
      const b = readGptHeader(dev, alt < sectors ? alt : sectors - 1);
      if (b.header.alternateLba !== 1) warnings.push('backup GPT header does not point back at LBA 1');
    } catch (e) {
      warnings.push(`backup GPT header is unusable: ${(e as Error).message}`);
    }
  } catch (primaryErr) {
    let lastErr = primaryErr;
    let got: ParsedHeader | undefined;
    for (const lba of [sectors - 1]) {
      try {
        got = readGptHeader(dev, lba);
        break;
      } catch (e) {
        lastErr = e;
      }
    }
    if (!got) throw primaryErr instanceof FormatError ? primaryErr : lastErr;
    warnings.push(
      `primary GPT header is corrupt (${(primaryErr as Error).message}); using the backup at LBA ${got.header.myLba}`,
    );
    parsed = got;
  }
  const h = parsed.header;
  const partitions: PartitionInfo[] = [];
  for (let i = 0; i < h.numberOfEntries; i++) {
    const e = GPT_ENTRY.decode(parsed.entries, i * h.entrySize);
    const type = decodeGuid(e.typeGuid);
    if (type === NIL_GUID) continue;
    if (e.firstLba > e.lastLba || e.firstLba < h.firstUsableLba || e.lastLba > h.lastUsableLba) {
      throw new FormatError(
        'E_FORMAT_GPT_ENTRY_RANGE',
        `GPT entry ${i + 1} covers LBAs ${e.firstLba}..${e.lastLba}, outside the usable range ${h.firstUsableLba}..${h.lastUsableLba}`,
        {
          format: 'gpt',
          structure: 'GPT partition entry',
          offset: h.partitionEntryLba * SECTOR + i * h.entrySize,
          field: 'firstLba',
        },
      );
    }
    const attributes = (BigInt(e.attributesHi) << 32n) | BigInt(e.attributesLo);
    partitions.push({
      index: i + 1,
      offset: e.firstLba * SECTOR,
      size: (e.lastLba - e.firstLba + 1) * SECTOR,
      type,
      partuuid: decodeGuid(e.partGuid),
      name: decodeName(e.name),
      bootable: (attributes & GPT_ATTR_LEGACY_BIOS_BOOTABLE) !== 0n,
      attributes,
    });
  }
  warnings.push(...overlapWarnings(partitions));
  return {
    scheme: 'gpt',
    diskId: decodeGuid(h.diskGuid),
    partitions,
    sectorSize: SECTOR,
    firstUsableLba: h.firstUsableLba,
    lastUsableLba: h.lastUsableLba,
    ...(warnings.length ? { warnings } : {}),
  };
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
