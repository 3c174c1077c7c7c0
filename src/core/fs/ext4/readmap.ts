/**
 * Logical-to-physical block maps for the ext4 reader: extent trees (any
 * depth, up to the kernel's limit of 5) and ext2/3 block maps (12 direct,
 * indirect, double and triple indirect). Both produce sorted, merged runs.
 *
 * Robustness: every tree block is read at most once per file (a cycle or a
 * shared interior block is an error), every block number is checked against
 * the filesystem size before it is read, headers are validated (magic,
 * entries <= max <= capacity, depth exactly parent - 1, depth <= 5), and the
 * total number of mapped blocks is bounded by the filesystem size, so a
 * forged map can cost at most one pass over the device.
 */
import { FormatError } from '../../errors.js';
import { checksumError, extentBlockCsum } from './csum.js';
import {
  BLOCK_NR_SIZE,
  EXTENT_MAGIC,
  EXT_INIT_MAX_LEN,
  INODE_FLAGS,
  I_BLOCK_SIZE,
  MAX_EXTENT_DEPTH,
  NDIR_BLOCKS,
  blockMapRoot,
  extentCapacity,
  extentEntryOffset,
  extentHeader,
  extentIndex,
  extentLeaf,
  extentTail,
} from './structs.js';

/** A run of file blocks: logical [logical, logical+length) stored at physical [physical, ...). */
export interface Run {
  logical: number;
  physical: number;
  length: number;
  /** Preallocated but never written: reads as zeros. */
  unwritten: boolean;
}

/** What block-map code needs from the filesystem. */
export interface MapSource {
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly firstDataBlock: number;
  /** Verify extent-block checksums. */
  readonly verifyCsum: boolean;
  /** Read `count` whole blocks starting at `block` (caller checked the range). */
  readBlocks(block: number, count: number): Uint8Array;
}

const EE_BLOCK = extentLeaf.offsetOf('ee_block');
const EE_LEN = extentLeaf.offsetOf('ee_len');
const EE_START_HI = extentLeaf.offsetOf('ee_start_hi');
const EE_START_LO = extentLeaf.offsetOf('ee_start_lo');
const EI_BLOCK = extentIndex.offsetOf('ei_block');
const EI_LEAF_LO = extentIndex.offsetOf('ei_leaf_lo');
const EI_LEAF_HI = extentIndex.offsetOf('ei_leaf_hi');
/** The three indirect levels of a block map, by level (1 = indirect). */
const INDIRECT_ROOTS = ['ind', 'dind', 'tind'] as const;

function mapError(code: string, msg: string, data: Record<string, unknown>): FormatError {
  return new FormatError(code, msg, { format: 'ext4', ...data });
}

function checkBlock(src: MapSource, block: number, count: number, ino: number, what: string): void {
  if (!(block >= src.firstDataBlock && count >= 1 && block + count <= src.blocksCount)) {
    throw mapError(
      'E_FORMAT_BLOCK_RANGE',
      `inode ${ino}: ${what} block ${block}${count > 1 ? ` (+${count})` : ''} lies outside the filesystem (${src.blocksCount} blocks)`,
      { structure: what, inode: ino, block, actual: block + count, expected: src.blocksCount },
    );
  }
}

function pushRun(runs: Run[], logical: number, physical: number, length: number, unwritten: boolean): void {
  const last = runs[runs.length - 1];
  if (
    last &&
    last.unwritten === unwritten &&
    last.logical + last.length === logical &&
    (unwritten || last.physical + last.length === physical)
  ) {
    last.length += length;
    return;
  }
  runs.push({ logical, physical, length, unwritten });
}

/** One node of an extent tree being visited: its bytes and what its parent allows. */
interface ExtentNode {
  buf: Uint8Array;
  /** Entries the node has room for. */
  capacity: number;
  /** The depth the parent's level requires (undefined at the root). */
  expectedDepth: number | undefined;
  /** Its block (undefined for the root in i_block). */
  blockNr: number | undefined;
  /** The logical range the parent's index entry covers. */
  minLogical: number;
  maxLogical: number;
}

/** A walk over one file's extent tree, collecting its runs. */
class ExtentWalk {
  readonly runs: Run[] = [];
  private readonly visited = new Set<number>();
  private nextLogical = 0;
  private mapped = 0;

  constructor(
    private readonly src: MapSource,
    private readonly ino: number,
    private readonly inodeSeed: number,
    private readonly limitBlocks: number,
  ) {}

