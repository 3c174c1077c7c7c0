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

export interface DirEnt {
  name: Uint8Array;
  ino: number;
  ft: number;
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
  dirEntry.encode({ inode: e.ino, rec_len: recLen, name_len: e.name.length, file_type: e.ft }, b, off);
  b.set(e.name, off + 8);
}

function finishLeaf(b: Uint8Array, csum: boolean, seed: number): void {
  if (!csum) return;
  const t = b.length - DIR_TAIL_SIZE;
  dirTail.encode(
    {
      det_reserved_zero1: 0,
      det_rec_len: DIR_TAIL_SIZE,
      det_reserved_zero2: 0,
      det_reserved_ft: DIR_TAIL_FT,
      det_checksum: 0,
    },
    b,
    t,
  );
  new DataView(b.buffer, b.byteOffset).setUint32(t + 8, dirBlockCsum(seed, b), true);
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
    const need = dirRecLen(e.name.length);
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
  path: string,
): DirBlocks {
  const B = o.blockSize;
  const dirFt = o.fileType === false ? 0 : FT.dir;
  const dot: DirEnt = { name: Uint8Array.of(0x2e), ino, ft: dirFt };
  const dotdot: DirEnt = { name: Uint8Array.of(0x2e, 0x2e), ino: parent, ft: dirFt };
  const space = B - (o.csum ? DIR_TAIL_SIZE : 0);
  let total = 24;
  for (const e of entries) total += dirRecLen(e.name.length);
  if (total <= space || !o.dirIndex) {
    const blocks = packLeaves([dot, dotdot, ...entries], B, o.csum, seed);
    while (blocks.length < (o.minBlocks ?? 1)) blocks.push(emptyLeaf(B, o.csum, seed));
    return { blocks, indexed: false };
  }
  // htree: sort by hash, pack leaves, index them.
  const version = o.hashVersion + (o.unsignedHash ? 3 : 0);
  const hashed = entries.map((e) => ({ e, h: dirHash(e.name, version, o.seed) }));
  hashed.sort((a, b) => a.h.hash - b.h.hash || a.h.minor - b.h.minor);
  const firstHashes: number[] = [];
  const leaves = packLeaves(
    hashed.map((x) => x.e),
    B,
    o.csum,
    seed,
    firstHashes,
    hashed.map((x) => x.h.hash),
  );
  const tail = o.csum ? 8 : 0;
  const rootLimit = Math.floor((B - 32 - tail) / 8);
  const nodeLimit = Math.floor((B - 8 - tail) / 8);
  let levels = 0;
  let nodes: Array<{ first: number; leaves: number[] }> = [];
  if (leaves.length > rootLimit) {
    levels = 1;
    for (let i = 0; i < leaves.length; i += nodeLimit)
      nodes.push({ first: i, leaves: Array.from({ length: Math.min(nodeLimit, leaves.length - i) }, (_, k) => i + k) });
    if (nodes.length > rootLimit) {
      throw new CapacityError(
        'E_LIMIT_DIR_SIZE',
        `directory ${path} has ${entries.length} entries: more than a 2-level htree holds at block size ${B} (large_dir is not supported)`,
        { path, actual: entries.length },
      );
    }
  } else {
    nodes = [];
  }
  // logical layout: 0 root, 1..N index nodes, then leaves
  const leafBase = 1 + nodes.length;
  const blocks: Uint8Array[] = [];
  const writeEntries = (
    b: Uint8Array,
    countOff: number,
    limit: number,
    list: Array<{ hash: number; block: number }>,
    isRoot: boolean,
  ) => {
    dxCountLimit.encode({ limit, count: list.length, block: list[0]!.block }, b, countOff);
    for (let i = 1; i < list.length; i++)
      dxEntry.encode({ hash: list[i]!.hash, block: list[i]!.block }, b, countOff + i * 8);
    if (o.csum) {
      const t = countOff + limit * 8;
      dxTail.encode({ dt_reserved: 0, dt_checksum: 0 }, b, t);
      new DataView(b.buffer, b.byteOffset).setUint32(t + 4, dxBlockCsum(seed, b, isRoot, t), true);
    }
  };
  const root = new Uint8Array(B);
  dxRoot.encode(
    {
      dot_inode: ino,
      dot_rec_len: 12,
      dot_name_len: 1,
      dot_file_type: dirFt,
      dot_name: Uint8Array.of(0x2e, 0, 0, 0),
      dotdot_inode: parent,
      dotdot_rec_len: B - 12,
      dotdot_name_len: 2,
      dotdot_file_type: dirFt,
      dotdot_name: Uint8Array.of(0x2e, 0x2e, 0, 0),
      reserved_zero: 0,
      hash_version: o.hashVersion,
      info_length: 8,
      indirect_levels: levels,
      unused_flags: 0,
    },
    root,
    0,
  );
  if (levels === 0) {
    writeEntries(
      root,
      DX_ROOT_COUNT_OFFSET,
      rootLimit,
      leaves.map((_, i) => ({ hash: firstHashes[i]!, block: leafBase + i })),
      true,
    );
    blocks.push(root);
  } else {
    writeEntries(
      root,
      DX_ROOT_COUNT_OFFSET,
      rootLimit,
      nodes.map((n, i) => ({ hash: firstHashes[n.first]!, block: 1 + i })),
      true,
    );
    blocks.push(root);
    for (const n of nodes) {
      const b = new Uint8Array(B);
      dxNode.encode({ fake_inode: 0, fake_rec_len: B, fake_name_len: 0, fake_file_type: 0 }, b, 0);
      writeEntries(
        b,
        DX_NODE_COUNT_OFFSET,
        nodeLimit,
        n.leaves.map((li) => ({ hash: firstHashes[li]!, block: leafBase + li })),
        false,
      );
      blocks.push(b);
    }
  }
  blocks.push(...leaves);
  return { blocks, indexed: true };
}
