/**
 * ext4 metadata checksums (Documentation/filesystems/ext4/checksums.rst),
 * the one module both sides use: the writer computes with these functions
 * and the reader verifies with the very same ones.
 *
 * metadata_csum values are the raw (non-inverted) CRC32C chain the kernel
 * stores: crc32cUpdate(seed, bytes...). The filesystem seed is
 * crc32c(~0, s_uuid), or s_checksum_seed with metadata_csum_seed; per-inode
 * seeds chain the inode number and generation (both le32) onto it. Group
 * descriptors without metadata_csum but with uninit_bg (gdt_csum) use CRC16.
 */
import { getU32le, putU16le } from '../../binary/bytes.js';
import { crc16Update, crc32cUpdate, crc32cZeros } from '../../binary/crc.js';
import { FormatError } from '../../errors.js';
import {
  GOOD_OLD_INODE_SIZE,
  INODE_CSUM_HI_END,
  dxEntry,
  dxTail,
  extentEntryOffset,
  groupDesc32,
  inode as inodeStruct,
  jbd2BlockTail,
  jbd2Commit,
  jbd2Superblock,
  superblock,
  xattrHeader,
} from './structs.js';

const ZERO4 = new Uint8Array(4);
const SCRATCH = new Uint8Array(8);
const SCRATCH_VIEW = new DataView(SCRATCH.buffer);

/** A little-endian u32 in a shared scratch buffer (consumed at once by the CRC). */
function le32(n: number): Uint8Array {
  SCRATCH_VIEW.setUint32(0, n >>> 0, true);
  return SCRATCH.subarray(0, 4);
}

/** A little-endian u64 in the shared scratch buffer. */
function le64(n: number): Uint8Array {
  SCRATCH_VIEW.setUint32(0, n >>> 0, true);
  SCRATCH_VIEW.setUint32(4, Math.floor(n / 0x100000000) >>> 0, true);
  return SCRATCH;
}

/** CRC over buf[start, end) with the `skip` bytes at `hole` counted as zeros. */
function crc32cWithHole(c: number, buf: Uint8Array, start: number, end: number, hole: number, skip: number): number {
  c = crc32cUpdate(c, buf, start, hole);
  c = crc32cUpdate(c, ZERO4, 0, skip);
  return crc32cUpdate(c, buf, hole + skip, end);
}

/** The FormatError a reader throws when a stored checksum differs from the computed one. */
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

/** crc32c(~0, uuid): the filesystem checksum seed. */
export function fsCsumSeed(uuid: Uint8Array): number {
  return crc32cUpdate(0xffffffff, uuid);
}

/** Seed for per-inode structures (the inode, extent blocks, directory blocks): seed + inode number + generation. */
export function inodeCsumSeed(fsSeed: number, ino: number, generation: number): number {
  SCRATCH_VIEW.setUint32(0, ino >>> 0, true);
  SCRATCH_VIEW.setUint32(4, generation >>> 0, true);
  return crc32cUpdate(fsSeed, SCRATCH, 0, 8);
}

/** Superblock checksum over bytes [0, s_checksum) of the 1024-byte superblock. */
export function superblockCsum(sb: Uint8Array): number {
  return crc32cUpdate(0xffffffff, sb, 0, superblock.offsetOf('s_checksum'));
}

const OFF_GEN = inodeStruct.offsetOf('i_generation');
const OFF_CSUM_LO = inodeStruct.offsetOf('l_i_checksum_lo');
const OFF_CSUM_HI = inodeStruct.offsetOf('i_checksum_hi');
const OFF_EXTRA_ISIZE = inodeStruct.offsetOf('i_extra_isize');
const CSUM_HALF = 2;

/** i_checksum_hi exists: a large inode whose i_extra_isize reaches past it. */
export function inodeCsumHasHi(raw: Uint8Array, off: number, inodeSize: number): boolean {
  if (inodeSize <= GOOD_OLD_INODE_SIZE) return false;
  const extra = raw[off + OFF_EXTRA_ISIZE]! | (raw[off + OFF_EXTRA_ISIZE + 1]! << 8);
  return GOOD_OLD_INODE_SIZE + extra >= INODE_CSUM_HI_END;
}

/**
 * The inode checksum as stored: crc32c over the whole on-disk inode
 * (`inodeSize` bytes at `off`) with l_i_checksum_lo and i_checksum_hi
 * counted as zeros; the low 16 bits only when i_checksum_hi does not exist.
 */
export function inodeCsum(inodeSeed: number, raw: Uint8Array, off: number, inodeSize: number): number {
  const base = off + GOOD_OLD_INODE_SIZE;
  let c = crc32cWithHole(inodeSeed, raw, off, base, off + OFF_CSUM_LO, CSUM_HALF);
  const hasHi = inodeCsumHasHi(raw, off, inodeSize);
  if (hasHi) c = crc32cWithHole(c, raw, base, off + inodeSize, off + OFF_CSUM_HI, CSUM_HALF);
  else if (inodeSize > GOOD_OLD_INODE_SIZE) c = crc32cUpdate(c, raw, base, off + inodeSize);
  return hasHi ? c : c & 0xffff;
}