  private err(n: ExtentNode, msg: string, extra: Record<string, unknown> = {}): FormatError {
    const where = n.blockNr === undefined ? 'i_block' : `block ${n.blockNr}`;
    return mapError('E_FORMAT_EXTENT', `inode ${this.ino}: extent tree (${where}): ${msg}`, {
      structure: 'ext4_extent_header',
      inode: this.ino,
      ...(n.blockNr !== undefined ? { block: n.blockNr } : {}),
      ...extra,
    });
  }

  /** Check a node's header (and its checksum); returns its entries and depth. */
  private header(n: ExtentNode): { entries: number; depth: number } {
    const { eh_magic: magic, eh_entries: entries, eh_max: max, eh_depth: depth } = extentHeader.decode(n.buf);
    if (magic !== EXTENT_MAGIC)
      throw this.err(n, `bad magic 0x${magic.toString(16)} (expected 0xf30a)`, { field: 'eh_magic', actual: magic });
    if (depth > MAX_EXTENT_DEPTH)
      throw this.err(n, `depth ${depth} exceeds the maximum of ${MAX_EXTENT_DEPTH}`, {
        field: 'eh_depth',
        actual: depth,
      });
    if (n.expectedDepth !== undefined && depth !== n.expectedDepth)
      throw this.err(n, `depth ${depth}, its parent expects ${n.expectedDepth}`, {
        field: 'eh_depth',
        actual: depth,
        expected: n.expectedDepth,
      });
    if (max > n.capacity || entries > max)
      throw this.err(n, `${entries} entries, max ${max}, room for ${n.capacity}`, {
        field: 'eh_entries',
        actual: entries,
        expected: n.capacity,
      });
    const tail = extentEntryOffset(max);
    if (n.blockNr !== undefined && this.src.verifyCsum && tail + extentTail.size <= this.src.blockSize) {
      const stored = extentTail.decode(n.buf, tail).et_checksum;
      const actual = extentBlockCsum(this.inodeSeed, n.buf, max);
      if (stored !== actual) throw checksumError('extent block', { inode: this.ino, block: n.blockNr }, stored, actual);
    }
    return { entries, depth };
  }

  visit(n: ExtentNode): void {
    const { entries, depth } = this.header(n);
    if (depth === 0) this.leaves(n, entries);
    else this.indexes(n, entries, depth);
  }

  private leaves(n: ExtentNode, entries: number): void {
    const v = new DataView(n.buf.buffer, n.buf.byteOffset, n.buf.byteLength);
    for (let i = 0; i < entries; i++) {
      const o = extentEntryOffset(i);
      const lblk = v.getUint32(o + EE_BLOCK, true);
      let len = v.getUint16(o + EE_LEN, true);
      const unwritten = len > EXT_INIT_MAX_LEN;
      if (unwritten) len -= EXT_INIT_MAX_LEN;
      const start = v.getUint16(o + EE_START_HI, true) * 0x100000000 + v.getUint32(o + EE_START_LO, true);
      if (len === 0) throw this.err(n, `extent ${i} has length 0`, { field: 'ee_len' });
      if (lblk < this.nextLogical || lblk < n.minLogical || lblk + len > n.maxLogical)
        throw this.err(n, `extent ${i} (logical ${lblk}+${len}) overlaps or is out of order`, {
          field: 'ee_block',
          actual: lblk,
        });
      checkBlock(this.src, start, len, this.ino, 'extent');
      this.nextLogical = lblk + len;
      this.mapped += len;
      if (this.mapped > this.src.blocksCount) throw this.err(n, `maps more blocks than the filesystem has`);
      if (lblk >= this.limitBlocks) continue;
      pushRun(this.runs, lblk, start, Math.min(len, this.limitBlocks - lblk), unwritten);
    }
  }

  private indexes(n: ExtentNode, entries: number, depth: number): void {
    const v = new DataView(n.buf.buffer, n.buf.byteOffset, n.buf.byteLength);
    const capacity = extentCapacity(this.src.blockSize);
    for (let i = 0; i < entries; i++) {
      const o = extentEntryOffset(i);
      const lblk = v.getUint32(o + EI_BLOCK, true);
      const child = v.getUint16(o + EI_LEAF_HI, true) * 0x100000000 + v.getUint32(o + EI_LEAF_LO, true);
      const nextStart = i + 1 < entries ? v.getUint32(extentEntryOffset(i + 1) + EI_BLOCK, true) : n.maxLogical;
      if (lblk < n.minLogical || (nextStart <= lblk && i + 1 < entries))
        throw this.err(n, `index ${i} (logical ${lblk}) out of order`, { field: 'ei_block', actual: lblk });
      checkBlock(this.src, child, 1, this.ino, 'extent index');
      if (this.visited.has(child))
        throw mapError(
          'E_FORMAT_LOOP',
          `inode ${this.ino}: extent tree block ${child} is referenced twice (cycle or shared node)`,
          { structure: 'ext4_extent_idx', inode: this.ino, block: child },
        );
      this.visited.add(child);
      this.visit({
        buf: this.src.readBlocks(child, 1),
        capacity,
        expectedDepth: depth - 1,
        blockNr: child,
        minLogical: lblk,
        maxLogical: Math.min(nextStart, n.maxLogical),
      });
    }
  }
}

