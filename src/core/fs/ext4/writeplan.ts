/**
 * Writer, step one: the plan. Walks the tree once, numbers the inodes
 * (root 2, lost+found 11, then directories depth-first in name order),
 * builds every directory's blocks, places xattrs, decides what is stored
 * inline, and bounds the blocks each inode needs, all before the size of the
 * filesystem is known. Nothing is written here; file contents are not read
 * (except the few bytes of inline-data files).
 */
import { CapacityError, HostIOError, PathError, UsageError } from '../../errors.js';
import { compareNames } from '../../tree/path.js';
import type { FileTree } from '../../tree/tree.js';
import type { NodeType, Timespec, TreeNode } from '../../tree/types.js';
import { fsCsumSeed, inodeCsumSeed } from './csum.js';
import { buildDir, type DirBuildOpts, type DirEnt } from './dir.js';
import { encodeDevice } from './fields.js';
import { seedWords } from './hash.js';
import { blockMapBlocks, extentTreeBlocks, type Run } from './map.js';
import type { Config } from './options.js';
import {
  BLOCK_NR_SIZE,
  EXTRA_ISIZE,
  EXT_INIT_MAX_LEN,
  FIRST_INO,
  FT,
  GOOD_OLD_INODE_SIZE,
  INLINE_DATA_NAME,
  INLINE_DATA_XATTR,
  INODE_FLAGS,
  I_BLOCK_SIZE,
  NAME_MAX,
  NDIR_BLOCKS,
  ROOT_INO,
  XATTR_END_SIZE,
  XATTR_INDEX,
  xattrIbodyHeader,
} from './structs.js';
import { entryLen, placeXattrs, xattrEntries, type XEntry } from './xattr.js';

export interface Meta {
  mode: number;
  uid: number;
  gid: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
}

/** One inode of the plan, filled in step by step. */
export interface Rec {
  ino: number;
  type: NodeType;
  node: TreeNode | undefined;
  meta: Meta;
  path: string;
  links: number;
  // directories
  entries?: DirEnt[];
  parent?: number;
  subdirs?: number;
  /** Blocks to write for the inode, in logical order (directory blocks, a slow symlink's target). */
  dirBlocks?: Uint8Array[];
  indexed?: boolean;
  // xattrs
  xin?: XEntry[];
  xblock?: XEntry[];
  /** Upper bound of blocks for data + mapping metadata (files), exact for dirs/symlinks. */
  est: number;
  // results
  size: number;
  iblock: Uint8Array;
  flags: number;
  blocks: number;
  fileAcl: number;
  runs?: Run[];
  /** Regular file stored inline (inline_data): i_block + system.data. */
  inline?: boolean;
}

export interface Plan {
  cfg: Config;
  recs: Rec[]; // recs[ino]
  usedInodes: number; // highest inode number used
  contentBlocks: number; // upper bound of non-metadata blocks (without journal)
  dataBytes: number;
  fsSeed: number;
}

const enc = new TextEncoder();

const FTYPE: Record<NodeType, number> = {
  file: FT.file,
  dir: FT.dir,
  chardev: FT.chardev,
  blockdev: FT.blockdev,
  fifo: FT.fifo,
  socket: FT.socket,
  symlink: FT.symlink,
};

/** Subdirectories beyond which i_links_count says 1 (dir_nlink), as the kernel does. */
const LINK_MAX = 65000;
/** lost+found is pre-sized like mke2fs's: 16 KiB, at least 2 and at most 12 blocks. */
const LPF_BYTES = 16384;
const LPF_MIN_BLOCKS = 2;
const LPF_MAX_BLOCKS = 12;

/** A fresh record for inode `ino`. */
export function newRec(ino: number, type: NodeType, node: TreeNode | undefined, meta: Meta, path: string): Rec {
  return {
    ino,
    type,
    node,
    meta,
    path,
    links: 0,
    est: 0,
    size: 0,
    iblock: new Uint8Array(I_BLOCK_SIZE),
    flags: 0,
    blocks: 0,
    fileAcl: 0,
  };
}

function metaOf(n: TreeNode): Meta {
  return { mode: n.mode, uid: n.uid, gid: n.gid, atime: n.atime, mtime: n.mtime, ctime: n.ctime };
}

