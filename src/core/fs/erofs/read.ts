/**
 * EROFS reader: BlockDevice -> FileTree with lazy contents. The superblock
 * is validated first (readsuper.ts); then the tree is walked from the root
 * nid. Every nid, offset, count and name length is checked before it is
 * used; a directory met twice (a loop) or an entry whose type disagrees with
 * its inode is a FormatError, and the number of names is bounded by what
 * the directories' sizes can hold.
 */
import type { BlockDevice } from '../../io/device.js';
import { FileTree } from '../../tree/tree.js';
import { walkDirs } from '../walk.js';
import { decodeDev, type NodeMeta, type TreeNode } from '../../tree/types.js';
import { dataMap, mapContent, type DataMap } from './readfile.js';
import { readInode, readXattrs, type Inode } from './readinode.js';
import { fail, MetaReader, readSuper, type Super } from './readsuper.js';
import { DIRENT, FEATURE_COMPAT, FEATURE_INCOMPAT, FT, NAME_LEN } from './structs.js';

export interface ErofsInfo {
  type: 'erofs';
  blockSize: number;
  blocks: number;
  inodes: number;
  rootNid: number;
  /** Build time: the mtime of every compact inode. */
  buildTime: number;
  uuid: string;
  label: string;
  features: string[];
}

export interface ErofsVolume {
  tree: FileTree;
  info: ErofsInfo;
}

export interface ErofsOpenOptions {
  /** Refuse images with more names than this (default 20 million). */
  maxEntries?: number;
}

/** Longest symlink target read (PATH_MAX less its NUL). */
const SYMLINK_MAX = 4095;
const dec = new TextDecoder('utf-8');
const TYPE_OF_FT: Record<number, TreeNode['type']> = {
  [FT.file]: 'file',
  [FT.dir]: 'dir',
  [FT.chardev]: 'chardev',
  [FT.blockdev]: 'blockdev',
  [FT.fifo]: 'fifo',
  [FT.socket]: 'socket',
  [FT.symlink]: 'symlink',
};

interface Entry {
  name: string;
  nid: number;
  fileType: number;
}

class Reader {
  readonly m: MetaReader;
  entries = 0;

  constructor(
    readonly dev: BlockDevice,
    readonly s: Super,
    private readonly maxEntries: number,
  ) {
    this.m = new MetaReader(dev, s);
  }

  inode(nid: number): Inode {
    if (!Number.isSafeInteger(nid) || nid < 0)
      throw fail('E_FORMAT_EROFS_INODE', `nid ${nid} is out of range`, { actual: nid });
    return readInode(this.m, this.s, nid);
  }

  /** The entries of a directory, "." and ".." left out. */
  listing(ino: Inode, path: string): Entry[] {
    const map = dataMap(this.m, this.s, ino, path);
    const bs = this.s.bs;
    if (ino.size > this.s.limit)
      throw fail('E_FORMAT_EROFS_DIR', `${path}: directory size ${ino.size} exceeds the image`, { path });
    const out: Entry[] = [];
    for (let at = 0; at < ino.size; at += bs) {
      const block = this.readData(map, at, Math.min(bs, ino.size - at));
      this.block(block, path, out);
    }
    return out;
  }

  private readData(map: DataMap, pos: number, len: number): Uint8Array {
    const out = new Uint8Array(len);
    let p = 0;
    while (p < len) {
      const piece = map.piece(pos + p);
      const n = Math.min(piece.len, len - p);
      if (piece.at !== undefined) out.set(this.dev.readAt(piece.at, n), p);
      p += n;
    }
    return out;
  }

  /** One directory block: entries, then names (the last name ends at the block's end or a NUL). */
  private block(b: Uint8Array, path: string, out: Entry[]): void {
    if (b.length < DIRENT.size)
      throw fail('E_FORMAT_EROFS_DIR', `${path}: a directory block of ${b.length} bytes`, { path });
    const first = DIRENT.decode(b, 0).nameoff;
    if (first < DIRENT.size || first >= b.length || first % DIRENT.size)
      throw fail('E_FORMAT_EROFS_DIR', `${path}: first name offset ${first} in a block of ${b.length} bytes`, {
        path,
        actual: first,
      });
    const count = first / DIRENT.size;
    for (let i = 0; i < count; i++) {
      const d = DIRENT.decode(b, i * DIRENT.size);
      const end = i + 1 < count ? DIRENT.decode(b, (i + 1) * DIRENT.size).nameoff : b.length;
      if (d.nameoff < first || end > b.length || end <= d.nameoff)
        throw fail('E_FORMAT_EROFS_DIR', `${path}: entry ${i} has name offsets ${d.nameoff}..${end}`, { path });
      let raw = b.subarray(d.nameoff, end);
      if (i + 1 === count) {
        const nul = raw.indexOf(0);
        if (nul >= 0) raw = raw.subarray(0, nul);
      }
      if (raw.length === 0 || raw.length > NAME_LEN || raw.includes(0) || raw.includes(0x2f))
        throw fail('E_FORMAT_EROFS_DIR', `${path}: entry ${i} has an invalid name of ${raw.length} bytes`, { path });
      const name = dec.decode(raw);
      if (name === '.' || name === '..') continue;
      if (++this.entries > this.maxEntries)
        throw fail('E_FORMAT_EROFS_TOO_MANY', `more than ${this.maxEntries} entries`, { expected: this.maxEntries });
      out.push({ name, nid: d.nid, fileType: d.fileType });
    }
  }