/**
 * Runs of a file with EXTENTS_FL. `iBlock` is the 60-byte i_block;
 * `inodeSeed` is the inode checksum seed (used when src.verifyCsum).
 * Runs past `limitBlocks` (the file's size in blocks) are dropped.
 */
export function extentRuns(
  src: MapSource,
  ino: number,
  iBlock: Uint8Array,
  inodeSeed: number,
  limitBlocks: number,
): Run[] {
  const walk = new ExtentWalk(src, ino, inodeSeed, limitBlocks);
  const capacity = extentCapacity(I_BLOCK_SIZE);
  walk.visit({
    buf: iBlock,
    capacity,
    expectedDepth: undefined,
    blockNr: undefined,
    minLogical: 0,
    maxLogical: 2 ** 32,
  });
  return walk.runs;
}

/** Runs of an ext2/3-style block-mapped file holding `nBlocks` logical blocks. */
export function blockMapRuns(src: MapSource, ino: number, iBlock: Uint8Array, nBlocks: number): Run[] {
  const runs: Run[] = [];
  const bs = src.blockSize;
  const per = bs / BLOCK_NR_SIZE;
  const visited = new Set<number>();
  let mapped = 0;
  const iv = new DataView(iBlock.buffer, iBlock.byteOffset, iBlock.byteLength);
  const addData = (logical: number, phys: number) => {
    if (phys === 0) return; // hole
    checkBlock(src, phys, 1, ino, 'data');
    if (++mapped > src.blocksCount)
      throw mapError('E_FORMAT_BLOCKMAP', `inode ${ino}: block map maps more blocks than the filesystem has`, {
        structure: 'block map',
        inode: ino,
      });
    pushRun(runs, logical, phys, 1, false);
  };
  for (let i = 0; i < NDIR_BLOCKS && i < nBlocks; i++) addData(i, iv.getUint32(i * BLOCK_NR_SIZE, true));
  const walk = (blk: number, level: number, logicalStart: number): void => {
    if (blk === 0 || logicalStart >= nBlocks) return;
    checkBlock(src, blk, 1, ino, level === 1 ? 'indirect' : level === 2 ? 'double indirect' : 'triple indirect');
    if (visited.has(blk))
      throw mapError('E_FORMAT_LOOP', `inode ${ino}: indirect block ${blk} is referenced twice`, {
        structure: 'block map',
        inode: ino,
        block: blk,
      });
    visited.add(blk);
    const buf = src.readBlocks(blk, 1);
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const span = per ** (level - 1);
    for (let i = 0; i < per; i++) {
      const ls = logicalStart + i * span;
      if (ls >= nBlocks) break;
      const p = v.getUint32(i * BLOCK_NR_SIZE, true);
      if (level === 1) addData(ls, p);
      else walk(p, level - 1, ls);
    }
  };
  let start = NDIR_BLOCKS;
  for (let level = 1; level <= INDIRECT_ROOTS.length; level++) {
    walk(iv.getUint32(blockMapRoot.offsetOf(INDIRECT_ROOTS[level - 1]!), true), level, start);
    start += per ** level;
  }
  return runs;
}

/** The runs of an inode's data, by its flags. */
export function inodeRuns(
  src: MapSource,
  ino: number,
  flags: number,
  iBlock: Uint8Array,
  inodeSeed: number,
  size: number,
): Run[] {
  const nBlocks = Math.ceil(size / src.blockSize);
  if (flags & INODE_FLAGS.EXTENTS) return extentRuns(src, ino, iBlock, inodeSeed, nBlocks);
  return blockMapRuns(src, ino, iBlock, nBlocks);
}

/** Index of the first run ending after logical block `lblk` (runs sorted). */
export function findRun(runs: Run[], lblk: number): number {
  let lo = 0;
  let hi = runs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    const r = runs[mid]!;
    if (r.logical + r.length <= lblk) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
