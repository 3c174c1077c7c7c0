/**
 * Checksum verification for the ext4 reader (metadata_csum: CRC32C; the
 * older uninit_bg/gdt_csum: CRC16 on group descriptors). All CRC32C values
 * are raw chains (no final inversion), seeded as the kernel does:
 * - superblock: crc32c(~0, bytes 0..0x3fc)
 * - fs seed: s_checksum_seed (metadata_csum_seed) or crc32c(~0, s_uuid)
 * - inode seed: crc32c(crc32c(fs seed, le32 ino), le32 generation)
 */
import { crc16Update, crc32cUpdate } from '../../binary/crc.js';
import { FormatError } from '../../errors.js';

const ZERO4 = new Uint8Array(4);

const SCRATCH = new Uint8Array(4);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);
/** A little-endian u32 in a shared scratch buffer (consumed at once by the CRC). */
function le32(n: number): Uint8Array {
  SCRATCH_VIEW.setUint32(0, n >>> 0, true);
  return SCRATCH;
}

function le64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, n >>> 0, true);
  v.setUint32(4, Math.floor(n / 0x100000000) >>> 0, true);
  return b;
}

export function checksumError(
  structure: string,
  data: Record<string, unknown>,
  expected: number,
  actual: number,
): FormatError {
  const where = Object.entries(data)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ');
  return new FormatError(
    'E_FORMAT_CHECKSUM',
    `ext4 ${structure} checksum mismatch${where ? ` (${where})` : ''}: stored 0x${expected.toString(16)}, computed 0x${actual.toString(16)}; the image is corrupt (run e2fsck)`,
    { format: 'ext4', structure, ...data, expected, actual },
  );
}

export function superblockCsum(sb: Uint8Array): number {
  return crc32cUpdate(0xffffffff, sb, 0, 0x3fc);
}

export function fsCsumSeed(uuid: Uint8Array): number {
  return crc32cUpdate(0xffffffff, uuid);
}

export function inodeCsumSeed(fsSeed: number, ino: number, generation: number): number {
  return crc32cUpdate(crc32cUpdate(fsSeed, le32(ino)), le32(generation));
}

/**
 * Full 32-bit inode checksum over `inodeSize` bytes at `off` with the
 * checksum fields counted as zeros. `hiFits`: i_checksum_hi exists
 * (inode larger than 128 bytes and i_extra_isize >= 4).
 */
export function inodeCsum(seed: number, raw: Uint8Array, off: number, inodeSize: number, hiFits: boolean): number {
  let c = crc32cUpdate(seed, raw, off, off + 0x7c);
  c = crc32cUpdate(c, ZERO4, 0, 2);
  c = crc32cUpdate(c, raw, off + 0x7e, off + 0x80);
  if (inodeSize > 128) {
    if (hiFits) {
      c = crc32cUpdate(c, raw, off + 0x80, off + 0x82);
      c = crc32cUpdate(c, ZERO4, 0, 2);
      c = crc32cUpdate(c, raw, off + 0x84, off + inodeSize);
    } else {
      c = crc32cUpdate(c, raw, off + 0x80, off + inodeSize);
    }
  }
  return c;
}

/** Group descriptor checksum (16 bits): CRC32C with metadata_csum, else CRC16 (gdt_csum). */
export function groupDescCsum(
  metadataCsum: boolean,
  fsSeed: number,
  uuid: Uint8Array,
  group: number,
  desc: Uint8Array,
  off: number,
  descSize: number,
  is64: boolean,
): number {
  if (metadataCsum) {
    let c = crc32cUpdate(fsSeed, le32(group));
    c = crc32cUpdate(c, desc, off, off + 0x1e);
    c = crc32cUpdate(c, ZERO4, 0, 2);
    if (descSize > 0x20) c = crc32cUpdate(c, desc, off + 0x20, off + descSize);
    return c & 0xffff;
  }
  let c = crc16Update(0xffff, uuid);
  c = crc16Update(c, le32(group));
  c = crc16Update(c, desc, off, off + 0x1e);
  if (is64 && descSize > 0x20) c = crc16Update(c, desc, off + 0x20, off + descSize);
  return c;
}

export function extentBlockCsum(inodeSeed: number, block: Uint8Array, tailOffset: number): number {
  return crc32cUpdate(inodeSeed, block, 0, tailOffset);
}

export function dirLeafCsum(inodeSeed: number, block: Uint8Array): number {
  return crc32cUpdate(inodeSeed, block, 0, block.length - 12);
}

/** htree node checksum: entries up to `count`, then the 8-byte dx_tail with its checksum counted as zero. */
export function dxCsum(
  inodeSeed: number,
  block: Uint8Array,
  countOffset: number,
  count: number,
  tailOffset: number,
): number {
  const c = crc32cUpdate(inodeSeed, block, 0, countOffset + count * 8);
  return crc32cUpdate(crc32cUpdate(c, block, tailOffset, tailOffset + 4), ZERO4, 0, 4);
}

export function xattrBlockCsum(fsSeed: number, blockNr: number, block: Uint8Array): number {
  let c = crc32cUpdate(fsSeed, le64(blockNr));
  c = crc32cUpdate(c, block, 0, 0x10);
  c = crc32cUpdate(c, ZERO4, 0, 4);
  return crc32cUpdate(c, block, 0x14, block.length);
}

export function bitmapCsum(fsSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cUpdate(fsSeed, bitmap, 0, bytes);
}