  meta(ino: Inode): NodeMeta {
    return {
      mode: ino.mode,
      uid: ino.uid,
      gid: ino.gid,
      mtime: ino.mtime,
      atime: ino.mtime,
      ctime: ino.mtime,
      xattrs: ino.xsize ? readXattrs(this.m, this.s, ino) : new Map(),
    };
  }

  node(ino: Inode, path: string): TreeNode {
    // the node is the metadata object with its type fields added (no object spread: it is slow per node)
    const node = this.meta(ino) as NodeMeta & Record<string, unknown>;
    node.type = ino.type;
    switch (ino.type) {
      case 'dir':
        node.children = new Map();
        break;
      case 'file':
        node.content = mapContent(this.dev, dataMap(this.m, this.s, ino, path));
        break;
      case 'symlink': {
        if (ino.size === 0 || ino.size > SYMLINK_MAX)
          throw fail('E_FORMAT_EROFS_INODE', `${path}: symlink target of ${ino.size} bytes`, {
            path,
            actual: ino.size,
          });
        const raw = this.readData(dataMap(this.m, this.s, ino, path), 0, ino.size);
        if (raw.includes(0))
          throw fail('E_FORMAT_EROFS_INODE', `${path}: symlink target contains a NUL byte`, { path });
        node.target = dec.decode(raw);
        break;
      }
      case 'chardev':
      case 'blockdev': {
        const d = decodeDev(ino.u);
        node.major = d.major;
        node.minor = d.minor;
        break;
      }
    }
    return node as unknown as TreeNode;
  }
}

function features(s: Super): string[] {
  const out: string[] = [];
  if (s.featureCompat & FEATURE_COMPAT.sbChecksum) out.push('sb_csum');
  if (s.featureCompat & FEATURE_COMPAT.mtime) out.push('mtime');
  if (s.featureIncompat & FEATURE_INCOMPAT.zeroPadding) out.push('0padding');
  if (s.featureIncompat & FEATURE_INCOMPAT.comprCfgs) out.push('compr_cfgs');
  if (s.featureIncompat & FEATURE_INCOMPAT.chunkedFile) out.push('chunked_file');
  if (s.featureIncompat & FEATURE_INCOMPAT.comprHead2) out.push('compr_head2');
  if (s.featureIncompat & FEATURE_INCOMPAT.ztailpacking) out.push('ztailpacking');
  if (s.featureIncompat & FEATURE_INCOMPAT.fragments) out.push('fragments');
  return out;
}

function formatUuid(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** Open an EROFS image. File contents are read lazily from `dev`. */
export function openErofs(dev: BlockDevice, opts: ErofsOpenOptions = {}): ErofsVolume {
  const s = readSuper(dev);
  const r = new Reader(dev, s, opts.maxEntries ?? 20_000_000);
  const root = r.inode(s.rootNid);
  if (root.type !== 'dir')
    throw fail('E_FORMAT_EROFS_ROOT', `the root inode (nid ${s.rootNid}) is a ${root.type}, not a directory`, {
      structure: 'superblock',
      field: 'root_nid',
      actual: s.rootNid,
    });
  const tree = new FileTree();
  Object.assign(tree.root, r.meta(root));
  const seenDirs = new Set<number>([root.nid]);
  const byNid = new Map<number, TreeNode>();
  walkDirs(
    root,
    tree.root,
    (ino, path) => r.listing(ino, path),
    (path, name, childPath) =>
      fail('E_FORMAT_EROFS_DIR', `${path}: the name ${JSON.stringify(name)} appears twice`, { path: childPath }),
    (e, childPath) => {
      const known = byNid.get(e.nid);
      if (known) return { node: known };
      const ci = r.inode(e.nid);
      if (TYPE_OF_FT[e.fileType] !== ci.type)
        throw fail(
          'E_FORMAT_EROFS_DIR',
          `${childPath}: the entry's file type ${e.fileType} disagrees with its inode (a ${ci.type})`,
          { path: childPath, actual: e.fileType },
        );
      const child = r.node(ci, childPath);
      if (child.type === 'dir') {
        if (seenDirs.has(ci.nid))
          throw fail('E_FORMAT_EROFS_LOOP', `${childPath}: directory nid ${ci.nid} is reached twice (a loop)`, {
            path: childPath,
          });
        seenDirs.add(ci.nid);
        return { node: child, descend: ci };
      }
      if (ci.nlink > 1) byNid.set(ci.nid, child);
      return { node: child };
    },
  );
  return {
    tree,
    info: {
      type: 'erofs',
      blockSize: s.bs,
      blocks: s.blocks,
      inodes: s.inos,
      rootNid: s.rootNid,
      buildTime: s.buildTime.sec,
      uuid: formatUuid(s.uuid),
      label: s.label,
      features: features(s),
    },
  };
}
