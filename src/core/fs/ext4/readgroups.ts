/**
 * Reader, step two: the group descriptor table. Finds its blocks (after
 * the superblock, or one block per meta_bg group with meta_bg), decodes
 * every descriptor through the 32- or 64-byte table, checks each inode
 * table's place and the descriptor checksums, and (metadata_csum) the
 * bitmap checksums the descriptors hold.
 *
 * Checksum mismatches are warnings, not errors: the kernel mounts such a
 * filesystem read-only too. A descriptor whose checksum fails keeps what
 * the reader needs from it only where it is checked otherwise (its inode
 * table's place); its "never initialised" hints (INODE_UNINIT,
 * itable_unused) are dropped, as e2fsck drops them, so its whole inode
 * table is read as the kernel reads it. Bitmaps are never needed for
 * reading: a bad one is only reported.
 */
import type { BlockDevice } from '../../io/device.js';
import { bitmapCsum, groupDescCsum } from './csum.js';
import { ext4Error } from './error.js';
import { groupHasSuper } from './layout.js';
import type { Super } from './readsuper.js';
import {
  BG_BLOCK_UNINIT,
  BG_INODE_UNINIT,
  COMPAT,
  INCOMPAT,
  MIN_BLOCK_SIZE,
  RO_COMPAT,
  groupDesc32,
  groupDesc64,
} from './structs.js';

export interface Ext4Group {
  index: number;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  itableUnused: number;
  checksum: number;
}

/** Read one block, or undefined when it lies outside the filesystem. */
export type BlockRead = (block: number) => Uint8Array | undefined;

/** Groups listed in a warning (the rest are counted). */
const LIST_GROUPS = 8;

function groupList(groups: number[]): string {
  const shown = groups.slice(0, LIST_GROUPS).join(', ');
  return groups.length > LIST_GROUPS ? `${shown} and ${groups.length - LIST_GROUPS} more` : shown;
}

const U32 = 0x100000000;
const U16 = 0x10000;
const BITS_PER_BYTE = 8;
const CSUM_HI_BLOCK_END = groupDesc64.offsetOf('bg_block_bitmap_csum_hi') + 2;
const CSUM_HI_INODE_END = groupDesc64.offsetOf('bg_inode_bitmap_csum_hi') + 2;

/** Blocks of the descriptor table, read from where the superblock's features put them. */
function readTable(dev: BlockDevice, s: Super): Uint8Array {
  const { sb, blockSize: bs, firstDataBlock, blocksCount, features } = s;
  const perBlock = bs / s.descSize;
  const gdtBlocks = Math.ceil(s.groupCount / perBlock);
  const metaBg = (features.incompat & INCOMPAT.META_BG) !== 0;
  const sparse = (features.ro_compat & RO_COMPAT.SPARSE_SUPER) !== 0;
  const backups = features.compat & COMPAT.SPARSE_SUPER2 ? [sb.s_backup_bgs_0, sb.s_backup_bgs_1] : undefined;
  const gdt = new Uint8Array(gdtBlocks * bs);
  const firstMeta = metaBg ? Math.min(sb.s_first_meta_bg, gdtBlocks) : gdtBlocks;
  // the table follows the superblock's block (block 1 with 1 KiB blocks, even with bigalloc's first data block 0)
  const normalStart = (firstDataBlock === 0 && bs === MIN_BLOCK_SIZE ? 1 : firstDataBlock) + 1;
  const err = (msg: string, actual: number) =>
    ext4Error('E_FORMAT_SUPERBLOCK', `ext4 superblock: ${msg}`, {
      structure: 'ext4_super_block',
      field: 's_first_meta_bg',
      actual,
    });
  if (firstMeta > 0) {
    if (normalStart + firstMeta > blocksCount)
      throw err(`group descriptor table (${firstMeta} blocks) runs past the filesystem`, firstMeta);
    gdt.set(dev.readAt(normalStart * bs, firstMeta * bs), 0);
  }
  for (let i = firstMeta; i < gdtBlocks; i++) {
    const g = i * perBlock;
    const blk = firstDataBlock + g * s.blocksPerGroup + (groupHasSuper(g, sparse, backups) ? 1 : 0);
    if (blk >= blocksCount) throw err(`meta_bg descriptor block ${blk} lies outside the filesystem`, blk);
    gdt.set(dev.readAt(blk * bs, bs), i * bs);
  }
  return gdt;
}

