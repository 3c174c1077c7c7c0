/**
 * What must be known before the first byte is written: the order of the
 * inodes (directory by directory, the root first), every directory's names,
 * link counts, which attributes are shared, the build time, and from those
 * the shape of every inode (compact or extended, data layout, inline tail,
 * data blocks). Everything here depends on metadata only; file contents are
 * not read (a content's holes are asked for, when it reports them).
 */
import { CapacityError } from '../../errors.js';
import { joinPath } from '../../tree/path.js';
import { sortedNames, type FileTree } from '../../tree/tree.js';
import type { DirNode, Timespec, TreeNode } from '../../tree/types.js';
import { dirSize, utf8Length, withDots } from './dir.js';
import { BLOCK_MAP_ENTRY_SIZE, INODE_COMPACT, INODE_EXTENDED, LAYOUT, NULL_ADDR } from './structs.js';
import { chooseShared, ibodySize, nodeXattrs, type SharedXattrs, type XattrItem } from './xattr.js';

export interface PlanOptions {
  bs: number;
  inlineData: boolean;
  xattrs: boolean;
  sharedMin: number;
  allRoot: boolean;
  chunks: boolean;
  buildTime: Timespec | undefined;
}

export interface Plan {
  /** Distinct nodes in inode order (the root first). */
  records: TreeNode[];
  /** Every directory's names, "." and ".." included, in byte order. */
  names: Map<DirNode, string[]>;
  parents: Map<DirNode, DirNode>;
  /** Names per non-directory node with more than one. */
  links: Map<TreeNode, number>;
  shared: SharedXattrs;
  buildTime: Timespec;
  skippedXattrs: string[];
  bytes: number;
}

/** Longest symlink target the kernel reads whole (a page less the NUL). */
export const SYMLINK_MAX = 4095;

/** Chunks a sparse file's block map may have (its map then takes at most 64 KiB of metadata). */
const MAX_CHUNKS = 16384;

/** Walk the tree once: inode order, names, parents, link counts, attribute use, mtimes. */
export function plan(tree: FileTree, o: PlanOptions): Plan {
  const records: TreeNode[] = [tree.root];
  const names = new Map<DirNode, string[]>();
  const parents = new Map<DirNode, DirNode>();
  const links = new Map<TreeNode, number>();
  const seen = new Set<TreeNode>([tree.root]);
  const times = new Map<string, number>();
  let bytes = 0;
  const queue: DirNode[] = [tree.root];
  const paths = new Map<DirNode, string>([[tree.root, '/']]);
  parents.set(tree.root, tree.root);
  const skippedXattrs: string[] = [];
  const counts = new Map<string, number>();
  const countXattrs = (n: TreeNode, path: () => string) => {
    if (!o.xattrs || n.xattrs.size === 0) return;
    const skip = (name: string) => skippedXattrs.push(`${path()}: ${name}`);
    for (const it of nodeXattrs(n, path, skip)) counts.set(it.key, (counts.get(it.key) ?? 0) + 1);
  };
  countXattrs(tree.root, () => '/');
  for (let q = 0; q < queue.length; q++) {
    const dir = queue[q]!;
    const dirPath = paths.get(dir)!;
    paths.delete(dir);
    const sorted = sortedNames(dir);
    names.set(dir, withDots(sorted));
    for (const name of sorted) {
      const child = dir.children.get(name)!;
      if (seen.has(child)) {
        links.set(child, (links.get(child) ?? 1) + 1);
        continue;
      }
      seen.add(child);
      records.push(child);
      countXattrs(child, () => joinPath(dirPath, name));
      if (child.type === 'symlink' && utf8Length(child.target) > SYMLINK_MAX)
        throw new CapacityError(
          'E_LIMIT_EROFS_SYMLINK',
          `${joinPath(dirPath, name)}: symlink target of ${utf8Length(child.target)} bytes; at most ${SYMLINK_MAX}`,
          { path: joinPath(dirPath, name), actual: utf8Length(child.target), expected: SYMLINK_MAX },
        );
      if (child.type === 'dir') {
        queue.push(child);
        parents.set(child, dir);
        paths.set(child, joinPath(dirPath, name));
      } else if (child.type === 'file') bytes += child.content.size;
    }
  }
  seen.clear();
  for (const n of records) {
    const k = `${n.mtime.sec}:${n.mtime.nsec}`;
    times.set(k, (times.get(k) ?? 0) + 1);
  }
  // an inode with its attributes must fit a block beside the largest inode
  const withX = o.xattrs ? records.filter((n) => n.xattrs.size > 0) : [];
  const items = (function* () {
    for (const n of withX) yield nodeXattrs(n, () => '');
  })();
  const shared = chooseShared(items, counts, o.sharedMin, o.bs - INODE_EXTENDED.size);
  return {
    records,
    names,
    parents,
    links,
    shared,
    buildTime: o.buildTime ?? commonTime(times),
    skippedXattrs,
    bytes,
  };
}

