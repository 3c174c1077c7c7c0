/**
 * Directory blocks for the writer: linear blocks (with a checksum tail under
 * metadata_csum) and hash-tree (dir_index) directories with one or two index
 * levels (Documentation/filesystems/ext4/directory.rst). Blocks are built by
 * logical number; checksums need the directory's inode seed.
 */
import { putU16le, putU32le } from '../../binary/bytes.js';
import { CapacityError } from '../../errors.js';
import { dirBlockCsum, dxBlockCsum } from './csum.js';
import { dirHashInto } from './hash.js';
import {
  DIR_TAIL_FT,
  DIR_TAIL_SIZE,
  DX_NODE_COUNT_OFFSET,
  DX_ROOT_COUNT_OFFSET,
  DX_ROOT_INFO_LENGTH,
  FT,
  dirEntry,
  dirRecLen,
  dirTail,
  dxCountLimit,
  dxEntry,
  dxNode,
  dxRoot,
  dxTail,
} from './structs.js';
import { pathAt, type Where } from './where.js';

const DOT = Uint8Array.of(0x2e);
const DOTDOT = Uint8Array.of(0x2e, 0x2e);

/**
 * The entries of a directory to write, in name order, as parallel arrays (no
 * object per entry): the names as strings (encoded into the block when
 * written) with their UTF-8 lengths, inode numbers and file types. `inos`
 * and `fts` may be left empty when only the block count is wanted.
 */
export interface DirList {
  names: readonly string[];
  /** UTF-8 bytes of each name. */
  lens: Uint16Array;
  inos: Uint32Array;
  fts: Uint8Array;
}

const enc = new TextEncoder();
/** Names are at most 255 bytes; hashing encodes each into this scratch buffer. */
const NAME_SCRATCH = new Uint8Array(1024);

/** Write `s` (of `len` UTF-8 bytes) at `at` in `b` (ASCII without the encoder). */
function putName(b: Uint8Array, at: number, s: string, len: number): void {
  if (s.length === len) {
    for (let i = 0; i < len; i++) b[at + i] = s.charCodeAt(i);
    return;
  }
  enc.encodeInto(s, b.subarray(at, at + len));
}

/** The UTF-8 bytes of entry `i`'s name, in a scratch buffer valid until the next call. */
function nameBytes(l: DirList, i: number): Uint8Array {
  const len = l.lens[i]!;
  putName(NAME_SCRATCH, 0, l.names[i]!, len);
  return NAME_SCRATCH.subarray(0, len);
}

export interface DirBuildOpts {
  blockSize: number;
  csum: boolean;
  /** dir_index enabled: build an htree when more than one block is needed. */
  dirIndex: boolean;
  /** htree hash version stored in dx_root (DX_HASH.half_md4 etc., the signed one). */
  hashVersion: number;
  /** Add 3 when hashing (unsigned-char variant, s_flags UNSIGNED_HASH). */
  unsignedHash: boolean;
  seed: Uint32Array;
  /** Minimum number of blocks (lost+found is pre-sized). */
  minBlocks?: number;
  /** filetype feature: '.' and '..' carry the directory type (else 0). */
  fileType?: boolean;
}

export interface DirBlocks {
  blocks: Uint8Array[];
  indexed: boolean;
}

const DE_INODE = dirEntry.offsetOf('inode');
const DE_REC_LEN = dirEntry.offsetOf('rec_len');
const DE_NAME_LEN = dirEntry.offsetOf('name_len');
const DE_FILE_TYPE = dirEntry.offsetOf('file_type');

/** One ext4_dir_entry_2 and its name, stored byte by byte (as dirEntry.encode would, without a record per entry). */
function putEntry(
  b: Uint8Array,
  off: number,
  ino: number,
  recLen: number,
  name: string,
  len: number,
  ft: number,
): void {
  putU32le(b, off + DE_INODE, ino);
  putU16le(b, off + DE_REC_LEN, recLen);
  b[off + DE_NAME_LEN] = len & 0xff;
  b[off + DE_FILE_TYPE] = ft & 0xff;
  putName(b, off + dirEntry.size, name, len);
}

const DT_REC_LEN = dirTail.offsetOf('det_rec_len');
const DT_FT = dirTail.offsetOf('det_reserved_ft');
const DT_CSUM = dirTail.offsetOf('det_checksum');

