/**
 * Block mapping for the writer: turn a file's (logical -> physical) runs into
 * an extent tree (ext4) or a classic block map with indirect, double and
 * triple indirect blocks (ext2/ext3). Tree/indirect blocks are taken from
 * `alloc` and returned with their contents for the caller to write.
 */
import { putU16le, putU32le } from '../../binary/bytes.js';
import { CapacityError } from '../../errors.js';
import { extentBlockCsum } from './csum.js';
import {
  BLOCK_NR_SIZE,
  EXTENT_MAGIC,
  EXT_INIT_MAX_LEN,
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
import { pathAt, type Where } from './where.js';

/** Extents (or index entries) i_block holds. */
const ROOT_CAPACITY = extentCapacity(I_BLOCK_SIZE);
const IND = blockMapRoot.offsetOf('ind');
const DIND = blockMapRoot.offsetOf('dind');
const TIND = blockMapRoot.offsetOf('tind');

/** A contiguous mapping: `len` blocks from logical `lblk` at physical `pblk`. */
export interface Run {
  lblk: number;
  pblk: number;
  len: number;
}

export interface Mapped {
  /** The 60-byte i_block (extentTree: a shared buffer, valid until its next call). */
  iblock: Uint8Array;
  /** Tree or indirect blocks to write: [physical block, bytes]. */
  meta: Array<[number, Uint8Array]>;
}

/** Append block (lblk -> pblk) to runs, extending the last run when contiguous. */
export function addBlock(runs: Run[], lblk: number, pblk: number, maxLen = EXT_INIT_MAX_LEN): void {
  const r = runs[runs.length - 1];
  if (r && r.lblk + r.len === lblk && r.pblk + r.len === pblk && r.len < maxLen) r.len++;
  else runs.push({ lblk, pblk, len: 1 });
}

/** Append a range of contiguous blocks. */
export function addRange(runs: Run[], lblk: number, pblk: number, len: number, maxLen = EXT_INIT_MAX_LEN): void {
  while (len > 0) {
    const r = runs[runs.length - 1];
    if (r && r.lblk + r.len === lblk && r.pblk + r.len === pblk && r.len < maxLen) {
      const n = Math.min(len, maxLen - r.len);
      r.len += n;
      lblk += n;
      pblk += n;
      len -= n;
    } else {
      const n = Math.min(len, maxLen);
      runs.push({ lblk, pblk, len: n });
      lblk += n;
      pblk += n;
      len -= n;
    }
  }
}

function writeLeaf(b: Uint8Array, off: number, r: Run): void {
  extentLeaf.encode(
    { ee_block: r.lblk, ee_len: r.len, ee_start_hi: Math.floor(r.pblk / 0x100000000), ee_start_lo: r.pblk >>> 0 },
    b,
    off,
  );
}
function writeIndex(b: Uint8Array, off: number, lblk: number, pblk: number): void {
  extentIndex.encode(
    { ei_block: lblk, ei_leaf_lo: pblk >>> 0, ei_leaf_hi: Math.floor(pblk / 0x100000000), ei_unused: 0 },
    b,
    off,
  );
}

/** extentTree's i_block: one buffer for every call (no allocation per inode). */
const ROOT = new Uint8Array(I_BLOCK_SIZE);
/** What extentTree returns when i_block holds every extent (nothing else to write). */
const ROOT_ONLY: Mapped = { iblock: ROOT, meta: [] };
const EH_MAGIC = extentHeader.offsetOf('eh_magic');
const EH_ENTRIES = extentHeader.offsetOf('eh_entries');
const EH_MAX = extentHeader.offsetOf('eh_max');
const EE_BLOCK = extentLeaf.offsetOf('ee_block');
const EE_LEN = extentLeaf.offsetOf('ee_len');
const EE_START_HI = extentLeaf.offsetOf('ee_start_hi');
const EE_START_LO = extentLeaf.offsetOf('ee_start_lo');

/**
 * Extent tree. `inodeSeed` (or undefined without metadata_csum) checksums
 * tree blocks. The i_block returned is shared: copy it before the next call.
 */
export function extentTree(runs: Run[], blockSize: number, alloc: () => number, inodeSeed: number | undefined): Mapped {
  const iblock = ROOT.fill(0);
  if (runs.length <= ROOT_CAPACITY) {
    // the common case (every small file): the header and its leaves stored byte by byte, no record per field
    putU16le(iblock, EH_MAGIC, EXTENT_MAGIC);
    putU16le(iblock, EH_ENTRIES, runs.length);
    putU16le(iblock, EH_MAX, ROOT_CAPACITY);
    for (let i = 0; i < runs.length; i++) {
      const r = runs[i]!;
      const off = extentEntryOffset(i);
      putU32le(iblock, off + EE_BLOCK, r.lblk);
      putU16le(iblock, off + EE_LEN, r.len);
      putU16le(iblock, off + EE_START_HI, Math.floor(r.pblk / 0x100000000));
      putU32le(iblock, off + EE_START_LO, r.pblk);
    }
    return ROOT_ONLY;
  }
  const meta: Array<[number, Uint8Array]> = [];
  const per = extentCapacity(blockSize);
  // level: list of (first logical block, writer of the entry into a node)
  let level: Array<{ lblk: number; put: (b: Uint8Array, off: number) => void }> = runs.map((r) => ({
    lblk: r.lblk,
    put: (b, off) => writeLeaf(b, off, r),
  }));
  let depth = 0;
  while (level.length > ROOT_CAPACITY) {
    const next: typeof level = [];
    for (let i = 0; i < level.length; i += per) {
      const chunk = level.slice(i, i + per);
      const b = new Uint8Array(blockSize);
      extentHeader.encode(
        { eh_magic: EXTENT_MAGIC, eh_entries: chunk.length, eh_max: per, eh_depth: depth, eh_generation: 0 },
        b,
        0,
      );
      chunk.forEach((e, k) => e.put(b, extentEntryOffset(k)));
      if (inodeSeed !== undefined)
        extentTail.encode({ et_checksum: extentBlockCsum(inodeSeed, b, per) }, b, extentEntryOffset(per));
      const pblk = alloc();
      meta.push([pblk, b]);
      const first = chunk[0]!.lblk;
      next.push({ lblk: first, put: (nb, off) => writeIndex(nb, off, first, pblk) });
    }
    level = next;
    depth++;
    if (depth > MAX_EXTENT_DEPTH)
      throw new CapacityError('E_LIMIT_EXTENTS', `extent tree deeper than ${MAX_EXTENT_DEPTH} levels`, {});
  }
  extentHeader.encode(
    { eh_magic: EXTENT_MAGIC, eh_entries: level.length, eh_max: ROOT_CAPACITY, eh_depth: depth, eh_generation: 0 },
    iblock,
    0,
  );
  level.forEach((e, k) => e.put(iblock, extentEntryOffset(k)));
  return { iblock, meta };
}

/** Upper bound of extent tree blocks for `extents` extents. */
export function extentTreeBlocks(extents: number, blockSize: number): number {
  if (extents <= ROOT_CAPACITY) return 0;
  const per = extentCapacity(blockSize);
  let n = 0;
  let level = extents;
  while (level > ROOT_CAPACITY) {
    level = Math.ceil(level / per);
    n += level;
  }
  return n;
}

/** Classic block map (direct, indirect, double, triple indirect). */
export function blockMap(runs: Run[], blockSize: number, alloc: () => number, where: Where): Mapped {
  const P = blockSize / BLOCK_NR_SIZE;
  const iblock = new Uint8Array(I_BLOCK_SIZE);
  const idv = new DataView(iblock.buffer);
  const meta: Array<[number, Uint8Array]> = [];
  const nodes = new Map<string, { pblk: number; arr: DataView }>();
  const node = (key: string, setParent: (pblk: number) => void) => {
    let n = nodes.get(key);
    if (!n) {
      const b = new Uint8Array(blockSize);
      n = { pblk: alloc(), arr: new DataView(b.buffer) };
      nodes.set(key, n);
      meta.push([n.pblk, b]);
      setParent(n.pblk);
    }
    return n;
  };
  const limit = NDIR_BLOCKS + P + P * P + P * P * P;
  const word = (i: number) => i * BLOCK_NR_SIZE;
  for (const r of runs) {
    for (let k = 0; k < r.len; k++) {
      const l = r.lblk + k;
      const p = r.pblk + k;
      if (l < NDIR_BLOCKS) {
        idv.setUint32(word(l), p, true);
        continue;
      }
      if (l >= limit) {
        const path = pathAt(where);
        throw new CapacityError(
          'E_LIMIT_FILE_SIZE',
          `${path} is too large for a block-mapped file at block size ${blockSize}`,
          { path },
        );
      }
      let x = l - NDIR_BLOCKS;
      if (x < P) {
        node('S', (b) => idv.setUint32(IND, b, true)).arr.setUint32(word(x), p, true);
        continue;
      }
      x -= P;
      if (x < P * P) {
        const d = node('D', (b) => idv.setUint32(DIND, b, true));
        const i = Math.floor(x / P);
        node(`D/${i}`, (b) => d.arr.setUint32(word(i), b, true)).arr.setUint32(word(x % P), p, true);
        continue;
      }
      x -= P * P;
      const t = node('T', (b) => idv.setUint32(TIND, b, true));
      const i = Math.floor(x / (P * P));
      const j = Math.floor(x / P) % P;
      const t1 = node(`T/${i}`, (b) => t.arr.setUint32(word(i), b, true));
      node(`T/${i}/${j}`, (b) => t1.arr.setUint32(word(j), b, true)).arr.setUint32(word(x % P), p, true);
    }
  }
  return { iblock, meta };
}

/** Upper bound of indirect blocks for a file spanning `lastLblk + 1` logical blocks with `blocks` mapped. */
export function blockMapBlocks(blocks: number, lastLblk: number, blockSize: number): number {
  if (lastLblk < NDIR_BLOCKS) return 0;
  const P = blockSize / BLOCK_NR_SIZE;
  const n = Math.max(0, Math.min(blocks, lastLblk + 1) - NDIR_BLOCKS);
  return Math.ceil(n / P) + Math.ceil(n / (P * P)) + Math.ceil(n / (P * P * P)) + 3;
}
