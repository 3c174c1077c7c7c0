/**
 * MBR (DOS) partition tables: four primary entries, an extended partition
 * with a chain of EBRs for logical partitions, disk signature at 0x1B8,
 * 0x55AA at 0x1FE. CHS fields use the 255-head/63-sector geometry and are
 * capped at (1023, 254, 63) = FE FF FF for LBAs beyond it, as fdisk writes.
 */
import { defineStruct } from '../binary/struct.js';
import { CapacityError, FormatError, UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { derivedU32 } from './guid.js';
import {
  checkSectorMultiple,
  mbrTypeCode,
  overlapWarnings,
  partuuid,
  SECTOR,
  type PartitionInfo,
  type PartitionTable,
} from './types.js';

/** The 512-byte boot sector. */
export const MBR_STRUCT = defineStruct('MBR', 512, [
  { name: 'bootCode', offset: 0, type: 'bytes', length: 440 },
  { name: 'diskSignature', offset: 0x1b8, type: 'u32le' },
  { name: 'reserved', offset: 0x1bc, type: 'u16le' },
  { name: 'entries', offset: 0x1be, type: 'bytes', length: 64 },
  { name: 'bootSignature', offset: 0x1fe, type: 'u16le' },
] as const);

/** One 16-byte partition entry. */
export const MBR_ENTRY = defineStruct('MBR partition entry', 16, [
  { name: 'status', offset: 0, type: 'u8' },
  { name: 'chsFirst', offset: 1, type: 'bytes', length: 3 },
  { name: 'type', offset: 4, type: 'u8' },
  { name: 'chsLast', offset: 5, type: 'bytes', length: 3 },
  { name: 'lbaStart', offset: 8, type: 'u32le' },
  { name: 'sectors', offset: 12, type: 'u32le' },
] as const);

export const MBR_BOOT_SIGNATURE = 0xaa55;
export const BOOT_CODE_SIZE = 440;
const EXTENDED_TYPES = new Set([0x05, 0x0f, 0x85]);
const MAX_U32 = 0xffffffff;
const MAX_LOGICAL = 256;

export interface MbrPartitionSpec {
  /** Byte offset on the disk (multiple of 512). */
  offset: number;
  /** Size in bytes (multiple of 512). */
  size: number;
  /** Alias ('linux', 'esp', 'fat32', ...), a type byte, or "0x83". */
  type: string | number;
  bootable?: boolean;
  /** Put this partition inside the extended partition (numbered 5, 6, ...). */
  logical?: boolean;
}

export interface MbrLayout {
  /** Disk signature; default derived from `seed`. */
  signature?: number;
  /** Seed for the default signature (default "tinyimage"). */
  seed?: string;
  partitions: MbrPartitionSpec[];
  /** Sectors reserved before each logical partition for its EBR (default 2048 = 1 MiB, as sfdisk aligns). */
  ebrGapSectors?: number;
  /** Type byte of the extended partition (default 0x05; 0x0f = LBA). */
  extendedType?: number;
}

export interface WriteMbrOptions {
  /** Boot code for bytes 0..439 (up to 440 bytes; a full 512-byte sector is accepted and only its first 440 bytes used). Default: keep what the device has. */
  bootCode?: Uint8Array;
}

/** CHS triple (head, sector|cyl-high, cyl-low) for an LBA, 255 heads x 63 sectors, capped like fdisk. */
export function chsBytes(lba: number): Uint8Array {
  const H = 255,
    S = 63;
  let c = Math.floor(lba / (H * S));
  let h = Math.floor(lba / S) % H;
  let s = (lba % S) + 1;
  if (c > 1023) {
    c = 1023;
    h = 254;
    s = 63;
  }
  return Uint8Array.of(h, s | ((c >> 8) << 6), c & 0xff);
}

function entryBytes(type: number, lbaStart: number, sectors: number, bootable: boolean): Uint8Array {
  return MBR_ENTRY.encode({
    status: bootable ? 0x80 : 0,
    chsFirst: chsBytes(lbaStart),
    type,
    chsLast: chsBytes(lbaStart + sectors - 1),
    lbaStart,
    sectors,
  });
}

function normBootCode(code: Uint8Array): Uint8Array {
  if (code.length === 512) return code.subarray(0, BOOT_CODE_SIZE);
  if (code.length > BOOT_CODE_SIZE)
    throw new UsageError(
      'E_USAGE_BOOT_CODE',
      `MBR boot code is ${code.length} bytes; at most ${BOOT_CODE_SIZE} fit before the disk signature (or pass a whole 512-byte sector)`,
      { actual: code.length, expected: BOOT_CODE_SIZE },
    );
  return code;
}

export interface MbrResult {
  signature: number;
  partitions: PartitionInfo[];
  /** LBAs of the EBR sectors written (for logical partitions). */
  ebrLbas: number[];
}

/** Validate and turn a layout into sector entries; no I/O. */
export function planMbr(
  layout: MbrLayout,
  diskSize: number,
): {
  primaries: Array<{ type: number; lba: number; sectors: number; bootable: boolean; extended?: boolean }>;
  logicals: Array<{ type: number; lba: number; sectors: number; bootable: boolean; ebr: number }>;
  extended?: { lba: number; sectors: number };
} {
  const diskSectors = Math.floor(diskSize / SECTOR);
  const gap = layout.ebrGapSectors ?? 2048;
  if (!Number.isInteger(gap) || gap < 1)
    throw new UsageError('E_USAGE_PART_GEOMETRY', `ebrGapSectors must be >= 1`, { actual: gap });
  const items = layout.partitions.map((p, i) => {
    checkSectorMultiple(`partition ${i + 1} offset`, p.offset);
    checkSectorMultiple(`partition ${i + 1} size`, p.size);
    if (p.size === 0) throw new UsageError('E_USAGE_PART_GEOMETRY', `partition ${i + 1} has size 0`, { field: 'size' });
    const lba = p.offset / SECTOR,
      sectors = p.size / SECTOR;
    if (lba < 1)
      throw new UsageError('E_USAGE_PART_GEOMETRY', `partition ${i + 1} starts at sector 0, which holds the MBR`, {
        offset: p.offset,
      });
    if (lba + sectors > diskSectors)
      throw new CapacityError(
        'E_SPACE_DISK',
        `partition ${i + 1} ends at byte ${p.offset + p.size}, past the end of the ${diskSize}-byte disk`,
        { offset: p.offset, expected: diskSize, actual: p.offset + p.size },
      );
    if (lba + sectors > MAX_U32)
      throw new CapacityError(
        'E_LIMIT_MBR',
        `partition ${i + 1} ends beyond 2 TiB, which MBR cannot address; use GPT`,
        { offset: p.offset },
      );
    const type = mbrTypeCode(p.type);
    if (EXTENDED_TYPES.has(type))
      throw new UsageError(
        'E_USAGE_PART_TYPE',
        `partition ${i + 1}: do not give an extended partition yourself; mark partitions "logical" and it is made for you`,
        { actual: type },
      );
    return { type, lba, sectors, bootable: !!p.bootable, logical: !!p.logical };
  });
  const prim = items.filter((x) => !x.logical);
  const logi = items.filter((x) => x.logical).sort((a, b) => a.lba - b.lba);
  if (prim.length + (logi.length ? 1 : 0) > 4)
    throw new CapacityError(
      'E_LIMIT_MBR_PRIMARY',
      `MBR holds 4 primary partitions; ${prim.length} primary${logi.length ? ' + 1 extended' : ''} requested (mark some "logical")`,
      { actual: prim.length },
    );
  if (logi.length > MAX_LOGICAL)
    throw new CapacityError('E_LIMIT_MBR_LOGICAL', `at most ${MAX_LOGICAL} logical partitions`, {
      actual: logi.length,
    });
  const logicals = logi.map((l) => ({ ...l, ebr: l.lba - gap }));
  let extended: { lba: number; sectors: number } | undefined;
  if (logicals.length) {
    const first = logicals[0]!,
      last = logicals[logicals.length - 1]!;
    extended = { lba: first.ebr, sectors: last.lba + last.sectors - first.ebr };
    let prevEnd = 0;
    for (const [k, l] of logicals.entries()) {
      if (l.ebr < 1 || l.ebr < prevEnd)
        throw new UsageError(
          'E_USAGE_PART_GEOMETRY',
          `logical partition ${k + 5} at sector ${l.lba} needs ${gap} free sectors before it for its EBR`,
          { offset: l.lba * SECTOR },
        );
      prevEnd = l.lba + l.sectors;
    }
  }
  // overlap check across primaries and the extended area
  const spans = [
    ...prim.map((p) => ({ a: p.lba, b: p.lba + p.sectors, what: 'primary' })),
    ...(extended ? [{ a: extended.lba, b: extended.lba + extended.sectors, what: 'extended' }] : []),
  ].sort((x, y) => x.a - y.a);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i]!.a < spans[i - 1]!.b)
      throw new UsageError(
        'E_USAGE_PART_OVERLAP',
        `partitions overlap: ${spans[i - 1]!.what} [${spans[i - 1]!.a}, ${spans[i - 1]!.b}) and ${spans[i]!.what} starting at sector ${spans[i]!.a}`,
        { offset: spans[i]!.a * SECTOR },
      );
  }
  const primaries: Array<{ type: number; lba: number; sectors: number; bootable: boolean; extended?: boolean }> =
    prim.map((p) => ({ type: p.type, lba: p.lba, sectors: p.sectors, bootable: p.bootable }));
  if (extended) {
    // the extended entry goes in table order by position
    primaries.push({
      type: layout.extendedType ?? 0x05,
      lba: extended.lba,
      sectors: extended.sectors,
      bootable: false,
      extended: true,
    });
  }
  primaries.sort((a, b) => a.lba - b.lba);
  return { primaries, logicals, ...(extended ? { extended } : {}) };
}