function asDir(r: Rec, parent: number): void {
  r.parent = parent;
  r.entries = [];
  r.subdirs = 0;
}

/** Upper bound of data + mapping blocks of a file (`ranges`: its data ranges, when known). */
function fileBlocksEstimate(
  cfg: Config,
  size: number,
  ranges: Array<[number, number]> | undefined,
  bpg: number,
): number {
  const B = cfg.blockSize;
  let data = 0;
  let pieces = 1;
  let last = -1;
  if (ranges) {
    pieces = 0;
    let prevEnd = -1;
    for (const [s, e] of ranges) {
      if (e <= s) continue;
      let a = Math.floor(s / B);
      const b = Math.ceil(e / B) - 1;
      if (a <= prevEnd) a = prevEnd + 1;
      if (b >= a) {
        data += b - a + 1;
        pieces++;
        prevEnd = b;
        last = b;
      }
    }
  } else {
    data = Math.ceil(size / B);
    last = data - 1;
  }
  if (data === 0) return 0;
  if (cfg.has('extent')) {
    // metadata regions split runs: at most one split per group spanned, plus pieces and 32768-block limits
    const extents = pieces + Math.floor(data / EXT_INIT_MAX_LEN) + 1 + Math.floor(data / (bpg / 2));
    return data + extentTreeBlocks(extents, B);
  }
  return data + blockMapBlocks(data, last, B) + (ranges ? 3 * pieces : 0);
}

/** Root and lost+found (inode 11, made when the tree has none). */
function reservedDirs(tree: FileTree, cfg: Config, recs: Rec[], byNode: Map<TreeNode, Rec>) {
  const epochT: Timespec = { sec: cfg.epoch, nsec: 0 };
  const add = (r: Rec) => {
    recs[r.ino] = r;
    if (r.node) byNode.set(r.node, r);
    return r;
  };
  const root = add(newRec(ROOT_INO, 'dir', tree.root, metaOf(tree.root), '/'));
  asDir(root, ROOT_INO);
  const lpfNode = tree.root.children.get('lost+found');
  if (lpfNode && lpfNode.type !== 'dir')
    throw new PathError(
      'E_PATH_LOST_FOUND',
      '/lost+found exists in the tree but is not a directory; ext needs it to be one',
      {
        path: '/lost+found',
      },
    );
  const lpfMeta = lpfNode
    ? metaOf(lpfNode)
    : { mode: 0o700, uid: 0, gid: 0, atime: epochT, mtime: epochT, ctime: epochT };
  const lpf = add(newRec(FIRST_INO, 'dir', lpfNode, lpfMeta, '/lost+found'));
  asDir(lpf, ROOT_INO);
  if (!lpfNode) {
    root.entries!.push({ name: enc.encode('lost+found'), ino: FIRST_INO, ft: cfg.has('filetype') ? FT.dir : 0 });
    root.subdirs!++;
    lpf.links = 1;
  }
  return { root, lpf, lpfInTree: lpfNode !== undefined };
}

