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
import { EXTENT_MAGIC, EXT_INIT_MAX_LEN, INODE_FLAGS } from './structs.js';
import { checksumError, extentBlockCsum } from './readcsum.js';

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

export const MAX_EXTENT_DEPTH = 5;

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
  const runs: Run[] = [];
  const visited = new Set<number>();
  let nextLogical = 0;
  let mapped = 0;
  const bs = src.blockSize;

  const visit = (
    buf: Uint8Array,
    capacity: number,
    expectedDepth: number | undefined,
    blockNr: number | undefined,
    minLogical: number,
    maxLogical: number,
  ): void => {
    const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    const where = blockNr === undefined ? 'i_block' : `block ${blockNr}`;
    const magic = v.getUint16(0, true);
    const entries = v.getUint16(2, true);
    const max = v.getUint16(4, true);
    const depth = v.getUint16(6, true);
    const err = (msg: string, extra: Record<string, unknown> = {}) =>
      mapError('E_FORMAT_EXTENT', `inode ${ino}: extent tree (${where}): ${msg}`, {
        structure: 'ext4_extent_header',
        inode: ino,
        ...(blockNr !== undefined ? { block: blockNr } : {}),
        ...extra,
      });
    if (magic !== EXTENT_MAGIC)
      throw err(`bad magic 0x${magic.toString(16)} (expected 0xf30a)`, { field: 'eh_magic', actual: magic });
    if (depth > MAX_EXTENT_DEPTH)
      throw err(`depth ${depth} exceeds the maximum of ${MAX_EXTENT_DEPTH}`, { field: 'eh_depth', actual: depth });
    if (expectedDepth !== undefined && depth !== expectedDepth)
      throw err(`depth ${depth}, its parent expects ${expectedDepth}`, {
        field: 'eh_depth',
        actual: depth,
        expected: expectedDepth,
      });
    if (max > capacity || entries > max)
      throw err(`${entries} entries, max ${max}, room for ${capacity}`, {
        field: 'eh_entries',
        actual: entries,
        expected: capacity,
      });
    if (blockNr !== undefined && src.verifyCsum) {
      const tail = 12 + max * 12;
      if (tail + 4 <= bs) {
        const stored = v.getUint32(tail, true);
        const actual = extentBlockCsum(inodeSeed, buf, tail);
        if (stored !== actual) throw checksumError('extent block', { inode: ino, block: blockNr }, stored, actual);
      }
    }
    if (depth === 0) {
      for (let i = 0; i < entries; i++) {
        const o = 12 + i * 12;
        const lblk = v.getUint32(o, true);
        let len = v.getUint16(o + 4, true);
        const unwritten = len > EXT_INIT_MAX_LEN;
        if (unwritten) len -= EXT_INIT_MAX_LEN;
        const start = v.getUint16(o + 6, true) * 0x100000000 + v.getUint32(o + 8, true);
        if (len === 0) throw err(`extent ${i} has length 0`, { field: 'ee_len' });
        if (lblk < nextLogical || lblk < minLogical || lblk + len > maxLogical)
          throw err(`extent ${i} (logical ${lblk}+${len}) overlaps or is out of order`, {
            field: 'ee_block',
            actual: lblk,
          });
        checkBlock(src, start, len, ino, 'extent');
        nextLogical = lblk + len;
        mapped += len;
        if (mapped > src.blocksCount) throw err(`maps more blocks than the filesystem has`);
        if (lblk >= limitBlocks) continue;
        pushRun(runs, lblk, start, Math.min(len, limitBlocks - lblk), unwritten);
      }
      return;
    }
    const childCap = Math.floor((bs - 12) / 12);
    for (let i = 0; i < entries; i++) {
      const o = 12 + i * 12;
      const lblk = v.getUint32(o, true);
      const child = v.getUint16(o + 8, true) * 0x100000000 + v.getUint32(o + 4, true);
      const nextStart = i + 1 < entries ? v.getUint32(o + 12, true) : maxLogical;
      if (lblk < minLogical || (nextStart <= lblk && i + 1 < entries))
        throw err(`index ${i} (logical ${lblk}) out of order`, { field: 'ei_block', actual: lblk });
      checkBlock(src, child, 1, ino, 'extent index');
      if (visited.has(child))
        throw mapError(
          'E_FORMAT_LOOP',
          `inode ${ino}: extent tree block ${child} is referenced twice (cycle or shared node)`,
          { structure: 'ext4_extent_idx', inode: ino, block: child },
        );
      visited.add(child);
      visit(src.readBlocks(child, 1), childCap, depth - 1, child, lblk, Math.min(nextStart, maxLogical));
    }
  };
  visit(iBlock, 4, undefined, undefined, 0, 0x100000000);
  return runs;
}

/** Runs of an ext2/3-style block-mapped file holding `nBlocks` logical blocks. */
export function blockMapRuns(src: MapSource, ino: number, iBlock: Uint8Array, nBlocks: number): Run[] {
  const runs: Run[] = [];
  const bs = src.blockSize;
  const per = bs / 4;
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
  for (let i = 0; i < 12 && i < nBlocks; i++) addData(i, iv.getUint32(i * 4, true));
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
      const p = v.getUint32(i * 4, true);
      if (level === 1) addData(ls, p);
      else walk(p, level - 1, ls);
    }
  };
  let start = 12;
  for (let level = 1; level <= 3; level++) {
    walk(iv.getUint32((11 + level) * 4, true), level, start);
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