/** The tail of a leaf whose entries end at `used` (zeros after them), stored byte by byte (its zero fields are zero already). */
function finishLeaf(b: Uint8Array, csum: boolean, seed: number, used: number): void {
  if (!csum) return;
  // the checksum covers the block before the tail
  const c = dirBlockCsum(seed, b, DIR_TAIL_SIZE, used);
  const t = b.length - DIR_TAIL_SIZE;
  putU16le(b, t + DT_REC_LEN, DIR_TAIL_SIZE);
  b[t + DT_FT] = DIR_TAIL_FT;
  putU32le(b, t + DT_CSUM, c);
}

/** '.' and '..' ahead of the entries of a linear directory. */
interface Dots {
  ino: number;
  parent: number;
  ft: number;
}

/**
 * Pack entries into leaf blocks: '.' and '..' first when `dots` is given,
 * then the entries in `order` (indices into `l`; all of them in name order
 * when undefined). Each block's last entry stretches to the end (or the
 * tail). With `hashes` (by position in `order`), the first hash of each
 * block goes to `firstHashes`.
 */
function packLeaves(
  l: DirList,
  order: ArrayLike<number> | undefined,
  dots: Dots | undefined,
  B: number,
  csum: boolean,
  seed: number,
  firstHashes?: number[],
  hashes?: ArrayLike<number>,
): Uint8Array[] {
  const space = B - (csum ? DIR_TAIL_SIZE : 0);
  const out: Uint8Array[] = [];
  const d = dots ? 2 : 0;
  const total = d + l.names.length;
  let b: Uint8Array | undefined;
  let off = 0;
  let lastOff = -1;
  let last = -1; // position of the entry written when the next one comes (or the block closes)
  const put = (blk: Uint8Array, at: number, k: number, recLen: number) => {
    if (k < d) {
      const dd = dots!;
      putEntry(blk, at, k === 0 ? dd.ino : dd.parent, recLen, k === 0 ? '.' : '..', k + 1, dd.ft);
      return;
    }
    const i = order ? order[k - d]! : k - d;
    putEntry(blk, at, l.inos[i]!, recLen, l.names[i]!, l.lens[i]!, l.fts[i]!);
  };
  // where the last entry's name ends: zeros follow up to the tail
  const usedEnd = (at: number, k: number) =>
    at + dirEntry.size + (k < 0 ? 0 : k < d ? k + 1 : l.lens[order ? order[k - d]! : k - d]!);
  for (let k = 0; k < total; k++) {
    const len = k < d ? k + 1 : l.lens[order ? order[k - d]! : k - d]!;
    const need = dirRecLen(len);
    if (b && off + need > space) {
      if (last >= 0) put(b, lastOff, last, space - lastOff);
      finishLeaf(b, csum, seed, usedEnd(lastOff, last));
      out.push(b);
      b = undefined;
    }
    if (!b) {
      b = new Uint8Array(B);
      off = 0;
      last = -1;
      if (firstHashes && hashes) {
        const i = k - d;
        let h = hashes[i]!;
        if (i > 0 && hashes[i - 1] === h) h = (h | 1) >>> 0; // hash collision continues from the previous block
        firstHashes.push(h);
      }
    }
    if (last >= 0) put(b, lastOff, last, off - lastOff);
    lastOff = off;
    last = k;
    off += need;
  }
  if (b) {
    if (last >= 0) put(b, lastOff, last, space - lastOff);
    finishLeaf(b, csum, seed, usedEnd(lastOff, last));
    out.push(b);
  }
  return out;
}

/** An empty leaf block: one unused entry covering the block. */
function emptyLeaf(B: number, csum: boolean, seed: number): Uint8Array {
  const b = new Uint8Array(B);
  dirEntry.encode({ inode: 0, rec_len: B - (csum ? DIR_TAIL_SIZE : 0), name_len: 0, file_type: 0 }, b, 0);
  finishLeaf(b, csum, seed, dirEntry.size);
  return b;
}

type DxList = Array<{ hash: number; block: number }>;

