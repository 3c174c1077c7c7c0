/**
 * squashfs 4.0 reader: BlockDevice -> FileTree with lazy contents. The
 * superblock and tables are validated first (readsuper.ts); then the tree is
 * walked from the root inode. Every inode number, reference, count and name
 * length is checked before it is used; a directory met twice (a loop) or an
 * entry whose type disagrees with its inode is a FormatError, and the number
 * of entries is bounded by what the directory table can hold.
 */
import type { BlockDevice } from '../../io/device.js';
import { MAX_NAME_BYTES } from '../../tree/path.js';
import { FileTree } from '../../tree/tree.js';
import { walkDirs } from '../walk.js';
import { decodeDev, type NodeMeta, type TreeNode } from '../../tree/types.js';
import { compressionName } from './compress.js';
import { DataReader } from './readfile.js';
import { cursorAt, fail, type Cursor } from './readmeta.js';
import { readSuperblock, readTables, type Tables } from './readsuper.js';
import {
  BASE_INODE,
  DEV_INODE,
  DIR_ENTRY,
  DIR_HEADER,
  DIR_COUNT_MAX,
  DIR_INODE,
  EXTENDED_OFFSET,
  FLAG,
  INODE,
  INVALID_TABLE,
  INVALID_XATTR,
  IPC_INODE,
  LDEV_INODE,
  LDIR_INODE,
  LIPC_INODE,
  LREG_INODE,
  METADATA_SIZE,
  REG_INODE,
  SYMLINK_INODE,
  XATTR_ENTRY,
  XATTR_ID,
  XATTR_PREFIXES,
  XATTR_PREFIX_MASK,
  XATTR_VAL,
  XATTR_VALUE_OOL,
  metaRef,
} from './structs.js';

export interface SquashfsInfo {
  type: 'squashfs';
  version: string;
  compression: string;
  blockSize: number;
  inodes: number;
  fragments: number;
  ids: number;
  xattrIds: number;
  bytesUsed: number;
  /** Creation time, seconds since the epoch. */
  mkfsTime: number;
  exportable: boolean;
  duplicatesRemoved: boolean;
  alwaysFragments: boolean;
}

export interface SquashfsVolume {
  tree: FileTree;
  info: SquashfsInfo;
}

export interface SquashfsOpenOptions {
  /** Refuse images with more names than this (default 20 million). */
  maxEntries?: number;
}

const SYMLINK_MAX = 65535;
const XATTR_VALUE_MAX = 65536;
const dec = new TextDecoder();

interface Inode {
  type: number;
  meta: NodeMeta;
  number: number;
  nlink: number;
  xattr: number;
  /** Directory: listing position and size; regular file: data layout; others: their fields. */
  dir?: { start: number; offset: number; size: number };
  reg?: { size: number; start: number; fragment: number; fragOffset: number; listRef: number };
  target?: string;
  rdev?: number;
}

/** A regular file's data layout from its inode (basic or extended); its block list follows the inode at `cur`. */
function regOf(
  r: { fileSize: number; startBlock: number; fragment: number; offset: number },
  cur: Cursor,
): NonNullable<Inode['reg']> {
  return {
    size: r.fileSize,
    start: r.startBlock,
    fragment: r.fragment,
    fragOffset: r.offset,
    listRef: metaRef(cur.block, cur.offset),
  };
}

class Reader {
  private xattrCache = new Map<number, Map<string, Uint8Array>>();
  readonly data: DataReader;
  entries = 0;

  constructor(
    dev: BlockDevice,
    readonly t: Tables,
    private readonly maxEntries: number,
  ) {
    this.data = new DataReader(dev, t);
  }

  private id(index: number, field: string, ref: number): number {
    if (index >= this.t.ids.length)
      throw fail(
        'E_FORMAT_SQUASHFS_INODE',
        `inode at ${ref} uses ${field} index ${index}, the id table has ${this.t.ids.length}`,
        { structure: 'inode', field, actual: index },
      );
    return this.t.ids[index]!;
  }

