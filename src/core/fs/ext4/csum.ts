/**
 * ext4 metadata checksums (Documentation/filesystems/ext4/checksums.rst).
 * All crc32c values are the raw (non-inverted) chain the kernel stores:
 * crc32cUpdate(seed, bytes...). The filesystem seed is crc32c(~0, s_uuid)
 * (or s_checksum_seed with metadata_csum_seed). Per-inode seeds chain the
 * inode number and generation (both le32) onto it.
 */
import { crc16Update, crc32cUpdate } from '../../binary/crc.js';
import {
  DX_NODE_COUNT_OFFSET,
  DX_ROOT_COUNT_OFFSET,
  GOOD_OLD_INODE_SIZE,
  INODE_CSUM_HI_END,
  groupDesc64,
  inode as inodeStruct,
  superblock,
} from './structs.js';

function le32(n: number): Uint8Array {
  return Uint8Array.of(n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff);
}
function le64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setUint32(0, n >>> 0, true);
  new DataView(b.buffer).setUint32(4, Math.floor(n / 0x100000000), true);
  return b;
}
const ZERO4 = new Uint8Array(4);

/** crc32c(~0, uuid): the filesystem checksum seed. */
export function fsCsumSeed(uuid: Uint8Array): number {
  return crc32cUpdate(0xffffffff, uuid);
}

const SEED_SCRATCH = new Uint8Array(8);
const SEED_VIEW = new DataView(SEED_SCRATCH.buffer);

/** Seed for per-inode structures (extent blocks, directory blocks): seed + inode number + generation. */
export function inodeCsumSeed(fsSeed: number, ino: number, generation: number): number {
  SEED_VIEW.setUint32(0, ino >>> 0, true);
  SEED_VIEW.setUint32(4, generation >>> 0, true);
  return crc32cUpdate(fsSeed, SEED_SCRATCH, 0, 8);
}

/** Superblock checksum over bytes [0, 0x3fc) of the 1024-byte superblock. */
export function superblockCsum(sb: Uint8Array): number {
  return crc32cUpdate(0xffffffff, sb, 0, superblock.offsetOf('s_checksum'));
}

/**
 * Inode checksum over the whole on-disk inode (`raw`, s_inode_size bytes)
 * with l_i_checksum_lo and (if present) i_checksum_hi treated as zero.
 * Returns the 32-bit value; the low 16 bits go to l_i_checksum_lo, the high
 * 16 to i_checksum_hi when the inode is large enough.
 */
const OFF_GEN = inodeStruct.offsetOf('i_generation');
const OFF_CSUM_LO = inodeStruct.offsetOf('l_i_checksum_lo');
const OFF_CSUM_HI = inodeStruct.offsetOf('i_checksum_hi');

export function inodeCsum(fsSeed: number, ino: number, raw: Uint8Array): number {
  const gen = (raw[OFF_GEN]! | (raw[OFF_GEN + 1]! << 8) | (raw[OFF_GEN + 2]! << 16) | (raw[OFF_GEN + 3]! << 24)) >>> 0;
  let c = inodeCsumSeed(fsSeed, ino, gen);
  const lo = OFF_CSUM_LO;
  c = crc32cUpdate(c, raw, 0, lo);
  c = crc32cUpdate(c, ZERO4, 0, 2);
  c = crc32cUpdate(c, raw, lo + 2, GOOD_OLD_INODE_SIZE);
  if (raw.length > GOOD_OLD_INODE_SIZE) {
    const extra = raw[GOOD_OLD_INODE_SIZE]! | (raw[GOOD_OLD_INODE_SIZE + 1]! << 8);
    const hi = OFF_CSUM_HI;
    if (GOOD_OLD_INODE_SIZE + extra >= INODE_CSUM_HI_END) {
      c = crc32cUpdate(c, raw, GOOD_OLD_INODE_SIZE, hi);
      c = crc32cUpdate(c, ZERO4, 0, 2);
      c = crc32cUpdate(c, raw, hi + 2, raw.length);
    } else {
      c = crc32cUpdate(c, raw, GOOD_OLD_INODE_SIZE, raw.length);
    }
  }
  return c >>> 0;
}

