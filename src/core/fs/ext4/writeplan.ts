/**
 * Writer, step one: the plan. Walks the tree once and numbers the inodes
 * (root 2, lost+found 11, then each directory's entries in name order,
 * directories depth-first), then bounds the blocks each inode needs (exact
 * for directories, computed from name lengths and hashes), places xattrs and
 * decides what is stored inline, all before the size of the filesystem is
 * known. Nothing is written and nothing is kept per entry but a few numbers
 * in slabs (`Inodes`) and each directory's names in the order they were
 * sorted once (a reference and two bytes per entry): directory blocks,
 * xattr entries and inline data are made again when written. File contents
 * are not read.
 */
import { CapacityError, PathError, UsageError } from '../../errors.js';
import { sortedChildNames, utf8Length } from '../../tree/cursor.js';
import type { FileTree } from '../../tree/tree.js';
import type { DirNode, NodeType, Timespec, TreeNode } from '../../tree/types.js';
import { fsCsumSeed } from './csum.js';
import { dirBlockCount, type DirBuildOpts, type DirList } from './dir.js';
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

/**
 * One inode while it is written: made from the plan's slabs when its turn
 * comes, encoded, then dropped. `path` is found only when a message needs it.
 */
export class Rec {
  links = 0;
  size = 0;
  flags = 0;
  blocks = 0;
  fileAcl = 0;
  runs?: Run[];
  xin?: XEntry[];
  /** Regular file stored inline (inline_data): i_block + system.data. */
  inline?: boolean;
  constructor(
    readonly ino: number,
    readonly type: NodeType,
    readonly node: TreeNode | undefined,
    readonly meta: Meta,
    private readonly where: string | ((ino: number) => string),
    /** i_block (60 bytes, zeroed). */
    public iblock: Uint8Array = new Uint8Array(I_BLOCK_SIZE),
  ) {}
  get path(): string {
    return typeof this.where === 'string' ? this.where : this.where(this.ino);
  }
}

/** Per-inode bits of the plan. */
export const PLAN_BIT = {
  /** A regular file stored inline (inline_data). */
  INLINE: 1,
  /** A symlink whose target needs a block. */
  SLOW_SYMLINK: 2,
  /** xattrs that need an external block. */
  XATTR_BLOCK: 4,
} as const;

const KINDS: NodeType[] = ['file', 'dir', 'symlink', 'chardev', 'blockdev', 'fifo', 'socket'];
const KIND_CODE = Object.fromEntries(KINDS.map((k, i) => [k, i + 1])) as Record<NodeType, number>;

/**
 * The plan's per-inode facts, in slabs indexed by inode number: a node
 * reference and about 20 bytes of numbers per inode, whatever the tree, and
 * each directory's sorted names with their UTF-8 lengths.
 */
export class Inodes {
  nodes: Array<TreeNode | undefined> = [];
  /** NodeType code (KINDS index + 1); 0 for unused and reserved inodes. */
  kind = new Uint8Array(64);
  /** Names of the inode (directories: set by the plan to 2 + subdirectories). */
  links = new Uint32Array(64);
  /** Directories: the parent's inode. */
  parent = new Uint32Array(64);
  /** Directories: the number given to the first child numbered in it. */
  firstChild = new Uint32Array(64);
  /** Directories and slow symlinks: their blocks (directory blocks, the target block). */
  nblocks = new Uint32Array(64);
  /** PLAN_BIT flags. */
  bits = new Uint8Array(64);
  /** Directories: their names in the order they were numbered (UTF-8 byte order), kept for the directory blocks. */
  names: Array<readonly string[] | undefined> = [];
  /** Directories: the UTF-8 lengths of their entries' names (dirEntries' `lens`), once the plan has sized them. */
  lens: Array<Uint16Array | undefined> = [];

