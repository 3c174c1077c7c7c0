/** Shared partition-table types, type aliases and small helpers. */
import { UsageError } from '../errors.js';
import { isGuid } from './guid.js';

export const SECTOR = 512;
/** Default partition alignment: 1 MiB, as fdisk/sfdisk/sgdisk use. */
export const DEFAULT_ALIGN = 1 << 20;

export type TableScheme = 'mbr' | 'gpt';

/** One partition as a reader sees it (the agreed shape). */
export interface PartitionInfo {
  /** 1-based; MBR logical partitions are numbered from 5 as Linux does. */
  index: number;
  /** Byte offset from the start of the disk. */
  offset: number;
  /** Size in bytes. */
  size: number;
  /** MBR: '0x83' style; GPT: lowercase type GUID. */
  type: string;
  /** MBR: "%08x-%02x" (disk signature, index); GPT: lowercase partition GUID. */
  partuuid: string;
  /** GPT partition name (UTF-16LE on disk). */
  name?: string;
  /** MBR: the active flag; GPT: attribute bit 2 (legacy BIOS bootable). */
  bootable?: boolean;
  /** GPT attribute bits (64-bit). */
  attributes?: bigint;
  /** MBR: true for logical partitions inside the extended one. */
  logical?: boolean;
}

export interface PartitionTable {
  scheme: TableScheme;
  /** MBR: disk signature as 8 lowercase hex digits; GPT: disk GUID. */
  diskId: string;
  partitions: PartitionInfo[];
  sectorSize: number;
  /** GPT: first and last usable LBA. */
  firstUsableLba?: number;
  lastUsableLba?: number;
  /** Non-fatal problems, e.g. "primary GPT header corrupt; using the backup". */
  warnings?: string[];
}

interface TypeAlias {
  mbr?: number;
  gpt?: string;
}

/** Friendly type names accepted wherever a partition type is. */
export const PARTITION_TYPES: Record<string, TypeAlias> = {
  esp: { mbr: 0xef, gpt: 'c12a7328-f81f-11d2-ba4b-00a0c93ec93b' },
  'bios-boot': { gpt: '21686148-6449-6e6f-744e-656564454649' },
  linux: { mbr: 0x83, gpt: '0fc63daf-8483-4772-8e79-3d69d8477de4' },
  swap: { mbr: 0x82, gpt: '0657fd6d-a4ab-43c4-84e5-0933c84b4f4f' },
  fat32: { mbr: 0x0c, gpt: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7' },
  fat16: { mbr: 0x0e, gpt: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7' },
  fat12: { mbr: 0x01, gpt: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7' },
  msdata: { mbr: 0x0c, gpt: 'ebd0a0a2-b9e5-4433-87c0-68b6b72699c7' },
  extended: { mbr: 0x05 },
  'root-x86-64': { mbr: 0x83, gpt: '4f68bce3-e8cd-4db1-96e7-fbcaf984b709' },
  'root-x86': { mbr: 0x83, gpt: '44479540-f297-41b2-9af7-d131d5f0458a' },
  'root-arm64': { mbr: 0x83, gpt: 'b921b045-1df0-41c3-af44-4c6f280d3fae' },
  'usr-x86-64': { mbr: 0x83, gpt: '8484680c-9521-48c6-9c11-b0720656f69e' },
  home: { mbr: 0x83, gpt: '933ac7e1-2eb4-4f13-b844-0e14e2aef915' },
  srv: { mbr: 0x83, gpt: '3b8f8425-20e0-4f3b-907f-1a25a76f98e8' },
  var: { mbr: 0x83, gpt: '4d21b016-b534-45c2-a9fb-5c16e091fd2d' },
  tmp: { mbr: 0x83, gpt: '7ec6f557-3bc5-4aca-b293-16ef5df639d1' },
  xbootldr: { mbr: 0xea, gpt: 'bc13c2ff-59e6-4262-a352-b275fd6f7172' },
};

/** Resolve a type (alias, number, "0x83", "83") to an MBR type byte. */
export function mbrTypeCode(type: string | number): number {
  if (typeof type === 'number') {
    if (!Number.isInteger(type) || type <= 0 || type > 0xff)
      throw new UsageError('E_USAGE_PART_TYPE', `MBR partition type ${type} is not a byte 1..255`, { actual: type });
    return type;
  }
  const a = PARTITION_TYPES[type.toLowerCase()];
  if (a) {
    if (a.mbr === undefined)
      throw new UsageError('E_USAGE_PART_TYPE', `partition type "${type}" exists only on GPT disks`, { actual: type });
    return a.mbr;
  }
  const m = /^(?:0x)?([0-9a-f]{1,2})$/i.exec(type);
  if (m) return mbrTypeCode(parseInt(m[1]!, 16));
  throw new UsageError(
    'E_USAGE_PART_TYPE',
    `unknown MBR partition type "${type}" (use a hex byte like 0x83 or one of ${Object.keys(PARTITION_TYPES).join(', ')})`,
    { actual: type },
  );
}

/** Resolve a type (alias or GUID) to a lowercase GPT type GUID. */
export function gptTypeGuid(type: string | number): string {
  if (typeof type === 'string') {
    const a = PARTITION_TYPES[type.toLowerCase()];
    if (a) {
      if (a.gpt === undefined)
        throw new UsageError('E_USAGE_PART_TYPE', `partition type "${type}" exists only on MBR disks`, {
          actual: type,
        });
      return a.gpt;
    }
    if (isGuid(type)) return type.toLowerCase();
  }
  throw new UsageError(
    'E_USAGE_PART_TYPE',
    `unknown GPT partition type "${String(type)}" (use a type GUID or one of ${Object.keys(PARTITION_TYPES)
      .filter((k) => PARTITION_TYPES[k]!.gpt)
      .join(', ')})`,
    { actual: type },
  );
}

/** PARTUUID of MBR partition `index` (1-based) on a disk with `signature`, as the kernel prints it. */
export function partuuid(signature: number, index: number): string {
  return `${(signature >>> 0).toString(16).padStart(8, '0')}-${(index & 0xff).toString(16).padStart(2, '0')}`;
}

export function checkSectorMultiple(what: string, v: number): void {
  if (!Number.isSafeInteger(v) || v < 0 || v % SECTOR !== 0)
    throw new UsageError('E_USAGE_PART_GEOMETRY', `${what} (${v}) must be a non-negative multiple of ${SECTOR} bytes`, {
      field: what,
      actual: v,
    });
}

/** Warnings for partitions that overlap each other (readers report, not reject, these). */
export function overlapWarnings(parts: ReadonlyArray<{ index: number; offset: number; size: number }>): string[] {
  const sorted = [...parts].sort((a, b) => a.offset - b.offset);
  const out: string[] = [];
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!,
      b = sorted[i]!;
    if (b.offset < a.offset + a.size) out.push(`partitions ${a.index} and ${b.index} overlap`);
  }
  return out;
}