/** Store the inode checksum into `raw` in place. */
export function setInodeCsum(fsSeed: number, ino: number, raw: Uint8Array): void {
  const c = inodeCsum(fsSeed, ino, raw);
  raw[OFF_CSUM_LO] = c & 0xff;
  raw[OFF_CSUM_LO + 1] = (c >>> 8) & 0xff;
  if (
    raw.length > GOOD_OLD_INODE_SIZE &&
    GOOD_OLD_INODE_SIZE + (raw[GOOD_OLD_INODE_SIZE]! | (raw[GOOD_OLD_INODE_SIZE + 1]! << 8)) >= INODE_CSUM_HI_END
  ) {
    raw[OFF_CSUM_HI] = (c >>> 16) & 0xff;
    raw[OFF_CSUM_HI + 1] = c >>> 24;
  }
}

/**
 * Group descriptor checksum (16 bits). metadata_csum: low 16 bits of
 * crc32c(seed, le32 group, desc with bg_checksum zeroed). gdt_csum
 * (uninit_bg): crc16(~0, uuid, le32 group, desc without bg_checksum).
 */
export function groupDescCsum(
  opts: { metadataCsum: boolean; fsSeed: number; uuid: Uint8Array; descSize: number },
  group: number,
  desc: Uint8Array,
): number {
  const off = groupDesc64.offsetOf('bg_checksum');
  const g = le32(group);
  if (opts.metadataCsum) {
    let c = crc32cUpdate(opts.fsSeed, g);
    c = crc32cUpdate(c, desc, 0, off);
    c = crc32cUpdate(c, ZERO4, 0, 2);
    if (opts.descSize > off + 2) c = crc32cUpdate(c, desc, off + 2, opts.descSize);
    return c & 0xffff;
  }
  let c = crc16Update(0xffff, opts.uuid);
  c = crc16Update(c, g);
  c = crc16Update(c, desc, 0, off);
  if (opts.descSize > off + 2) c = crc16Update(c, desc, off + 2, opts.descSize);
  return c & 0xffff;
}

/** Block or inode bitmap checksum: crc32c(seed, bitmap bytes); `bytes` = clusters_per_group/8 or inodes_per_group/8. */
export function bitmapCsum(fsSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cUpdate(fsSeed, bitmap, 0, bytes) >>> 0;
}

/** Checksum of an extent tree block: crc32c(inode seed, block[0, 12 + 12*eh_max)). */
export function extentBlockCsum(inodeSeed: number, block: Uint8Array): number {
  const max = block[4]! | (block[5]! << 8);
  return crc32cUpdate(inodeSeed, block, 0, 12 + 12 * max) >>> 0;
}

/** Checksum of a leaf directory block: crc32c(inode seed, block[0, size-12)). */
export function dirBlockCsum(inodeSeed: number, block: Uint8Array): number {
  return crc32cUpdate(inodeSeed, block, 0, block.length - 12) >>> 0;
}

/**
 * Checksum of an htree root/node block: over the block up to the end of the
 * `count` used dx entries, then dt_reserved of the dx_tail at `tailOffset`
 * and four zero bytes in place of dt_checksum.
 */
export function dxBlockCsum(inodeSeed: number, block: Uint8Array, isRoot: boolean, tailOffset: number): number {
  const countOffset = isRoot ? DX_ROOT_COUNT_OFFSET : DX_NODE_COUNT_OFFSET;
  const count = block[countOffset + 2]! | (block[countOffset + 3]! << 8);
  let c = crc32cUpdate(inodeSeed, block, 0, countOffset + count * 8);
  c = crc32cUpdate(c, block, tailOffset, tailOffset + 4);
  c = crc32cUpdate(c, ZERO4);
  return c >>> 0;
}

/** Checksum of an external xattr block: crc32c(seed, le64 block number, block with h_checksum zeroed). */
export function xattrBlockCsum(fsSeed: number, blockNr: number, block: Uint8Array): number {
  let c = crc32cUpdate(fsSeed, le64(blockNr));
  c = crc32cUpdate(c, block, 0, 0x10);
  c = crc32cUpdate(c, ZERO4);
  c = crc32cUpdate(c, block, 0x14, block.length);
  return c >>> 0;
}

/** jbd2 superblock checksum (v2/v3): crc32c(~0, 1024 bytes with s_checksum zeroed). */
export function jbd2SuperblockCsum(sb: Uint8Array): number {
  let c = crc32cUpdate(0xffffffff, sb, 0, 0xfc);
  c = crc32cUpdate(c, ZERO4);
  c = crc32cUpdate(c, sb, 0x100, 1024);
  return c >>> 0;
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