type Desc32 = ReturnType<typeof groupDesc32.decode>;
type Desc64 = ReturnType<typeof groupDesc64.decode>;

/** Descriptor `g` as stored: the 32-byte fields, and the 64-byte ones when the filesystem is 64-bit. */
function rawGroup(gdt: Uint8Array, g: number, descSize: number, is64: boolean): { lo: Desc32; hi?: Desc64 } {
  const off = g * descSize;
  return { lo: groupDesc32.decode(gdt, off), ...(is64 ? { hi: groupDesc64.decode(gdt, off) } : {}) };
}

/** One descriptor, its _lo and _hi halves put together. */
function groupOf(g: number, lo: Desc32, hi: Desc64 | undefined): Ext4Group {
  const h = (n: Exclude<keyof Desc64, keyof Desc32>) => (hi ? hi[n] : 0);
  return {
    index: g,
    blockBitmap: lo.bg_block_bitmap_lo + h('bg_block_bitmap_hi') * U32,
    inodeBitmap: lo.bg_inode_bitmap_lo + h('bg_inode_bitmap_hi') * U32,
    inodeTable: lo.bg_inode_table_lo + h('bg_inode_table_hi') * U32,
    freeBlocks: lo.bg_free_blocks_count_lo + h('bg_free_blocks_count_hi') * U16,
    freeInodes: lo.bg_free_inodes_count_lo + h('bg_free_inodes_count_hi') * U16,
    usedDirs: lo.bg_used_dirs_count_lo + h('bg_used_dirs_count_hi') * U16,
    flags: lo.bg_flags,
    itableUnused: lo.bg_itable_unused_lo + h('bg_itable_unused_hi') * U16,
    checksum: lo.bg_checksum,
  };
}

function decodeGroup(gdt: Uint8Array, g: number, descSize: number, is64: boolean): Ext4Group {
  const { lo, hi } = rawGroup(gdt, g, descSize, is64);
  return groupOf(g, lo, hi);
}

/** The group descriptors, with what the inode reader needs per group kept in typed arrays. */
export class GroupTable {
  /** First block of each group's inode table. */
  readonly inodeTable: Float64Array;
  readonly flags: Uint16Array;
  /** Inodes at the end of each group's table never initialised (0 without group checksums). */
  readonly itableUnused: Uint32Array;
  private readonly gdt: Uint8Array;
  /** Groups whose descriptor fails its checksum. */
  private readonly untrusted = new Set<number>();

  constructor(
    dev: BlockDevice,
    private readonly s: Super,
    verify: boolean,
    private readonly warn: (message: string) => void,
  ) {
    this.gdt = readTable(dev, s);
    const groups = s.groupCount;
    this.inodeTable = new Float64Array(groups);
    this.flags = new Uint16Array(groups);
    this.itableUnused = new Uint32Array(groups);
    const itBlocks = Math.ceil(s.itableBytes / s.blockSize);
    const groupCsums = s.metadataCsum || s.gdtCsum;
    for (let g = 0; g < groups; g++) {
      const d = decodeGroup(this.gdt, g, s.descSize, s.is64);
      const it = d.inodeTable;
      if (it < s.firstDataBlock || it + itBlocks > s.blocksCount)
        throw ext4Error('E_FORMAT_BLOCK_RANGE', `group ${g}: inode table at block ${it} lies outside the filesystem`, {
          structure: 'ext4_group_desc',
          field: 'bg_inode_table',
          group: g,
          block: it,
        });
      this.inodeTable[g] = it;
      const trusted = !(verify && groupCsums) || this.descriptorOk(g, d.checksum);
      if (!trusted) this.untrusted.add(g);
      this.flags[g] = trusted ? d.flags : 0;
      this.itableUnused[g] = groupCsums && trusted ? Math.min(d.itableUnused, s.inodesPerGroup) : 0;
    }
    const bad = [...this.untrusted];
    if (bad.length)
      this.warn(
        `group descriptor checksum mismatch in ${bad.length} group(s) (${groupList(bad)}): their inode tables ` +
          `are read whole, as the kernel reads them (e2fsck repairs the descriptors)`,
      );
  }