/** The inode checksum stored in l_i_checksum_lo (and i_checksum_hi when it exists). */
export function storedInodeCsum(raw: Uint8Array, off: number, inodeSize: number): number {
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const lo = v.getUint16(off + OFF_CSUM_LO, true);
  return inodeCsumHasHi(raw, off, inodeSize) ? lo + v.getUint16(off + OFF_CSUM_HI, true) * 0x10000 : lo;
}

/** Compute and store the checksum of inode `ino` (the whole on-disk inode in `raw`). */
export function setInodeCsum(fsSeed: number, ino: number, raw: Uint8Array): void {
  setInodeCsumAt(fsSeed, ino, raw, 0, raw.length);
}

/** Store inode checksum `c` at `off`: its low half, and its high half when the inode has the field. */
function storeInodeCsum(buf: Uint8Array, off: number, c: number, hasHi: boolean): void {
  putU16le(buf, off + OFF_CSUM_LO, c);
  if (hasHi) putU16le(buf, off + OFF_CSUM_HI, c >>> 16);
}

/** setInodeCsum for the inode at `off` in `buf` (an inode table), without a view per inode. */
export function setInodeCsumAt(fsSeed: number, ino: number, buf: Uint8Array, off: number, inodeSize: number): void {
  const c = inodeCsum(inodeCsumSeed(fsSeed, ino, getU32le(buf, off + OFF_GEN)), buf, off, inodeSize);
  storeInodeCsum(buf, off, c, inodeCsumHasHi(buf, off, inodeSize));
}

/**
 * setInodeCsumAt for an inode whose checksum fields are still zero (the
 * writer's, just encoded into a zeroed table): the CRC runs over the inode in
 * one piece, the fields standing for themselves as the zeros inodeCsum counts.
 */
export function setFreshInodeCsumAt(
  fsSeed: number,
  ino: number,
  buf: Uint8Array,
  off: number,
  inodeSize: number,
): void {
  const hasHi = inodeCsumHasHi(buf, off, inodeSize);
  const c = crc32cUpdate(inodeCsumSeed(fsSeed, ino, getU32le(buf, off + OFF_GEN)), buf, off, off + inodeSize);
  storeInodeCsum(buf, off, hasHi ? c : c & 0xffff, hasHi);
}

const OFF_BG_CSUM = groupDesc32.offsetOf('bg_checksum');

/**
 * Group descriptor checksum (16 bits) of the `descSize` bytes of `desc`.
 * metadata_csum: low 16 bits of crc32c(seed, le32 group, desc with
 * bg_checksum zeroed). gdt_csum (uninit_bg): crc16(~0, uuid, le32 group,
 * desc without bg_checksum).
 */
export function groupDescCsum(
  opts: { metadataCsum: boolean; fsSeed: number; uuid: Uint8Array; descSize: number },
  group: number,
  desc: Uint8Array,
): number {
  const end = OFF_BG_CSUM + CSUM_HALF;
  if (opts.metadataCsum) {
    let c = crc32cUpdate(opts.fsSeed, le32(group));
    c = crc32cUpdate(c, desc, 0, OFF_BG_CSUM);
    c = crc32cUpdate(c, ZERO4, 0, CSUM_HALF);
    if (opts.descSize > end) c = crc32cUpdate(c, desc, end, opts.descSize);
    return c & 0xffff;
  }
  let c = crc16Update(0xffff, opts.uuid);
  c = crc16Update(c, le32(group));
  c = crc16Update(c, desc, 0, OFF_BG_CSUM);
  if (opts.descSize > end) c = crc16Update(c, desc, end, opts.descSize);
  return c & 0xffff;
}

/** Block or inode bitmap checksum: crc32c(seed, bitmap bytes); `bytes` = clusters_per_group/8 or inodes_per_group/8. */
export function bitmapCsum(fsSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cUpdate(fsSeed, bitmap, 0, bytes);
}

/** Checksum of an extent tree block whose header says eh_max = `max`: crc32c(inode seed, block up to the tail). */
export function extentBlockCsum(inodeSeed: number, block: Uint8Array, max: number): number {
  return crc32cUpdate(inodeSeed, block, 0, extentEntryOffset(max));
}

/** Checksum of a leaf directory block: crc32c(inode seed, block without its 12-byte tail); `used`: where the zeros up to the tail start, when known. */
export function dirBlockCsum(
  inodeSeed: number,
  block: Uint8Array,
  tailSize: number,
  used = block.length - tailSize,
): number {
  // bytes from `used` to the tail are zeros (a block the writer just filled): counted without reading them
  return crc32cZeros(crc32cUpdate(inodeSeed, block, 0, used), block.length - tailSize - used);
}