/** The dx_countlimit and dx entries of an htree root or node, then its dx_tail checksum (metadata_csum). */
function putDxEntries(
  b: Uint8Array,
  countOff: number,
  limit: number,
  list: DxList,
  csumSeed: number | undefined,
): void {
  dxCountLimit.encode({ limit, count: list.length, block: list[0]!.block }, b, countOff);
  for (let i = 1; i < list.length; i++)
    dxEntry.encode({ hash: list[i]!.hash, block: list[i]!.block }, b, countOff + i * dxEntry.size);
  if (csumSeed === undefined) return;
  const t = countOff + limit * dxEntry.size;
  dxTail.encode({ dt_reserved: 0, dt_checksum: 0 }, b, t);
  dxTail.encode({ dt_checksum: dxBlockCsum(csumSeed, b, countOff, list.length, t) }, b, t);
}

/** dx_root: '.' and '..' as one fake record pair, then dx_root_info. */
function dxRootBlock(ino: number, parent: number, dirFt: number, levels: number, o: DirBuildOpts): Uint8Array {
  const root = new Uint8Array(o.blockSize);
  dxRoot.encode(
    {
      dot_inode: ino,
      dot_rec_len: dirRecLen(DOT.length),
      dot_name_len: DOT.length,
      dot_file_type: dirFt,
      dot_name: DOT,
      dotdot_inode: parent,
      dotdot_rec_len: o.blockSize - dirRecLen(DOT.length),
      dotdot_name_len: DOTDOT.length,
      dotdot_file_type: dirFt,
      dotdot_name: DOTDOT,
      reserved_zero: 0,
      hash_version: o.hashVersion,
      info_length: DX_ROOT_INFO_LENGTH,
      indirect_levels: levels,
      unused_flags: 0,
    },
    root,
    0,
  );
  return root;
}

/**
 * An htree directory: entries sorted by hash and packed into leaves, indexed
 * by the root (one level) or by interior nodes under it (two levels).
 * Logical layout: block 0 the root, 1..N the index nodes, then the leaves.
 */
function buildHtree(dots: Dots, l: DirList, o: DirBuildOpts, seed: number, where: Where): DirBlocks {
  const B = o.blockSize;
  const { order, hashes } = byHash(l, o);
  const firstHashes: number[] = [];
  const leaves = packLeaves(l, order, undefined, B, o.csum, seed, firstHashes, hashes);
  const csumSeed = o.csum ? seed : undefined;
  const { rootLimit, nodeLimit } = htreeLimits(o);
  const nodes = Array.from({ length: htreeNodes(leaves.length, o, l.names.length, where) }, (_, j) => {
    const i = j * nodeLimit;
    return { first: i, leaves: Array.from({ length: Math.min(nodeLimit, leaves.length - i) }, (_, k) => i + k) };
  });
  const leafBase = 1 + nodes.length;
  const root = dxRootBlock(dots.ino, dots.parent, dots.ft, nodes.length ? 1 : 0, o);
  const rootList = nodes.length
    ? nodes.map((n, i) => ({ hash: firstHashes[n.first]!, block: 1 + i }))
    : leaves.map((_, i) => ({ hash: firstHashes[i]!, block: leafBase + i }));
  putDxEntries(root, DX_ROOT_COUNT_OFFSET, rootLimit, rootList, csumSeed);
  const blocks: Uint8Array[] = [root];
  for (const n of nodes) {
    const b = new Uint8Array(B);
    dxNode.encode({ fake_inode: 0, fake_rec_len: B, fake_name_len: 0, fake_file_type: 0 }, b, 0);
    const list = n.leaves.map((li) => ({ hash: firstHashes[li]!, block: leafBase + li }));
    putDxEntries(b, DX_NODE_COUNT_OFFSET, nodeLimit, list, csumSeed);
    blocks.push(b);
  }
  blocks.push(...leaves);
  return { blocks, indexed: true };
}

/** Leaf blocks the entries take when packed like packLeaves does, without building them: '.' and '..' first with `dots`, then `order` (all in name order when undefined). */
function countLeaves(
  lens: Uint16Array,
  order: ArrayLike<number> | undefined,
  dots: boolean,
  B: number,
  csum: boolean,
): number {
  const space = B - (csum ? DIR_TAIL_SIZE : 0);
  let blocks = 0;
  let off = space; // no open block
  const d = dots ? 2 : 0;
  const total = d + lens.length;
  for (let k = 0; k < total; k++) {
    const need = dirRecLen(k < d ? k + 1 : lens[order ? order[k - d]! : k - d]!);
    if (off + need > space) {
      blocks++;
      off = 0;
    }
    off += need;
  }
  return blocks;
}