/**
 * Write an MBR (and EBRs for logical partitions) to `dev`. Bytes 0..439 of
 * sector 0 are kept unless `opts.bootCode` is given. Returns the signature
 * and the partitions as a reader would report them.
 */
export function writeMbr(dev: BlockDevice, layout: MbrLayout, opts: WriteMbrOptions = {}): MbrResult {
  const signature = (layout.signature ?? derivedU32(`mbr-signature:${layout.seed ?? 'tinyimage'}`)) >>> 0;
  const plan = planMbr(layout, dev.size);
  const sector = dev.size >= SECTOR ? dev.readAt(0, SECTOR) : new Uint8Array(SECTOR);
  if (dev.size < SECTOR)
    throw new CapacityError('E_SPACE_DISK', `device of ${dev.size} bytes cannot hold an MBR`, { actual: dev.size });
  if (opts.bootCode) {
    sector.fill(0, 0, BOOT_CODE_SIZE);
    sector.set(normBootCode(opts.bootCode), 0);
  }
  const entries = new Uint8Array(64);
  plan.primaries.forEach((p, i) => entries.set(entryBytes(p.type, p.lba, p.sectors, p.bootable), i * 16));
  MBR_STRUCT.encode({ diskSignature: signature, reserved: 0, entries, bootSignature: MBR_BOOT_SIGNATURE }, sector);
  dev.writeAt(0, sector);
  // EBR chain
  const ebrLbas: number[] = [];
  if (plan.extended) {
    const ext = plan.extended;
    plan.logicals.forEach((l, k) => {
      const ebr = new Uint8Array(SECTOR);
      const e = new Uint8Array(64);
      e.set(entryBytes(l.type, l.lba - l.ebr, l.sectors, l.bootable), 0);
      const next = plan.logicals[k + 1];
      if (next) e.set(entryBytes(0x05, next.ebr - ext.lba, next.lba + next.sectors - next.ebr, false), 16);
      // CHS in EBRs describe absolute positions
      if (e[4]) {
        e.set(chsBytes(l.lba), 1);
        e.set(chsBytes(l.lba + l.sectors - 1), 5);
      }
      if (next) {
        e.set(chsBytes(next.ebr), 17);
        e.set(chsBytes(next.lba + next.sectors - 1), 21);
      }
      MBR_STRUCT.encode({ entries: e, bootSignature: MBR_BOOT_SIGNATURE }, ebr);
      dev.writeAt(l.ebr * SECTOR, ebr);
      ebrLbas.push(l.ebr);
    });
  }
  const partitions: PartitionInfo[] = [];
  let n = 0;
  for (const p of plan.primaries) {
    n++;
    if (p.extended) continue;
    partitions.push({
      index: n,
      offset: p.lba * SECTOR,
      size: p.sectors * SECTOR,
      type: hexType(p.type),
      partuuid: partuuid(signature, n),
      bootable: p.bootable,
    });
  }
  plan.logicals.forEach((l, k) =>
    partitions.push({
      index: 5 + k,
      offset: l.lba * SECTOR,
      size: l.sectors * SECTOR,
      type: hexType(l.type),
      partuuid: partuuid(signature, 5 + k),
      bootable: l.bootable,
      logical: true,
    }),
  );
  return { signature, partitions, ebrLbas };
}