  private grow(ino: number): void {
    if (ino < this.kind.length) return;
    const n = Math.max(ino + 1, this.kind.length * 2);
    const re = <T extends Uint8Array | Uint32Array>(a: T): T => {
      const b = new (a.constructor as new (n: number) => T)(n);
      b.set(a);
      return b;
    };
    this.kind = re(this.kind);
    this.links = re(this.links);
    this.parent = re(this.parent);
    this.firstChild = re(this.firstChild);
    this.nblocks = re(this.nblocks);
    this.bits = re(this.bits);
  }

  set(ino: number, type: NodeType, node: TreeNode | undefined): void {
    this.grow(ino);
    this.kind[ino] = KIND_CODE[type];
    this.nodes[ino] = node;
  }

  type(ino: number): NodeType | undefined {
    const k = this.kind[ino];
    return k ? KINDS[k - 1] : undefined;
  }

  /** type(ino) === 'dir', without the name. */
  isDir(ino: number): boolean {
    return this.kind[ino] === KIND_CODE.dir;
  }
}

export interface Plan {
  cfg: Config;
  inodes: Inodes;
  /** Nodes with more than one name (hard links; not directories): their inode. */
  linkIno: Map<TreeNode, number>;
  /** The tree has no /lost+found: inode 11 is made, with no node. */
  lpfMade: boolean;
  usedInodes: number; // highest inode number used
  contentBlocks: number; // upper bound of non-metadata blocks (without journal)
  dataBytes: number;
  fsSeed: number;
  dirOpts: DirBuildOpts;
  /** A path of inode `ino`, for messages (searches the tree: slow, only on errors). */
  pathOf(ino: number): string;
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
const LPF_NAME = 'lost+found';

/** The lost+found the writer makes when the tree has none (mke2fs's: 0700, root's, the epoch). */
export function madeLpfMeta(cfg: Config): Meta {
  const t: Timespec = { sec: cfg.epoch, nsec: 0 };
  return { mode: 0o700, uid: 0, gid: 0, atime: t, mtime: t, ctime: t };
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

/** Root (2) and lost+found (11, made when the tree has none). */
function reservedDirs(tree: FileTree, t: Inodes, byNode: Map<TreeNode, number>): boolean {
  t.set(ROOT_INO, 'dir', tree.root);
  t.parent[ROOT_INO] = ROOT_INO;
  byNode.set(tree.root, ROOT_INO);
  const lpfNode = tree.root.children.get(LPF_NAME);
  if (lpfNode && lpfNode.type !== 'dir')
    throw new PathError(
      'E_PATH_LOST_FOUND',
      '/lost+found exists in the tree but is not a directory; ext needs it to be one',
      { path: '/lost+found' },
    );
  t.set(FIRST_INO, 'dir', lpfNode);
  t.parent[FIRST_INO] = ROOT_INO;
  if (lpfNode) byNode.set(lpfNode, FIRST_INO);
  return lpfNode === undefined;
}

/**
 * Number the inodes: every directory's entries in name order, depth first.
 * Returns the next free inode and the nodes `dirEntries` must look up.
 */
function numberInodes(
  tree: FileTree,
  t: Inodes,
  lpfMade: boolean,
  byNode: Map<TreeNode, number>,
  linkIno: Map<TreeNode, number>,
  shared: ReadonlySet<TreeNode> | undefined,
): number {
  let next = FIRST_INO + 1;
  const stack: number[] = [ROOT_INO];
  const subdirs: number[] = [];
  while (stack.length) {
    const d = stack.pop()!;
    const dn = t.nodes[d] as DirNode | undefined;
    if (!dn) continue;
    t.firstChild[d] = next;
    subdirs.length = 0;
    const names = sortedChildNames(dn);
    t.names[d] = names;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const child = dn.children.get(name)!;
      // a file named once (known from `shared`) needs no lookup: it is new here
      const once = shared !== undefined && child.type !== 'dir' && !shared.has(child);
      let r = once ? undefined : byNode.get(child);
      if (r !== undefined && child.type === 'dir' && !(r === FIRST_INO && d === ROOT_INO && t.links[r] === 0)) {
        const path = joinName(pathOfIno(tree, t, d), name);
        throw new PathError(
          'E_PATH_DIR_LINK',
          `directory ${path} appears twice in the tree (directories cannot be hard links)`,
          { path },
        );
      }
      if (r === undefined) {
        r = next++;
        t.set(r, child.type, child);
        if (!once) byNode.set(child, r);
      } else if (child.type !== 'dir') linkIno.set(child, r);
      t.links[r]!++;
      if (name.length > NAME_MAX / 3 && utf8Length(name) > NAME_MAX) {
        const path = joinName(pathOfIno(tree, t, d), name);
        throw new PathError('E_PATH_NAME_TOO_LONG', `name ${path} is longer than ${NAME_MAX} bytes`, { path });
      }
      if (child.type === 'dir') {
        t.parent[r] = d;
        subdirs.push(r);
      }
    }
    for (let i = subdirs.length - 1; i >= 0; i--) stack.push(subdirs[i]!);
  }
  if (lpfMade) t.links[FIRST_INO] = 1;
  return next;
}

function joinName(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** A path of inode `ino` (searching every directory: for messages only). */
function pathOfIno(tree: FileTree, t: Inodes, ino: number): string {
  if (ino === ROOT_INO) return '/';
  const node = t.nodes[ino];
  if (!node) return ino === FIRST_INO ? '/lost+found' : `<inode ${ino}>`;
  for (let d = 1; d < t.nodes.length; d++) {
    const dn = t.nodes[d];
    if (dn?.type !== 'dir' || t.type(d) !== 'dir') continue;
    for (const [name, c] of dn.children) if (c === node) return joinName(pathOfIno(tree, t, d), name);
  }
  return `<inode ${ino}>`;
}

/** NodeType code (Inodes.kind) to directory entry file type. */
const KIND_FT = Uint8Array.from([FT.unknown, ...KINDS.map((k) => FTYPE[k])]);

/**
 * The entries of directory `d`, replaying the numbering: children get
 * consecutive numbers from firstChild in name order, except nodes numbered
 * before (hard links, the tree's lost+found). With `numbers` false only the
 * names and their lengths are filled in (what the block count needs).
 */
export function dirEntries(p: Plan, d: number, numbers = true): DirList {
  const t = p.inodes;
  const sorted = t.names[d] ?? [];
  const made = d === ROOT_INO && p.lpfMade;
  const names = made ? [LPF_NAME, ...sorted] : sorted;
  const n = names.length;
  let lens = t.lens[d];
  if (!lens) {
    lens = new Uint16Array(n);
    for (let i = 0; i < n; i++) lens[i] = utf8Length(names[i]!);
    t.lens[d] = lens;
  }
  if (!numbers) return { names, lens, inos: new Uint32Array(0), fts: new Uint8Array(0) };
  const inos = new Uint32Array(n);
  const fts = new Uint8Array(n);
  const ftOn = p.cfg.has('filetype');
  const dn = t.nodes[d] as DirNode | undefined;
  const links = p.linkIno.size > 0;
  let next = t.firstChild[d]!;
  for (let i = 0; i < n; i++) {
    let ino: number;
    if (made && i === 0) ino = FIRST_INO;
    else if (d === ROOT_INO && !p.lpfMade && names[i] === LPF_NAME)
      ino = FIRST_INO; // the tree's, numbered first
    else {
      ino = (links ? p.linkIno.get(dn!.children.get(names[i]!)!) : undefined) ?? next;
      if (ino === next) next++;
    }
    inos[i] = ino;
    fts[i] = ftOn ? KIND_FT[t.kind[ino]!]! : 0;
  }
  return { names, lens, inos, fts };
}

/** Subdirectories of directory `d` (with the lost+found the writer makes). */
function subdirCount(p: Plan, d: number): number {
  const dn = p.inodes.nodes[d] as DirNode | undefined;
  let n = d === ROOT_INO && p.lpfMade ? 1 : 0;
  if (dn) for (const c of dn.children.values()) if (c.type === 'dir') n++;
  return n;
}

/** Blocks lost+found (inode 11) is given at least. */
export function minDirBlocks(ino: number, B: number): number {
  return ino === FIRST_INO ? Math.min(LPF_MAX_BLOCKS, Math.max(LPF_MIN_BLOCKS, LPF_BYTES / B)) : 1;
}

/** Whether xattrs need a block (and that they fit and may be stored at all). */
function planXattrs(p: Plan, ino: number, ibodySpace: number): boolean {
  const node = p.inodes.nodes[ino];
  if (!node || !node.xattrs.size) return false;
  if (!p.cfg.has('ext_attr')) {
    const path = p.pathOf(ino);
    throw new UsageError('E_USAGE_FEATURE', `${path} has extended attributes but the ext_attr feature is off`, {
      path,
    });
  }
  const path = () => p.pathOf(ino);
  return placeXattrs(xattrEntries(node.xattrs, path), ibodySpace, p.cfg.blockSize, path).block.length > 0;
}

/** A directory's exact block count and the blocks its map may add; sets its link count. */
function planDir(p: Plan, ino: number, bpgGuess: number): number {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const t = p.inodes;
  const n = dirBlockCount(dirEntries(p, ino, false), { ...p.dirOpts, minBlocks: minDirBlocks(ino, B) }, () =>
    p.pathOf(ino),
  );
  t.nblocks[ino] = n;
  const sub = subdirCount(p, ino);
  const nl = 2 + sub;
  if (nl > LINK_MAX && !cfg.has('dir_nlink')) {
    const path = p.pathOf(ino);
    throw new CapacityError(
      'E_LIMIT_SUBDIRS',
      `${path} has ${sub} subdirectories; more than ${LINK_MAX - 2} need the dir_nlink feature`,
      { path },
    );
  }
  t.links[ino] = nl > LINK_MAX ? 1 : nl;
  return (
    n +
    (cfg.has('extent')
      ? extentTreeBlocks(Math.floor(n / EXT_INIT_MAX_LEN) + 2 + Math.floor(n / (bpgGuess / 2)), B)
      : blockMapBlocks(n, n - 1, B))
  );
}

/**
 * Bytes of inline data beyond i_block: what the in-inode xattr area holds
 * after its header, one system.data entry and the end marker.
 */
export function inlineXattrRoom(inodeSize: number): number {
  const area = inodeSize - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE;
  const entry = entryLen({
    index: XATTR_INDEX.SYSTEM,
    name: enc.encode(INLINE_DATA_NAME),
    value: new Uint8Array(0),
    full: '',
  });
  return area - xattrIbodyHeader.size - entry - XATTR_END_SIZE;
}

/** Plan a regular file: inline or its block bound. Returns [blocks, bytes of data it will write]. */
function planFile(p: Plan, ino: number, bpgGuess: number, inlineMax: number): [number, number] {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const node = p.inodes.nodes[ino] as Extract<TreeNode, { type: 'file' }>;
  const c = node.content;
  if (c.size > 0xffffffff && !cfg.has('large_file')) {
    const path = p.pathOf(ino);
    throw new CapacityError('E_LIMIT_FILE_SIZE', `${path} is ${c.size} bytes; files above 4 GiB need large_file`, {
      path,
    });
  }
  const P = B / BLOCK_NR_SIZE;
  const maxBlocks = cfg.has('extent') ? 2 ** 32 : NDIR_BLOCKS + P + P ** 2 + P ** 3;
  if (Math.ceil(c.size / B) > maxBlocks) {
    const path = p.pathOf(ino);
    throw new CapacityError('E_LIMIT_FILE_SIZE', `${path} is ${c.size} bytes, more than ext holds at block size ${B}`, {
      path,
    });
  }
  // inline_data: small files live in i_block (60 bytes) + the system.data xattr (read when written)
  if (
    cfg.has('inline_data') &&
    c.size > 0 &&
    c.size <= inlineMax &&
    node.xattrs.size === 0 &&
    (c.readInto || c.readAt)
  ) {
    p.inodes.bits[ino]! |= PLAN_BIT.INLINE;
    return [0, 0];
  }
  const ranges = c.dataRanges?.();
  const bytes = ranges ? ranges.reduce((s, [a, b]) => s + Math.max(0, b - a), 0) : c.size;
  return [fileBlocksEstimate(cfg, c.size, ranges, bpgGuess), bytes];
}

/** Plan a symlink: fast (target in i_block) or slow (one block). Returns its blocks. */
function planSymlink(p: Plan, ino: number): number {
  const B = p.cfg.blockSize;
  const len = utf8Length((p.inodes.nodes[ino] as Extract<TreeNode, { type: 'symlink' }>).target);
  if (len < I_BLOCK_SIZE) return 0;
  if (len >= B) {
    const path = p.pathOf(ino);
    throw new CapacityError(
      'E_LIMIT_SYMLINK',
      `symlink ${path}: target is ${len} bytes; at block size ${B} the limit is ${B - 1}`,
      { path },
    );
  }
  p.inodes.bits[ino]! |= PLAN_BIT.SLOW_SYMLINK;
  p.inodes.nblocks[ino] = 1;
  return 1;
}

/** Per-inode storage: xattrs, directory blocks, inline data, symlink targets, block estimates. */
function planStorage(p: Plan): void {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const t = p.inodes;
  const ibodySpace = cfg.inodeSize > GOOD_OLD_INODE_SIZE ? cfg.inodeSize - GOOD_OLD_INODE_SIZE - EXTRA_ISIZE : 0;
  const bpgGuess = 8 * B;
  const inlineMax = I_BLOCK_SIZE + inlineXattrRoom(cfg.inodeSize);
  let content = 0;
  let dataBytes = 0;
  for (let ino = 1; ino < p.usedInodes + 1; ino++) {
    const type = t.type(ino);
    if (!type) continue;
    if (planXattrs(p, ino, ibodySpace)) {
      t.bits[ino]! |= PLAN_BIT.XATTR_BLOCK;
      content++;
    }
    if (type === 'dir') content += planDir(p, ino, bpgGuess);
    else if (type === 'file') {
      const [blocks, bytes] = planFile(p, ino, bpgGuess, inlineMax);
      content += blocks;
      dataBytes += bytes;
    } else if (type === 'symlink') content += planSymlink(p, ino);
  }
  p.contentBlocks = content;
  p.dataBytes = dataBytes;
}

/**
 * Walk the tree, number inodes, size directories, place xattrs and estimate
 * blocks. `shared`: the nodes with more than one name, when known (all other
 * nodes are then numbered without a lookup).
 */
export function plan(tree: FileTree, cfg: Config, shared?: ReadonlySet<TreeNode>): Plan {
  const inodes = new Inodes();
  const byNode = new Map<TreeNode, number>();
  const lpfMade = reservedDirs(tree, inodes, byNode);
  const linkIno = new Map<TreeNode, number>();
  const next = numberInodes(tree, inodes, lpfMade, byNode, linkIno, shared);
  byNode.clear(); // one entry per node: not kept while the plan lives
  const p: Plan = {
    cfg,
    inodes,
    linkIno,
    lpfMade,
    usedInodes: next - 1,
    contentBlocks: 0,
    dataBytes: 0,
    fsSeed: fsCsumSeed(cfg.uuid),
    dirOpts: {
      blockSize: cfg.blockSize,
      csum: cfg.has('metadata_csum'),
      dirIndex: cfg.has('dir_index'),
      hashVersion: cfg.hashVersion,
      unsignedHash: true,
      fileType: cfg.has('filetype'),
      seed: seedWords(cfg.hashSeed),
    },
    pathOf: (ino) => pathOfIno(tree, inodes, ino),
  };
  planStorage(p);
  return p;
}
