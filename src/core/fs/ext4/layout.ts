/**
 * Filesystem geometry: block groups, inodes per group, group descriptor
 * table size, which groups carry superblock backups (sparse_super: 0, 1 and
 * powers of 3, 5, 7), and the per-group metadata overhead.
 */
import { CapacityError } from '../../errors.js';
import type { Config } from './options.js';
import { MIN_BLOCK_SIZE, groupDesc32, groupDesc64 } from './structs.js';

export interface Geometry {
  B: number;
  blocks: number;
  firstData: number;
  bpg: number;
  groups: number;
  ipg: number;
  inodes: number;
  inodeSize: number;
  descSize: number;
  gdtBlocks: number;
  itableBlocks: number;
  flexSize: number;
  /** Metadata blocks in total (superblocks, GDTs, bitmaps, inode tables, block 0 on 1 KiB filesystems). */
  overhead: number;
  journalBlocks: number;
}

function isPow(n: number, b: number): boolean {
  while (n > 1 && n % b === 0) n /= b;
  return n === 1;
}

/**
 * Whether group `g` holds a superblock (the primary or a backup) and a copy
 * of the group descriptor table: every group without sparse_super; with it
 * groups 0, 1 and the powers of 3, 5 and 7; with sparse_super2 group 0 and
 * the two groups in s_backup_bgs.
 */
export function groupHasSuper(g: number, sparse: boolean, backups?: readonly number[]): boolean {
  if (g === 0) return true;
  if (backups) return backups.includes(g);
  return !sparse || g === 1 || isPow(g, 3) || isPow(g, 5) || isPow(g, 7);
}

export function hasSuper(cfg: Config, g: number): boolean {
  return groupHasSuper(g, cfg.has('sparse_super'));
}

/** mke2fs's default journal size for a filesystem of `blocks` blocks (0 = too small for one). */
export function defaultJournalBlocks(blocks: number): number {
  if (blocks < 2048) return 0;
  if (blocks < 32768) return 1024;
  if (blocks < 256 * 1024) return 4096;
  if (blocks < 512 * 1024) return 8192;
  if (blocks < 4096 * 1024) return 16384;
  if (blocks < 8192 * 1024) return 32768;
  if (blocks < 16384 * 1024) return 65536;
  if (blocks < 32768 * 1024) return 131072;
  return 262144;
}

/**
 * Geometry for a filesystem of `blocks` blocks that must hold at least
 * `minInodes` inodes. May drop a too-small last group (blocks shrinks).
 */
export function geometry(cfg: Config, blocksIn: number, minInodes: number): Geometry {
  const B = cfg.blockSize;
  const firstData = B === MIN_BLOCK_SIZE ? 1 : 0;
  const bpg = 8 * B;
  const descSize = cfg.has('64bit') ? groupDesc64.size : groupDesc32.size;
  const ipb = B / cfg.inodeSize;
  let blocks = Math.floor(blocksIn);
  if (!cfg.has('64bit') && blocks > 0xffffffff) blocks = 0xffffffff;
  if (blocks < 64)
    throw new CapacityError('E_SPACE_FS', `an ext filesystem needs at least 64 blocks (${64 * B} bytes)`, {
      expected: 64 * B,
      actual: blocks * B,
    });
  for (let attempt = 0; attempt < 3; attempt++) {
    const groups = Math.ceil((blocks - firstData) / bpg);
    const wanted = Math.max(cfg.inodes ?? Math.floor((blocks * B) / cfg.bytesPerInode), minInodes, 16);
    const align = Math.max(8, ipb);
    let ipg = Math.ceil(wanted / groups / align) * align;
    const maxIpg = Math.min(8 * B, 65536 - ipb);
    if (ipg > maxIpg) {
      if (minInodes > maxIpg * groups) {
        throw new CapacityError(
          'E_SPACE_INODES',
          `${minInodes} inodes do not fit in ${groups} block groups at block size ${B}; a bigger filesystem is needed`,
          { expected: minInodes, actual: maxIpg * groups },
        );
      }
      ipg = Math.floor(maxIpg / align) * align;
    }
    const itableBlocks = (ipg * cfg.inodeSize) / B;
    const gdtBlocks = Math.ceil((groups * descSize) / B);
    let overhead = firstData;
    for (let g = 0; g < groups; g++) overhead += (hasSuper(cfg, g) ? 1 + gdtBlocks : 0) + 2 + itableBlocks;
    // a last group too small for its own metadata plus some data is dropped (as mke2fs does)
    const lastSize = blocks - firstData - (groups - 1) * bpg;
    const lastOwn = (hasSuper(cfg, groups - 1) ? 1 + gdtBlocks : 0) + 2 + itableBlocks;
    if (groups > 1 && lastSize < lastOwn + 50) {
      blocks -= lastSize;
      continue;
    }
    if (groups === 1 && lastSize < lastOwn + 16) {
      throw new CapacityError(
        'E_SPACE_FS',
        `${blocks} blocks are too few for the filesystem metadata (${lastOwn} blocks)`,
        { expected: (lastOwn + 16) * B, actual: blocks * B },
      );
    }
    const journalBlocks = cfg.has('has_journal') ? (cfg.journalBlocks ?? defaultJournalBlocks(blocks)) : 0;
    return {
      B,
      blocks,
      firstData,
      bpg,
      groups,
      ipg,
      inodes: ipg * groups,
      inodeSize: cfg.inodeSize,
      descSize,
      gdtBlocks,
      itableBlocks,
      flexSize: cfg.has('flex_bg') ? 16 : 1,
      overhead,
      journalBlocks,
    };
  }
  throw new CapacityError('E_SPACE_FS', `cannot lay out ${blocksIn} blocks`, { actual: blocksIn * B });
}