  inode(ref: number): Inode {
    const at = (): Cursor => cursorAt(ref);
    if (ref % 0x10000 >= METADATA_SIZE)
      throw fail('E_FORMAT_SQUASHFS_INODE', `inode reference ${ref} has an offset past 8 KiB`, { actual: ref });
    const base = BASE_INODE.decode(this.t.inodes.read(at(), BASE_INODE.size));
    if (base.inodeNumber < 1 || base.inodeNumber > this.t.sb.inodes) {
      throw fail(
        'E_FORMAT_SQUASHFS_INODE',
        `inode at ${ref} has number ${base.inodeNumber}, outside 1..${this.t.sb.inodes}`,
        { structure: 'inode', field: 'inode_number', actual: base.inodeNumber },
      );
    }
    const mtime = { sec: base.mtime, nsec: 0 };
    const meta: NodeMeta = {
      mode: base.mode & 0o7777,
      uid: this.id(base.uid, 'uid', ref),
      gid: this.id(base.guid, 'guid', ref),
      mtime,
      atime: { ...mtime },
      ctime: { ...mtime },
      xattrs: new Map(),
    };
    const node: Inode = { type: base.inodeType, meta, number: base.inodeNumber, nlink: 1, xattr: INVALID_XATTR };
    const cur = at();
    switch (base.inodeType) {
      case INODE.dir: {
        const d = DIR_INODE.decode(this.t.inodes.read(cur, DIR_INODE.size));
        Object.assign(node, { nlink: d.nlink, dir: { start: d.startBlock, offset: d.offset, size: d.fileSize } });
        break;
      }
      case INODE.ldir: {
        const d = LDIR_INODE.decode(this.t.inodes.read(cur, LDIR_INODE.size));
        Object.assign(node, {
          nlink: d.nlink,
          xattr: d.xattr,
          dir: { start: d.startBlock, offset: d.offset, size: d.fileSize },
        });
        break;
      }
      case INODE.file: {
        const r = REG_INODE.decode(this.t.inodes.read(cur, REG_INODE.size));
        node.reg = regOf(r, cur);
        break;
      }
      case INODE.lfile: {
        const r = LREG_INODE.decode(this.t.inodes.read(cur, LREG_INODE.size));
        Object.assign(node, { nlink: r.nlink, xattr: r.xattr });
        node.reg = regOf(r, cur);
        break;
      }
      case INODE.symlink:
      case INODE.lsymlink: {
        const s = SYMLINK_INODE.decode(this.t.inodes.read(cur, SYMLINK_INODE.size));
        if (s.symlinkSize === 0 || s.symlinkSize > SYMLINK_MAX)
          throw fail(
            'E_FORMAT_SQUASHFS_INODE',
            `symlink inode ${base.inodeNumber} has a target of ${s.symlinkSize} bytes`,
            { structure: 'symlink_inode', actual: s.symlinkSize },
          );
        const target = dec.decode(this.t.inodes.read(cur, s.symlinkSize));
        if (target.includes('\0'))
          throw fail('E_FORMAT_SQUASHFS_INODE', `symlink inode ${base.inodeNumber} has a NUL byte in its target`, {
            structure: 'symlink_inode',
          });
        node.nlink = s.nlink;
        node.target = target;
        if (base.inodeType === INODE.lsymlink)
          node.xattr = new DataView(this.t.inodes.read(cur, 4).buffer).getUint32(0, true);
        break;
      }
      case INODE.blockdev:
      case INODE.chardev: {
        const d = DEV_INODE.decode(this.t.inodes.read(cur, DEV_INODE.size));
        Object.assign(node, { nlink: d.nlink, rdev: d.rdev });
        break;
      }
      case INODE.lblockdev:
      case INODE.lchardev: {
        const d = LDEV_INODE.decode(this.t.inodes.read(cur, LDEV_INODE.size));
        Object.assign(node, { nlink: d.nlink, rdev: d.rdev, xattr: d.xattr });
        break;
      }
      case INODE.fifo:
      case INODE.socket:
        node.nlink = IPC_INODE.decode(this.t.inodes.read(cur, IPC_INODE.size)).nlink;
        break;
      case INODE.lfifo:
      case INODE.lsocket: {
        const d = LIPC_INODE.decode(this.t.inodes.read(cur, LIPC_INODE.size));
        Object.assign(node, { nlink: d.nlink, xattr: d.xattr });
        break;
      }
      default:
        throw fail('E_FORMAT_SQUASHFS_INODE', `inode at ${ref} has unknown type ${base.inodeType}`, {
          structure: 'inode',
          field: 'inode_type',
          actual: base.inodeType,
        });
    }
    if (node.xattr !== INVALID_XATTR) node.meta.xattrs = this.xattrs(node.xattr, ref);
    return node;
  }