/**
 * Checksum of an htree root/node block: over the block up to the end of the
 * `count` used dx entries after the dx_countlimit at `countOffset`, then the
 * dx_tail at `tailOffset` with dt_checksum counted as zero.
 */
export function dxBlockCsum(
  inodeSeed: number,
  block: Uint8Array,
  countOffset: number,
  count: number,
  tailOffset: number,
): number {
  const c = crc32cUpdate(inodeSeed, block, 0, countOffset + count * dxEntry.size);
  const sum = tailOffset + dxTail.offsetOf('dt_checksum');
  return crc32cUpdate(crc32cUpdate(c, block, tailOffset, sum), ZERO4, 0, dxTail.size - (sum - tailOffset));
}

const OFF_XATTR_CSUM = xattrHeader.offsetOf('h_checksum');

/** Checksum of an external xattr block: crc32c(seed, le64 block number, block with h_checksum zeroed). */
export function xattrBlockCsum(fsSeed: number, blockNr: number, block: Uint8Array): number {
  const c = crc32cUpdate(fsSeed, le64(blockNr));
  return crc32cWithHole(c, block, 0, block.length, OFF_XATTR_CSUM, ZERO4.length);
}

const OFF_JSB_CSUM = jbd2Superblock.offsetOf('s_checksum');

/** jbd2 superblock checksum (v2/v3): crc32c(~0, the superblock with s_checksum zeroed). */
export function jbd2SuperblockCsum(sb: Uint8Array): number {
  return crc32cWithHole(0xffffffff, sb, 0, jbd2Superblock.size, OFF_JSB_CSUM, ZERO4.length);
}

/** The jbd2 checksum seed (csum v2/v3): crc32c(~0, the journal superblock's s_uuid). */
export function jbd2CsumSeed(uuid: Uint8Array): number {
  return crc32cUpdate(0xffffffff, uuid);
}

/** Descriptor or revoke block checksum (v2/v3): crc32c(seed, the block with the tail's t_checksum zeroed). */
export function jbd2TailCsum(seed: number, block: Uint8Array): number {
  const tail = block.length - jbd2BlockTail.size;
  return crc32cWithHole(seed, block, 0, block.length, tail, jbd2BlockTail.size);
}

const OFF_COMMIT_CSUM = jbd2Commit.offsetOf('h_chksum');

/** Commit block checksum (v2/v3): crc32c(seed, the block with h_chksum[0] zeroed). */
export function jbd2CommitCsum(seed: number, block: Uint8Array): number {
  return crc32cWithHole(seed, block, 0, block.length, OFF_COMMIT_CSUM, ZERO4.length);
}

/**
 * The commit checksum newer kernels also accept (an incompletely written
 * commit block): over the commit header alone, the rest of the block
 * counted as zeros. e2fsprogs does not accept it.
 */
export function jbd2CommitCsumPartial(seed: number, block: Uint8Array): number {
  const b = new Uint8Array(block.length);
  b.set(block.subarray(0, jbd2Commit.size));
  return jbd2CommitCsum(seed, b);
}

/**
 * Checksum of a journalled block (v2/v3 tags): crc32c(crc32c(seed, be32
 * sequence), the block as stored in the journal). csum v2 tags keep the low
 * 16 bits.
 */
export function jbd2TagCsum(seed: number, sequence: number, block: Uint8Array): number {
  SCRATCH_VIEW.setUint32(0, sequence >>> 0, false);
  return crc32cUpdate(crc32cUpdate(seed, SCRATCH, 0, 4), block);
}

/** Name hash of one xattr entry (name without prefix, value padded to 4 bytes). */
export function xattrEntryHash(name: Uint8Array, value: Uint8Array): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = ((h << 5) ^ (h >>> 27) ^ ((name[i]! << 24) >> 24)) >>> 0;
  const n = Math.ceil(value.length / 4);
  for (let i = 0; i < n; i++) {
    const o = i * 4;
    const w =
      ((value[o] ?? 0) | ((value[o + 1] ?? 0) << 8) | ((value[o + 2] ?? 0) << 16) | ((value[o + 3] ?? 0) << 24)) >>> 0;
    h = ((h << 16) ^ (h >>> 16) ^ w) >>> 0;
  }
  return h;
}

/** Header hash of an xattr block from its entries' hashes (0 if any entry hash is 0). */
export function xattrBlockHash(entryHashes: number[]): number {
  let h = 0;
  for (const e of entryHashes) {
    if (e === 0) return 0;
    h = ((h << 16) ^ (h >>> 16) ^ e) >>> 0;
  }
  return h;
}