/** The most common mtime (the newest of equals): the most inodes can then be compact. */
function commonTime(times: Map<string, number>): Timespec {
  let best: Timespec = { sec: 0, nsec: 0 };
  let count = 0;
  for (const [k, n] of times) {
    const [s, ns] = k.split(':').map(Number) as [number, number];
    if (n > count || (n === count && (s > best.sec || (s === best.sec && ns > best.nsec)))) {
      best = { sec: s, nsec: ns };
      count = n;
    }
  }
  return best;
}

/** How one inode is stored. */
export interface Shape {
  extended: boolean;
  /** i_size: file bytes, symlink target bytes, directory bytes. */
  size: number;
  layout: number;
  xattrs: XattrItem[];
  /** Bytes of the xattr region after the inode. */
  xsize: number;
  /** Bytes of data kept in the metadata block after the inode and its xattrs (tail packing). */
  inline: number;
  /** Data blocks in the data area. */
  blocks: number;
  /** Chunk-based files: chunk size bits over the block size, and which chunks hold data. */
  chunkBits?: number;
  dataChunks?: Uint8Array;
  nlink: number;
  uid: number;
  gid: number;
}

/** Bytes of metadata an inode takes: the inode, its xattrs and its inline data or block map. */
export function recordSize(s: Shape): number {
  const isize = s.extended ? INODE_EXTENDED.size : INODE_COMPACT.size;
  const map = s.dataChunks ? s.dataChunks.length * BLOCK_MAP_ENTRY_SIZE : 0;
  return isize + s.xsize + s.inline + map;
}

export function nodeShape(node: TreeNode, p: Plan, o: PlanOptions): Shape {
  const bs = o.bs;
  const xattrs = o.xattrs ? nodeXattrs(node, () => '') : [];
  const xsize = ibodySize(xattrs, p.shared.ids);
  let size = 0;
  let nlink = p.links.get(node) ?? 1;
  if (node.type === 'file') size = node.content.size;
  else if (node.type === 'symlink') size = utf8Length(node.target);
  else if (node.type === 'dir') {
    const names = p.names.get(node)!;
    size = dirSize(names, bs);
    nlink = 2;
    for (const n of node.children.values()) if (n.type === 'dir') nlink++;
  }
  const uid = o.allRoot ? 0 : node.uid;
  const gid = o.allRoot ? 0 : node.gid;
  const t = p.buildTime;
  const extended =
    size > 0xffffffff ||
    uid > 0xffff ||
    gid > 0xffff ||
    nlink > 0xffff ||
    node.mtime.sec !== t.sec ||
    node.mtime.nsec !== t.nsec;
  const shape: Shape = {
    extended,
    size,
    layout: LAYOUT.flatPlain,
    xattrs,
    xsize,
    inline: 0,
    blocks: 0,
    nlink,
    uid,
    gid,
  };
  if (size === 0) return shape;
  const isize = extended ? INODE_EXTENDED.size : INODE_COMPACT.size;
  if (node.type === 'file' && o.chunks && chunked(shape, node.content.dataRanges?.(), bs)) return shape;
  const tail = size % bs;
  if (o.inlineData && tail > 0 && isize + xsize + tail <= bs) {
    shape.layout = LAYOUT.flatInline;
    shape.inline = tail;
    shape.blocks = Math.floor(size / bs);
  } else shape.blocks = Math.ceil(size / bs);
  return shape;
}

/**
 * Make `shape` chunk-based when the content's holes cover whole chunks:
 * the smallest chunk (block size << bits) with at most MAX_CHUNKS chunks,
 * data chunks stored, hole chunks mapped to NULL_ADDR.
 */
function chunked(shape: Shape, ranges: Array<[number, number]> | undefined, bs: number): boolean {
  if (!ranges) return false;
  const size = shape.size;
  let bits = 0;
  while (Math.ceil(size / (bs * 2 ** bits)) > MAX_CHUNKS) bits++;
  const chunk = bs * 2 ** bits;
  const n = Math.ceil(size / chunk);
  const data = new Uint8Array(n);
  for (const [s, e] of ranges) {
    if (e <= s) continue;
    const last = Math.min(n - 1, Math.floor((Math.min(e, size) - 1) / chunk));
    for (let k = Math.floor(s / chunk); k <= last; k++) data[k] = 1;
  }
  let blocks = 0;
  for (let k = 0; k < n; k++) if (data[k]) blocks += Math.ceil(Math.min(chunk, size - k * chunk) / bs);
  if (blocks === Math.ceil(size / bs)) return false;
  shape.layout = LAYOUT.chunkBased;
  shape.chunkBits = bits;
  shape.dataChunks = data;
  shape.blocks = blocks;
  return true;
}

/** The i_u word: device number, chunk format, or the first data block (NULL_ADDR when there is none). */
export function inodeU(layout: number, blocks: number, blkaddr: number, chunkBits: number | undefined): number {
  if (layout === LAYOUT.chunkBased) return chunkBits!;
  if (layout === LAYOUT.flatInline && blocks === 0) return NULL_ADDR;
  return blocks === 0 ? 0 : blkaddr;
}