  /** A node's attributes (a fresh Map per node; the lists are cached by id). */
  private xattrs(id: number, ref: number): Map<string, Uint8Array> {
    if (!this.t.xattrIdMeta || id >= this.t.xattrIds) {
      throw fail('E_FORMAT_SQUASHFS_XATTR', `inode at ${ref} uses xattr id ${id}, the image has ${this.t.xattrIds}`, {
        structure: 'inode',
        field: 'xattr',
        actual: id,
      });
    }
    let m = this.xattrCache.get(id);
    if (!m) {
      const pos = id * XATTR_ID.size;
      const e = XATTR_ID.decode(
        this.t.xattrIdMeta.read(
          { block: this.t.xattrIndex[Math.floor(pos / METADATA_SIZE)]!, offset: pos % METADATA_SIZE },
          XATTR_ID.size,
        ),
      );
      m = this.xattrList(e.xattr, e.count);
      this.xattrCache.set(id, m);
    }
    return new Map(m);
  }

  private xattrList(ref: number, count: number): Map<string, Uint8Array> {
    const kv = this.t.xattrKv!;
    if (count > ((kv.end - kv.start) * 1100) / 8)
      throw fail('E_FORMAT_SQUASHFS_XATTR', `xattr list claims ${count} entries`, { actual: count });
    const cur = cursorAt(ref);
    const m = new Map<string, Uint8Array>();
    for (let i = 0; i < count; i++) {
      const e = XATTR_ENTRY.decode(kv.read(cur, XATTR_ENTRY.size));
      const prefix = XATTR_PREFIXES[e.type & XATTR_PREFIX_MASK];
      if (!prefix || e.type & ~(XATTR_PREFIX_MASK | XATTR_VALUE_OOL))
        throw fail('E_FORMAT_SQUASHFS_XATTR', `xattr entry of unknown type ${e.type}`, {
          structure: 'xattr_entry',
          actual: e.type,
        });
      const name = prefix + dec.decode(kv.read(cur, e.size));
      let vsize = XATTR_VAL.decode(kv.read(cur, XATTR_VAL.size)).vsize;
      let value: Uint8Array;
      if (e.type & XATTR_VALUE_OOL) {
        if (vsize !== 8)
          throw fail('E_FORMAT_SQUASHFS_XATTR', `out-of-line xattr ${name} has a reference of ${vsize} bytes`, {
            actual: vsize,
          });
        const r = kv.read(cur, 8);
        const v = new DataView(r.buffer);
        const ool = cursorAt(v.getUint32(4, true) * 0x100000000 + v.getUint32(0, true));
        vsize = XATTR_VAL.decode(kv.read(ool, XATTR_VAL.size)).vsize;
        if (vsize > XATTR_VALUE_MAX)
          throw fail('E_FORMAT_SQUASHFS_XATTR', `xattr ${name} has a value of ${vsize} bytes`, { actual: vsize });
        value = kv.read(ool, vsize);
      } else {
        if (vsize > XATTR_VALUE_MAX)
          throw fail('E_FORMAT_SQUASHFS_XATTR', `xattr ${name} has a value of ${vsize} bytes`, { actual: vsize });
        value = kv.read(cur, vsize);
      }
      m.set(name, value);
    }
    return m;
  }

