/**
 * Directory blocks for the writer: linear blocks (with a checksum tail under
 * metadata_csum) and hash-tree (dir_index) directories with one or two index
 * levels (Documentation/filesystems/ext4/directory.rst). Blocks are built by
 * logical number; checksums need the directory's inode seed.
 */
import { CapacityError } from '../../errors.js';
import { dirBlockCsum, dxBlockCsum } from './csum.js';
import { dirHash } from './hash.js';
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

/** A directory entry to write: the name as a string with its UTF-8 length (encoded into the block when written). */
export interface DirEnt {
  name: string;
  /** UTF-8 bytes of `name`. */
  len: number;
  ino: number;
  ft: number;
}

const enc = new TextEncoder();
/** Names are at most 255 bytes; hashing encodes each into this scratch buffer. */
const NAME_SCRATCH = new Uint8Array(1024);

/** Write `e.name` as UTF-8 at `at` in `b` (ASCII without the encoder). */
function putName(b: Uint8Array, at: number, e: DirEnt): void {
  const s = e.name;
  if (s.length === e.len) {
    for (let i = 0; i < s.length; i++) b[at + i] = s.charCodeAt(i);
    return;
  }
  enc.encodeInto(s, b.subarray(at, at + e.len));
}

/** The UTF-8 bytes of an entry's name, in a scratch buffer valid until the next call. */
function nameBytes(e: DirEnt): Uint8Array {
  putName(NAME_SCRATCH, 0, e);
  return NAME_SCRATCH.subarray(0, e.len);
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

function putEntry(b: Uint8Array, off: number, e: DirEnt, recLen: number): void {
  dirEntry.encode({ inode: e.ino, rec_len: recLen, name_len: e.len, file_type: e.ft }, b, off);
  putName(b, off + dirEntry.size, e);
}

function finishLeaf(b: Uint8Array, csum: boolean, seed: number): void {
  if (!csum) return;
  // the checksum covers the block before the tail
  dirTail.encode(
    {
      det_reserved_zero1: 0,
      det_rec_len: DIR_TAIL_SIZE,
      det_reserved_zero2: 0,
      det_reserved_ft: DIR_TAIL_FT,
      det_checksum: dirBlockCsum(seed, b, DIR_TAIL_SIZE),
    },
    b,
    b.length - DIR_TAIL_SIZE,
  );
}

/** Pack entries into leaf blocks, in order. Each block's last entry stretches to the end (or the tail). */
function packLeaves(
  ents: DirEnt[],
  B: number,
  csum: boolean,
  seed: number,
  firstHashes?: number[],
  hashes?: number[],
): Uint8Array[] {
  const space = B - (csum ? DIR_TAIL_SIZE : 0);
  const out: Uint8Array[] = [];
  let b: Uint8Array | undefined;
  let off = 0;
  let lastOff = -1;
  let last: DirEnt | undefined;
  const close = () => {
    if (!b) return;
    if (last) putEntry(b, lastOff, last, space - lastOff);
    finishLeaf(b, csum, seed);
    out.push(b);
    b = undefined;
  };
  for (let i = 0; i < ents.length; i++) {
    const e = ents[i]!;
    const need = dirRecLen(e.len);
    if (b && off + need > space) close();
    if (!b) {
      b = new Uint8Array(B);
      off = 0;
      last = undefined;
      if (firstHashes && hashes) {
        let h = hashes[i]!;
        if (i > 0 && hashes[i - 1] === h) h = (h | 1) >>> 0; // hash collision continues from the previous block
        firstHashes.push(h);
      }
    }
    if (last) putEntry(b, lastOff, last, off - lastOff);
    lastOff = off;
    last = e;
    off += need;
  }
  close();
  return out;
}

/** An empty leaf block: one unused entry covering the block. */
function emptyLeaf(B: number, csum: boolean, seed: number): Uint8Array {
  const b = new Uint8Array(B);
  dirEntry.encode({ inode: 0, rec_len: B - (csum ? DIR_TAIL_SIZE : 0), name_len: 0, file_type: 0 }, b, 0);
  finishLeaf(b, csum, seed);
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
function buildHtree(
  dot: DirEnt,
  dotdot: DirEnt,
  entries: DirEnt[],
  o: DirBuildOpts,
  seed: number,
  where: Where,
): DirBlocks {
  const B = o.blockSize;
  const hashed = byHash(entries, o);
  const firstHashes: number[] = [];
  const hashes = hashed.map((x) => x.h.hash);
  const leaves = packLeaves(
    hashed.map((x) => x.e),
    B,
    o.csum,
    seed,
    firstHashes,
    hashes,
  );
  const csumSeed = o.csum ? seed : undefined;
  const { rootLimit, nodeLimit } = htreeLimits(o);
  const nodes = Array.from({ length: htreeNodes(leaves.length, o, entries.length, where) }, (_, j) => {
    const i = j * nodeLimit;
    return { first: i, leaves: Array.from({ length: Math.min(nodeLimit, leaves.length - i) }, (_, k) => i + k) };
  });
  const leafBase = 1 + nodes.length;
  const root = dxRootBlock(dot.ino, dotdot.ino, dot.ft, nodes.length ? 1 : 0, o);
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

/** Leaf blocks `ents` (in this order) take when packed like packLeaves does, without building them. */
function countLeaves(lengths: ArrayLike<number>, B: number, csum: boolean): number {
  const space = B - (csum ? DIR_TAIL_SIZE : 0);
  let blocks = 0;
  let off = space; // no open block
  for (let i = 0; i < lengths.length; i++) {
    const need = dirRecLen(lengths[i]!);
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

/** The entries in htree order: by name hash, then minor hash. */
function byHash(entries: DirEnt[], o: DirBuildOpts): Array<{ e: DirEnt; h: { hash: number; minor: number } }> {
  const version = o.hashVersion + (o.unsignedHash ? 3 : 0);
  const hashed = entries.map((e) => ({ e, h: dirHash(nameBytes(e), version, o.seed) }));
  hashed.sort((a, b) => a.h.hash - b.h.hash || a.h.minor - b.h.minor);
  return hashed;
}

/** Whether the entries (with '.' and '..') overflow one block and the filesystem indexes directories. */
function needsHtree(entries: DirEnt[], o: DirBuildOpts): boolean {
  const space = o.blockSize - (o.csum ? DIR_TAIL_SIZE : 0);
  let total = dirRecLen(DOT.length) + dirRecLen(DOTDOT.length);
  for (const e of entries) total += dirRecLen(e.len);
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
export function dirBlockCount(entries: DirEnt[], o: DirBuildOpts, where: Where): number {
  const B = o.blockSize;
  if (needsHtree(entries, o)) {
    const leaves = countLeaves(
      byHash(entries, o).map((x) => x.e.len),
      B,
      o.csum,
    );
    return 1 + htreeNodes(leaves, o, entries.length, where) + leaves;
  }
  const lengths = [DOT.length, DOTDOT.length, ...entries.map((e) => e.len)];
  return Math.max(o.minBlocks ?? 1, countLeaves(lengths, B, o.csum));
}

/**
 * Build the blocks of a directory with inode `ino` (parent `parent`), the
 * entries sorted by name. `seed` is the directory's inode checksum seed.
 */
export function buildDir(
  ino: number,
  parent: number,
  entries: DirEnt[],
  o: DirBuildOpts,
  seed: number,
  where: Where,
): DirBlocks {
  const B = o.blockSize;
  const dirFt = o.fileType === false ? 0 : FT.dir;
  const dot: DirEnt = { name: '.', len: DOT.length, ino, ft: dirFt };
  const dotdot: DirEnt = { name: '..', len: DOTDOT.length, ino: parent, ft: dirFt };
  if (needsHtree(entries, o)) return buildHtree(dot, dotdot, entries, o, seed, where);
  const blocks = packLeaves([dot, dotdot, ...entries], B, o.csum, seed);
  while (blocks.length < (o.minBlocks ?? 1)) blocks.push(emptyLeaf(B, o.csum, seed));
  return { blocks, indexed: false };
}