  private descriptorOk(g: number, stored: number): boolean {
    const { descSize, metadataCsum, fsSeed, sb } = this.s;
    const off = g * descSize;
    const desc = this.gdt.subarray(off, off + descSize);
    return stored === groupDescCsum({ metadataCsum, fsSeed, uuid: sb.s_uuid, descSize }, g, desc);
  }

  /** Group descriptor fields, for inspect tools. */
  group(g: number): Ext4Group {
    if (!Number.isInteger(g) || g < 0 || g >= this.s.groupCount)
      throw ext4Error('E_FORMAT_RANGE', `group ${g} does not exist (${this.s.groupCount} groups)`, { group: g });
    return decodeGroup(this.gdt, g, this.s.descSize, this.s.is64);
  }

  /**
   * Check the block and inode bitmap checksums of every initialised group
   * (metadata_csum). Reading never uses bitmaps, so a mismatch (or a bitmap
   * outside the filesystem) is reported, not refused.
   */
  verifyBitmaps(read: BlockRead): void {
    const s = this.s;
    const bad = { 'block bitmap': [] as number[], 'inode bitmap': [] as number[] };
    for (let g = 0; g < s.groupCount; g++) {
      const { lo, hi } = rawGroup(this.gdt, g, s.descSize, s.is64);
      const d = groupOf(g, lo, hi);
      // the high checksum halves exist when the descriptor reaches them (64-bit descriptors)
      const blockHi = hi && s.descSize >= CSUM_HI_BLOCK_END ? hi.bg_block_bitmap_csum_hi : undefined;
      const inodeHi = hi && s.descSize >= CSUM_HI_INODE_END ? hi.bg_inode_bitmap_csum_hi : undefined;
      // a descriptor that fails its own checksum says nothing reliable about its bitmaps
      if (this.untrusted.has(g)) continue;
      const flags = d.flags;
      if (!(flags & BG_BLOCK_UNINIT)) {
        const stored = lo.bg_block_bitmap_csum_lo + (blockHi ?? 0) * U16;
        if (!this.bitmapOk(read, d.blockBitmap, s.clustersPerGroup, stored, blockHi !== undefined))
          bad['block bitmap'].push(g);
      }
      if (!(flags & BG_INODE_UNINIT)) {
        const stored = lo.bg_inode_bitmap_csum_lo + (inodeHi ?? 0) * U16;
        if (!this.bitmapOk(read, d.inodeBitmap, s.inodesPerGroup, stored, inodeHi !== undefined))
          bad['inode bitmap'].push(g);
      }
    }
    for (const [what, groups] of Object.entries(bad))
      if (groups.length)
        this.warn(
          `${what} checksum mismatch in ${groups.length} group(s) (${groupList(groups)}): reading does not use ` +
            `bitmaps (e2fsck repairs them)`,
        );
  }

  private bitmapOk(read: BlockRead, blk: number, bits: number, stored: number, full: boolean): boolean {
    const bm = read(blk);
    if (!bm) return false;
    const c = bitmapCsum(this.s.fsSeed, bm, bits / BITS_PER_BYTE);
    return stored === (full ? c : c & 0xffff);
  }
}