  /** The entries of a directory: name, inode reference, number and entry type. */
  listing(ino: Inode, path: string): Array<{ name: string; ref: number; number: number; type: number }> {
    const d = ino.dir!;
    if (d.size < 3)
      throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: directory size ${d.size} is below 3`, { path, actual: d.size });
    if (d.offset >= METADATA_SIZE)
      throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: directory offset ${d.offset} is past 8 KiB`, {
        path,
        actual: d.offset,
      });
    const cur: Cursor = { block: d.start, offset: d.offset };
    const out: Array<{ name: string; ref: number; number: number; type: number }> = [];
    let left = d.size - 3;
    while (left > 0) {
      if (left < DIR_HEADER.size)
        throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: ${left} bytes left, too few for a directory header`, { path });
      const h = DIR_HEADER.decode(this.t.dirs.read(cur, DIR_HEADER.size));
      left -= DIR_HEADER.size;
      if (h.count + 1 > DIR_COUNT_MAX)
        throw fail(
          'E_FORMAT_SQUASHFS_DIR',
          `${path}: a directory header counts ${h.count + 1} entries (at most ${DIR_COUNT_MAX})`,
          { path, actual: h.count + 1 },
        );
      for (let i = 0; i <= h.count; i++) {
        if (left < DIR_ENTRY.size)
          throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: directory entries run past the directory size`, { path });
        const e = DIR_ENTRY.decode(this.t.dirs.read(cur, DIR_ENTRY.size));
        const len = e.size + 1;
        if (len > MAX_NAME_BYTES || left < DIR_ENTRY.size + len)
          throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: entry name of ${len} bytes does not fit`, {
            path,
            actual: len,
          });
        const name = dec.decode(this.t.dirs.read(cur, len));
        left -= DIR_ENTRY.size + len;
        if (name.includes('/') || name.includes('\0') || name === '.' || name === '..')
          throw fail('E_FORMAT_SQUASHFS_DIR', `${path}: invalid entry name ${JSON.stringify(name)}`, { path });
        if (++this.entries > this.maxEntries)
          throw fail('E_FORMAT_SQUASHFS_TOO_MANY', `more than ${this.maxEntries} entries`, {
            expected: this.maxEntries,
          });
        const delta = e.inodeNumber >= 0x8000 ? e.inodeNumber - 0x10000 : e.inodeNumber;
        out.push({ name, ref: metaRef(h.startBlock, e.offset), number: h.inodeNumber + delta, type: e.type });
      }
    }
    return out;
  }

  node(ino: Inode, path: string): TreeNode {
    const m = ino.meta;
    const t = ino.type > EXTENDED_OFFSET ? ino.type - EXTENDED_OFFSET : ino.type;
    switch (t) {
      case INODE.dir:
        return { type: 'dir', ...m, children: new Map() };
      case INODE.file:
        return { type: 'file', ...m, content: this.data.content({ path, ...ino.reg! }) };
      case INODE.symlink:
        return { type: 'symlink', ...m, target: ino.target! };
      case INODE.blockdev:
      case INODE.chardev: {
        const { major, minor } = decodeDev(ino.rdev!);
        return { type: t === INODE.blockdev ? 'blockdev' : 'chardev', ...m, major, minor };
      }
      default:
        return { type: t === INODE.fifo ? 'fifo' : 'socket', ...m };
    }
  }
}

/** Open a squashfs 4.0 image. File contents are read lazily from `dev`. */
export function openSquashfs(dev: BlockDevice, opts: SquashfsOpenOptions = {}): SquashfsVolume {
  const sb = readSuperblock(dev);
  const t = readTables(dev, sb);
  const r = new Reader(dev, t, opts.maxEntries ?? 20_000_000);
  const root = r.inode(sb.rootInode);
  if (root.type !== INODE.dir && root.type !== INODE.ldir)
    throw fail('E_FORMAT_SQUASHFS_ROOT', `the root inode is of type ${root.type}, not a directory`, {
      structure: 'superblock',
      field: 'root_inode',
      actual: root.type,
    });
  const tree = new FileTree();
  Object.assign(tree.root, root.meta);
  const seenDirs = new Set<number>([root.number]);
  const byNumber = new Map<number, { node: TreeNode; ref: number }>();
  walkDirs(
    root,
    tree.root,
    (ino, path) => r.listing(ino, path),
    (path, name, childPath) =>
      fail('E_FORMAT_SQUASHFS_DIR', `${path}: the name ${JSON.stringify(name)} appears twice`, { path: childPath }),
    (e, childPath) => {
      const known = byNumber.get(e.number);
      if (known && known.node.type !== 'dir') {
        if (known.ref !== e.ref)
          throw fail('E_FORMAT_SQUASHFS_DIR', `${childPath}: inode number ${e.number} names two different inodes`, {
            path: childPath,
          });
        return { node: known.node };
      }
      const ci = r.inode(e.ref);
      const basic = ci.type > EXTENDED_OFFSET ? ci.type - EXTENDED_OFFSET : ci.type;
      if (ci.number !== e.number || basic !== e.type) {
        throw fail(
          'E_FORMAT_SQUASHFS_DIR',
          `${childPath}: the entry (inode ${e.number}, type ${e.type}) disagrees with its inode (${ci.number}, type ${ci.type})`,
          { path: childPath },
        );
      }
      const child = r.node(ci, childPath);
      if (child.type === 'dir') {
        if (seenDirs.has(ci.number))
          throw fail('E_FORMAT_SQUASHFS_LOOP', `${childPath}: directory inode ${ci.number} is reached twice (a loop)`, {
            path: childPath,
          });
        seenDirs.add(ci.number);
        return { node: child, descend: ci };
      }
      byNumber.set(ci.number, { node: child, ref: e.ref });
      return { node: child };
    },
  );
  return {
    tree,
    info: {
      type: 'squashfs',
      version: `${sb.major}.${sb.minor}`,
      compression: compressionName(sb.compression),
      blockSize: sb.blockSize,
      inodes: sb.inodes,
      fragments: sb.fragments,
      ids: sb.noIds,
      xattrIds: t.xattrIds,
      bytesUsed: sb.bytesUsed,
      mkfsTime: sb.mkfsTime,
      exportable: sb.lookupTableStart !== INVALID_TABLE,
      duplicatesRemoved: (sb.flags & FLAG.duplicates) !== 0,
      alwaysFragments: (sb.flags & FLAG.alwaysFragments) !== 0,
    },
  };
}