/** Replace the MBR boot code (bytes 0..439), keeping signature and table. */
export function writeMbrBootCode(dev: BlockDevice, code: Uint8Array): void {
  dev.writeAt(0, normBootCode(code));
}

export function hexType(t: number): string {
  return `0x${t.toString(16).padStart(2, '0')}`;
}

/**
 * Read an MBR partition table (primary and logical partitions) from sector 0.
 * Returns undefined when sector 0 has no 0x55AA signature. Throws FormatError
 * for entries that point outside the device or a looping EBR chain.
 */
export function readMbr(dev: BlockDevice): PartitionTable | undefined {
  if (dev.size < SECTOR) return undefined;
  const sec = dev.readAt(0, SECTOR);
  const mbr = MBR_STRUCT.decode(sec);
  if (mbr.bootSignature !== MBR_BOOT_SIGNATURE) return undefined;
  const diskSectors = Math.floor(dev.size / SECTOR);
  const signature = mbr.diskSignature;
  const partitions: PartitionInfo[] = [];
  const warnings: string[] = [];
  let extended: { lba: number; sectors: number } | undefined;
  for (let i = 0; i < 4; i++) {
    const e = MBR_ENTRY.decode(mbr.entries, i * 16);
    if (e.type === 0 || e.sectors === 0) continue;
    if (e.status !== 0 && e.status !== 0x80)
      throw new FormatError(
        'E_FORMAT_MBR_STATUS',
        `MBR entry ${i + 1} has boot flag 0x${e.status.toString(16)} (must be 0x00 or 0x80)`,
        { format: 'mbr', structure: 'MBR partition entry', field: 'status', offset: 0x1be + i * 16, actual: e.status },
      );
    if (e.lbaStart === 0 || e.lbaStart + e.sectors > diskSectors)
      throw new FormatError(
        'E_FORMAT_MBR_RANGE',
        `MBR entry ${i + 1} covers sectors ${e.lbaStart}..${e.lbaStart + e.sectors - 1}, outside the ${diskSectors}-sector device`,
        {
          format: 'mbr',
          structure: 'MBR partition entry',
          field: 'lbaStart',
          offset: 0x1be + i * 16,
          expected: diskSectors,
          actual: e.lbaStart + e.sectors,
        },
      );
    if (EXTENDED_TYPES.has(e.type)) {
      if (extended)
        throw new FormatError('E_FORMAT_MBR_EXTENDED', `MBR has more than one extended partition`, {
          format: 'mbr',
          offset: 0x1be + i * 16,
        });
      extended = { lba: e.lbaStart, sectors: e.sectors };
      continue;
    }
    partitions.push({
      index: i + 1,
      offset: e.lbaStart * SECTOR,
      size: e.sectors * SECTOR,
      type: hexType(e.type),
      partuuid: partuuid(signature, i + 1),
      bootable: e.status === 0x80,
    });
  }
  if (extended) {
    const seen = new Set<number>();
    let ebrLba = extended.lba;
    let idx = 5;
    while (true) {
      if (seen.has(ebrLba))
        throw new FormatError('E_FORMAT_MBR_EBR_LOOP', `EBR chain loops back to sector ${ebrLba}`, {
          format: 'mbr',
          structure: 'EBR',
          offset: ebrLba * SECTOR,
        });
      if (seen.size >= MAX_LOGICAL)
        throw new FormatError('E_FORMAT_MBR_EBR_LONG', `EBR chain longer than ${MAX_LOGICAL} entries`, {
          format: 'mbr',
          structure: 'EBR',
          offset: ebrLba * SECTOR,
        });
      if (ebrLba < extended.lba || ebrLba >= extended.lba + extended.sectors)
        throw new FormatError('E_FORMAT_MBR_EBR_RANGE', `EBR at sector ${ebrLba} lies outside the extended partition`, {
          format: 'mbr',
          structure: 'EBR',
          offset: ebrLba * SECTOR,
        });
      seen.add(ebrLba);
      const ebr = MBR_STRUCT.decode(dev.readAt(ebrLba * SECTOR, SECTOR));
      if (ebr.bootSignature !== MBR_BOOT_SIGNATURE) {
        // an empty extended partition (no EBR written yet) is legal
        if (ebrLba === extended.lba && isBlank(ebr.entries)) break;
        throw new FormatError('E_FORMAT_MBR_EBR_SIGNATURE', `EBR at sector ${ebrLba} lacks the 0x55AA signature`, {
          format: 'mbr',
          structure: 'EBR',
          field: 'bootSignature',
          offset: ebrLba * SECTOR + 510,
          actual: ebr.bootSignature,
        });
      }
      const l = MBR_ENTRY.decode(ebr.entries, 0);
      const link = MBR_ENTRY.decode(ebr.entries, 16);
      if (l.type !== 0 && l.sectors !== 0) {
        const lba = ebrLba + l.lbaStart;
        if (lba + l.sectors > extended.lba + extended.sectors)
          throw new FormatError(
            'E_FORMAT_MBR_RANGE',
            `logical partition ${idx} (sectors ${lba}..${lba + l.sectors - 1}) runs past its extended partition`,
            { format: 'mbr', structure: 'EBR', offset: ebrLba * SECTOR + 0x1be },
          );
        partitions.push({
          index: idx,
          offset: lba * SECTOR,
          size: l.sectors * SECTOR,
          type: hexType(l.type),
          partuuid: partuuid(signature, idx),
          bootable: l.status === 0x80,
          logical: true,
        });
        idx++;
      } else {
        warnings.push(`EBR at sector ${ebrLba} has an empty first entry`);
      }
      if (link.type === 0 || link.sectors === 0) break;
      if (!EXTENDED_TYPES.has(link.type))
        throw new FormatError(
          'E_FORMAT_MBR_EBR_LINK',
          `EBR at sector ${ebrLba} links with type 0x${link.type.toString(16)} (expected 0x05)`,
          { format: 'mbr', structure: 'EBR', offset: ebrLba * SECTOR + 0x1ce, actual: link.type },
        );
      ebrLba = extended.lba + link.lbaStart;
    }
  }
  warnings.push(...overlapWarnings(partitions));
  return {
    scheme: 'mbr',
    diskId: signature.toString(16).padStart(8, '0'),
    partitions,
    sectorSize: SECTOR,
    ...(warnings.length ? { warnings } : {}),
  };
}

function isBlank(b: Uint8Array): boolean {
  for (const x of b) if (x !== 0) return false;
  return true;
}