/** Number the inodes: every directory's entries in name order, depth first. Returns the next free inode. */
function numberInodes(tree: FileTree, cfg: Config, recs: Rec[]): number {
  const byNode = new Map<TreeNode, Rec>();
  const { root, lpf, lpfInTree } = reservedDirs(tree, cfg, recs, byNode);
  let next = FIRST_INO + 1;
  const stack: Rec[] = [root];
  if (!lpfInTree) stack.push(lpf);
  while (stack.length) {
    const d = stack.pop()!;
    if (!d.node) continue;
    const dn = d.node as Extract<TreeNode, { type: 'dir' }>;
    const subdirs: Rec[] = [];
    const named = [...dn.children.keys()].sort(compareNames).map((name) => ({ name, bytes: enc.encode(name) }));
    for (const { name, bytes: nb } of named) {
      const child = dn.children.get(name)!;
      const path = d.path === '/' ? `/${name}` : `${d.path}/${name}`;
      let r = byNode.get(child);
      if (r && child.type === 'dir' && !(r === lpf && d === root && r.links === 0)) {
        throw new PathError(
          'E_PATH_DIR_LINK',
          `directory ${path} appears twice in the tree (directories cannot be hard links)`,
          { path },
        );
      }
      if (!r) {
        r = newRec(next++, child.type, child, metaOf(child), path);
        recs[r.ino] = r;
        byNode.set(child, r);
      }
      r.links++;
      if (nb.length > NAME_MAX)
        throw new PathError('E_PATH_NAME_TOO_LONG', `name ${path} is longer than ${NAME_MAX} bytes`, { path });
      d.entries!.push({ name: nb, ino: r.ino, ft: cfg.has('filetype') ? FTYPE[child.type] : 0 });
      if (child.type === 'dir') {
        asDir(r, d.ino);
        d.subdirs!++;
        subdirs.push(r);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  root.links = 1;
  return next;
}

/** Split the node's xattrs between the inode and a block; true when a block is needed. */
function planXattrs(r: Rec, cfg: Config, ibodySpace: number): boolean {
  const node = r.node;
  if (!node || !node.xattrs.size) return false;
  if (!cfg.has('ext_attr'))
    throw new UsageError('E_USAGE_FEATURE', `${r.path} has extended attributes but the ext_attr feature is off`, {
      path: r.path,
    });
  const p = placeXattrs(xattrEntries(node.xattrs, r.path), ibodySpace, cfg.blockSize, r.path);
  r.xin = p.inode;
  r.xblock = p.block;
  return p.block.length > 0;
}

function planDir(r: Rec, cfg: Config, fsSeed: number, dirOpts: DirBuildOpts, bpgGuess: number): void {
  const B = cfg.blockSize;
  const seed = inodeCsumSeed(fsSeed, r.ino, 0);
  const minBlocks = r.ino === FIRST_INO ? Math.min(LPF_MAX_BLOCKS, Math.max(LPF_MIN_BLOCKS, LPF_BYTES / B)) : 1;
  const built = buildDir(r.ino, r.parent!, r.entries!, { ...dirOpts, minBlocks }, seed, r.path);
  r.dirBlocks = built.blocks;
  r.indexed = built.indexed;
  r.entries = undefined; // free memory
  const n = built.blocks.length;
  r.est =
    n +
    (cfg.has('extent')
      ? extentTreeBlocks(Math.floor(n / EXT_INIT_MAX_LEN) + 2 + Math.floor(n / (bpgGuess / 2)), B)
      : blockMapBlocks(n, n - 1, B));
  r.size = n * B;
  const nl = 2 + r.subdirs!;
  r.links = nl > LINK_MAX && cfg.has('dir_nlink') ? 1 : nl;
  if (nl > LINK_MAX && !cfg.has('dir_nlink'))
    throw new CapacityError(
      'E_LIMIT_SUBDIRS',
      `${r.path} has ${r.subdirs} subdirectories; more than ${LINK_MAX - 2} need the dir_nlink feature`,
      { path: r.path },
    );
}

/** The whole content of a small file (for inline data). */
function readSmall(c: Extract<TreeNode, { type: 'file' }>['content'], path: string): Uint8Array {
  let data: Uint8Array;
  if (c.readInto) {
    const b = new Uint8Array(c.size);
    data = b.subarray(0, c.readInto(0, b));
  } else data = c.readAt!(0, c.size);
  if (data.length !== c.size)
    throw new HostIOError('E_IO_CONTENT_SIZE', `${path}: content returned ${data.length} bytes, declared ${c.size}`, {
      path,
    });
  return data;
}

/**
 * Bytes of inline data beyond i_block: what the in-inode xattr area holds
 * after its header, one system.data entry and the end marker.
 */
function inlineXattrRoom(inodeSize: number): number {
  const area = inodeSize - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE;
  const entry = entryLen({
    index: XATTR_INDEX.SYSTEM,
    name: enc.encode(INLINE_DATA_NAME),
    value: new Uint8Array(0),
    full: '',
  });
  return area - xattrIbodyHeader.size - entry - XATTR_END_SIZE;
}

/** Plan a regular file; returns the bytes of data it will write. */
function planFile(r: Rec, cfg: Config, bpgGuess: number, inlineMax: number): number {
  const B = cfg.blockSize;
  const node = r.node as Extract<TreeNode, { type: 'file' }>;
  const c = node.content;
  r.size = c.size;
  if (c.size > 0xffffffff && !cfg.has('large_file'))
    throw new CapacityError(
      'E_LIMIT_FILE_SIZE',
      `${r.path} is ${c.size} bytes; files above 4 GiB need the large_file feature`,
      {
        path: r.path,
      },
    );
  const P = B / BLOCK_NR_SIZE;
  const maxBlocks = cfg.has('extent') ? 2 ** 32 : NDIR_BLOCKS + P + P ** 2 + P ** 3;
  if (Math.ceil(c.size / B) > maxBlocks)
    throw new CapacityError(
      'E_LIMIT_FILE_SIZE',
      `${r.path} is ${c.size} bytes, more than ext holds at block size ${B}`,
      {
        path: r.path,
      },
    );
  // inline_data: small files live in i_block (60 bytes) + the system.data xattr
  if (
    cfg.has('inline_data') &&
    c.size > 0 &&
    c.size <= inlineMax &&
    node.xattrs.size === 0 &&
    (c.readInto || c.readAt)
  ) {
    const data = readSmall(c, r.path);
    r.inline = true;
    r.flags |= INODE_FLAGS.INLINE_DATA;
    r.iblock.set(data.subarray(0, I_BLOCK_SIZE));
    const value = data.slice(I_BLOCK_SIZE);
    r.xin = [{ index: XATTR_INDEX.SYSTEM, name: enc.encode(INLINE_DATA_NAME), value, full: INLINE_DATA_XATTR }];
    return 0;
  }
  const ranges = c.dataRanges?.();
  r.est = fileBlocksEstimate(cfg, c.size, ranges, bpgGuess);
  return ranges ? ranges.reduce((s, [a, b]) => s + Math.max(0, b - a), 0) : c.size;
}

function planSymlink(r: Rec, B: number): void {
  const t = enc.encode((r.node as Extract<TreeNode, { type: 'symlink' }>).target);
  r.size = t.length;
  if (t.length < I_BLOCK_SIZE) {
    r.iblock.set(t);
    return;
  }
  if (t.length >= B)
    throw new CapacityError(
      'E_LIMIT_SYMLINK',
      `symlink ${r.path}: target is ${t.length} bytes; at block size ${B} the limit is ${B - 1}`,
      { path: r.path },
    );
  const block = new Uint8Array(B);
  block.set(t);
  r.dirBlocks = [block];
  r.est = 1;
}

/** Per-inode storage: xattrs, directory blocks, inline data, symlink targets, device numbers, block estimates. */
function planStorage(recs: Rec[], cfg: Config, fsSeed: number): { content: number; dataBytes: number } {
  const B = cfg.blockSize;
  const dirOpts: DirBuildOpts = {
    blockSize: B,
    csum: cfg.has('metadata_csum'),
    dirIndex: cfg.has('dir_index'),
    hashVersion: cfg.hashVersion,
    unsignedHash: true,
    fileType: cfg.has('filetype'),
    seed: seedWords(cfg.hashSeed),
  };
  const ibodySpace = cfg.inodeSize > GOOD_OLD_INODE_SIZE ? cfg.inodeSize - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE : 0;
  const bpgGuess = 8 * B;
  const inlineMax = I_BLOCK_SIZE + inlineXattrRoom(cfg.inodeSize);
  let content = 0;
  let dataBytes = 0;
  for (const r of recs) {
    if (!r) continue;
    if (planXattrs(r, cfg, ibodySpace)) content++;
    if (r.type === 'dir') planDir(r, cfg, fsSeed, dirOpts, bpgGuess);
    else if (r.type === 'file') dataBytes += planFile(r, cfg, bpgGuess, inlineMax);
    else if (r.type === 'symlink') planSymlink(r, B);
    else if (r.type === 'chardev' || r.type === 'blockdev') {
      const n = r.node as Extract<TreeNode, { type: 'chardev' | 'blockdev' }>;
      encodeDevice(r.iblock, n.major, n.minor);
    }
    content += r.est;
  }
  return { content, dataBytes };
}

/** Walk the tree, number inodes, build directories, place xattrs and estimate blocks. */
export function plan(tree: FileTree, cfg: Config): Plan {
  const fsSeed = fsCsumSeed(cfg.uuid);
  const recs: Rec[] = [];
  const next = numberInodes(tree, cfg, recs);
  const { content, dataBytes } = planStorage(recs, cfg, fsSeed);
  return { cfg, recs, usedInodes: next - 1, contentBlocks: content, dataBytes, fsSeed };
}