/** How many dx entries the htree root and an index node hold. */
function htreeLimits(o: DirBuildOpts): { rootLimit: number; nodeLimit: number } {
  const tail = o.csum ? dxTail.size : 0;
  return {
    rootLimit: Math.floor((o.blockSize - DX_ROOT_COUNT_OFFSET - tail) / dxEntry.size),
    nodeLimit: Math.floor((o.blockSize - DX_NODE_COUNT_OFFSET - tail) / dxEntry.size),
  };
}

/**
 * The entries in htree order (by name hash, then minor hash, then name
 * order): their indices, and their hashes in that order.
 */
function byHash(l: DirList, o: DirBuildOpts): { order: Uint32Array; hashes: Uint32Array } {
  const version = o.hashVersion + (o.unsignedHash ? 3 : 0);
  const n = l.names.length;
  const hash = new Uint32Array(n);
  const minor = new Uint32Array(n);
  const out = new Uint32Array(2);
  for (let i = 0; i < n; i++) {
    dirHashInto(nameBytes(l, i), version, o.seed, out);
    hash[i] = out[0]!;
    minor[i] = out[1]!;
  }
  const idx: number[] = new Array<number>(n);
  for (let i = 0; i < n; i++) idx[i] = i;
  idx.sort((a, b) => hash[a]! - hash[b]! || minor[a]! - minor[b]! || a - b);
  const order = Uint32Array.from(idx);
  const hashes = new Uint32Array(n);
  for (let k = 0; k < n; k++) hashes[k] = hash[order[k]!]!;
  return { order, hashes };
}

/** Whether the entries (with '.' and '..') overflow one block and the filesystem indexes directories. */
function needsHtree(l: DirList, o: DirBuildOpts): boolean {
  const space = o.blockSize - (o.csum ? DIR_TAIL_SIZE : 0);
  let total = dirRecLen(1) + dirRecLen(2);
  const lens = l.lens;
  for (let i = 0; i < lens.length; i++) total += dirRecLen(lens[i]!);
  return total > space && o.dirIndex;
}

/** The index node count of an htree over `leaves` leaves (0: the root indexes them); throws past two levels. */
function htreeNodes(leaves: number, o: DirBuildOpts, entries: number, where: Where): number {
  const B = o.blockSize;
  const { rootLimit, nodeLimit } = htreeLimits(o);
  if (leaves <= rootLimit) return 0;
  const nodes = Math.ceil(leaves / nodeLimit);
  if (nodes > rootLimit) {
    const path = pathAt(where);
    throw new CapacityError(
      'E_LIMIT_DIR_SIZE',
      `directory ${path} has ${entries} entries: more than a 2-level htree holds at block size ${B} (large_dir is not supported)`,
      { path, actual: entries },
    );
  }
  return nodes;
}

/**
 * The number of blocks `buildDir` makes for these entries, computed from the
 * name lengths (and, for an htree, the name hashes) without building them:
 * the plan sizes every directory this way and builds it only when writing.
 */
export function dirBlockCount(l: DirList, o: DirBuildOpts, where: Where): number {
  const B = o.blockSize;
  if (needsHtree(l, o)) {
    const leaves = countLeaves(l.lens, byHash(l, o).order, false, B, o.csum);
    return 1 + htreeNodes(leaves, o, l.names.length, where) + leaves;
  }
  return Math.max(o.minBlocks ?? 1, countLeaves(l.lens, undefined, true, B, o.csum));
}

/**
 * Build the blocks of a directory with inode `ino` (parent `parent`), the
 * entries sorted by name. `seed` is the directory's inode checksum seed.
 */
export function buildDir(
  ino: number,
  parent: number,
  l: DirList,
  o: DirBuildOpts,
  seed: number,
  where: Where,
): DirBlocks {
  const B = o.blockSize;
  const dots: Dots = { ino, parent, ft: o.fileType === false ? 0 : FT.dir };
  if (needsHtree(l, o)) return buildHtree(dots, l, o, seed, where);
  const blocks = packLeaves(l, undefined, dots, B, o.csum, seed);
  while (blocks.length < (o.minBlocks ?? 1)) blocks.push(emptyLeaf(B, o.csum, seed));
  return { blocks, indexed: false };
}
