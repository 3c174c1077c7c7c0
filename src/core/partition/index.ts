/**
 * Partition tables: MBR (with extended/logical) and GPT writers and readers.
 * `readPartitionTable` detects the scheme.
 */
import { FormatError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { readGpt, GPT_SIGNATURE } from './gpt.js';
import { MBR_BOOT_SIGNATURE, MBR_ENTRY, MBR_STRUCT, readMbr } from './mbr.js';
import { SECTOR, type PartitionTable } from './types.js';

export * from './types.js';
export { encodeGuid, decodeGuid, derivedGuid, derivedU32, isGuid, NIL_GUID } from './guid.js';
export {
  writeMbr,
  writeMbrBootCode,
  readMbr,
  planMbr,
  chsBytes,
  MBR_STRUCT,
  MBR_ENTRY,
  BOOT_CODE_SIZE,
  type MbrLayout,
  type MbrPartitionSpec,
  type MbrResult,
  type WriteMbrOptions,
} from './mbr.js';
export {
  writeGpt,
  readGpt,
  readGptHeader,
  protectiveMbr,
  gptUsableRange,
  defaultDiskGuid,
  defaultPartitionGuid,
  GPT_HEADER,
  GPT_ENTRY,
  GPT_FIRST_USABLE,
  GPT_TAIL_SECTORS,
  GPT_ARRAY_SECTORS,
  GPT_ATTR_LEGACY_BIOS_BOOTABLE,
  type GptLayout,
  type GptPartitionSpec,
  type GptResult,
} from './gpt.js';

/** True when sector 0 looks like a filesystem boot sector (FAT/NTFS/exFAT) rather than an MBR. */
function looksLikeVbr(sec: Uint8Array): boolean {
  if (sec[0] !== 0xeb && sec[0] !== 0xe9) return false;
  const at = (o: number, s: string) => new TextDecoder('latin1').decode(sec.subarray(o, o + s.length)) === s;
  return (
    at(0x36, 'FAT') ||
    at(0x52, 'FAT32') ||
    at(3, 'NTFS') ||
    at(3, 'EXFAT') ||
    at(3, 'mkfs.fat') ||
    at(3, 'MSDOS') ||
    at(3, 'MSWIN')
  );
}

/**
 * Read the partition table of a disk: GPT when the protective MBR (type
 * 0xEE) is there, else MBR. Returns undefined for a device without one
 * (no 0x55AA signature, or a bare FAT/NTFS filesystem). Throws FormatError
 * for corrupt tables.
 */
export function readPartitionTable(dev: BlockDevice): PartitionTable | undefined {
  if (dev.size < SECTOR) return undefined;
  const sec = dev.readAt(0, SECTOR);
  const mbr = MBR_STRUCT.decode(sec);
  if (mbr.bootSignature !== MBR_BOOT_SIGNATURE) {
    // a GPT without its protective MBR: still readable, with a warning
    if (dev.size >= 2 * SECTOR && equal(dev.readAt(SECTOR, 8), GPT_SIGNATURE)) {
      const t = readGpt(dev);
      return { ...t, warnings: [...(t.warnings ?? []), 'protective MBR is missing'] };
    }
    return undefined;
  }
  let protective = false;
  let validEntries = true;
  for (let i = 0; i < 4; i++) {
    const e = MBR_ENTRY.decode(mbr.entries, i * 16);
    if (e.type === 0xee) protective = true;
    if (e.status !== 0 && e.status !== 0x80) validEntries = false;
  }
  if (protective) return readGpt(dev);
  if (looksLikeVbr(sec) || (!validEntries && sec[0] === 0xeb)) return undefined;
  try {
    return readMbr(dev);
  } catch (e) {
    if (e instanceof FormatError && looksLikeVbr(sec)) return undefined;
    throw e;
  }
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
