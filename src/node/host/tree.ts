/**
 * Build a FileTree from a host directory: every entry type, full metadata,
 * xattrs are not read (Node has no API for them), hard links detected by
 * (dev, ino). File contents are read lazily from the host path.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync, type BigIntStats } from 'node:fs';
import { resolve } from 'node:path';
import { FileTree, NO_XATTRS } from '../../core/tree/tree.js';
import { parseCpioList, treeFromCpioList, type CpioListEntry, type CpioListOptions } from '../../core/tree/cpiolist.js';
import { decodeDev, S_IFMT, TYPE_BITS, type DirNode, type TreeNode } from '../../core/tree/types.js';
import { MAX_NAME_BYTES } from '../../core/tree/path.js';
import { dirFileContent, HostDir, pathContent } from './content.js';
import { hostError } from '../io/file.js';
import { PathError, UsageError } from '../../core/errors.js';

export interface HostTreeOptions {
  /** Put the tree under this path instead of at the root. */
  prefix?: string;
  tree?: FileTree;
  /** Replace entries that already exist in `tree` (an overlay); default: an existing name is an error. */
  replace?: boolean;
}

/**
 * A nanosecond time as a Timespec: the seconds from the exact millisecond
 * count (a Number below 2^53), the nanoseconds from one BigInt remainder
 * (one BigInt operation per time, where a division and a remainder were two).
 */
function ts(ms: bigint, ns: bigint) {
  // both truncate toward zero (ms is ns / 10^6 in BigInt), so they agree; then floor as a Timespec wants
  let sec = Math.trunc(Number(ms) / 1000);
  let nsec = Number(ns % 1_000_000_000n);
  if (nsec < 0) {
    nsec += 1_000_000_000;
    sec -= 1;
  }
  return { sec, nsec };
}

const S_IFREG = TYPE_BITS.file;
const S_IFDIR = TYPE_BITS.dir;
const S_IFLNK = TYPE_BITS.symlink;
const S_IFCHR = TYPE_BITS.chardev;
const S_IFBLK = TYPE_BITS.blockdev;
const S_IFIFO = TYPE_BITS.fifo;
const S_IFSOCK = TYPE_BITS.socket;

type BigStats = BigIntStats;

function treePath(treeDir: string, name: string): string {
  return treeDir === '/' ? `/${name}` : `${treeDir}/${name}`;
}

/**
 * Build a FileTree from a host directory. Per entry: one lstat (bigint, for
 * nanosecond times), one node object, its content object (files) and its
 * name; no path string is kept. Nodes go straight into their parent's map:
 * going through tree.put(path) re-split every path from the root.
 */
export function treeFromHostDir(dir: string, opts: HostTreeOptions = {}): FileTree {
  const tree = opts.tree ?? new FileTree();
  const root = resolve(dir);
  let st: BigStats;
  try {
    st = lstatSync(root, { bigint: true });
  } catch (e) {
    throw hostError(e, root, 'read directory');
  }
  if (!st.isDirectory()) throw new UsageError('E_USAGE_NOT_DIR', `${dir} is not a directory`, { path: dir });
  const prefix = opts.prefix ?? '/';
  const inodes = new Map<string, TreeNode>();
  const top = tree.mkdir(prefix, metaOf(st));
  const insert = (dir: DirNode, name: string, node: TreeNode, treeDir: string) => {
    const existing = dir.children.get(name);
    if (existing && !opts.replace) {
      const tp = treePath(treeDir, name);
      throw new PathError('E_PATH_EXISTS', `${tp} already exists (a ${existing.type})`, { path: tp });
    }
    dir.children.set(name, node);
    return node;
  };
  const visit = (hostDir: string, treeDir: string, dir: DirNode) => {
    let names: string[];
    try {
      names = readdirSync(hostDir);
    } catch (e) {
      throw hostError(e, hostDir, 'read directory');
    }
    const here = new HostDir(hostDir);
    const base = here.prefix;
    for (const name of names) {
      const hp = base + name;
      if (name.length > MAX_NAME_BYTES / 3 && Buffer.byteLength(name) > MAX_NAME_BYTES) {
        const tp = treePath(treeDir, name);
        throw new PathError(
          'E_PATH_NAME_TOO_LONG',
          `name component is ${Buffer.byteLength(name)} bytes, the limit is ${MAX_NAME_BYTES}: ${tp}`,
          { path: tp },
        );
      }
      let s: BigStats;
      try {
        s = lstatSync(hp, { bigint: true });
      } catch (e) {
        throw hostError(e, hp, 'stat');
      }
      const fmt = Number(s.mode) & S_IFMT;
      if (fmt === S_IFDIR) {
        let sub = dir.children.get(name);
        if (sub?.type === 'dir') Object.assign(sub, tree.meta('dir', metaOf(s)));
        else sub = insert(dir, name, hostNode(s, fmt, hp, here, name, treeDir)!, treeDir);
        visit(hp, treePath(treeDir, name), sub as DirNode);
        continue;
      }
      const key = s.nlink > 1n ? `${s.dev}:${s.ino}` : '';
      if (key) {
        const prev = inodes.get(key);
        if (prev) {
          insert(dir, name, prev, treeDir);
          continue;
        }
      }
      const node = hostNode(s, fmt, hp, here, name, treeDir);
      if (!node) continue;
      insert(dir, name, node, treeDir);
      if (key) inodes.set(key, node);
    }
  };
  visit(root, prefix === '/' ? '/' : '/' + prefix.replace(/^\/+|\/+$/g, ''), top);
  return tree;
}

/** Metadata of a host entry: times as immutable Timespecs, equal times one object (most files have ctime == mtime). */
function metaOf(s: BigStats) {
  const mtime = ts(s.mtimeMs, s.mtimeNs);
  const atime = s.atimeNs === s.mtimeNs ? mtime : ts(s.atimeMs, s.atimeNs);
  const ctime = s.ctimeNs === s.mtimeNs ? mtime : s.ctimeNs === s.atimeNs ? atime : ts(s.ctimeMs, s.ctimeNs);
  return { mode: Number(s.mode) & 0o7777, uid: Number(s.uid), gid: Number(s.gid), mtime, atime, ctime };
}

/**
 * The tree node of a host entry, built as one literal in the tree's property
 * order (host values need no validation: the mode is masked, ids are 32-bit).
 * Undefined for types a tree cannot hold.
 */
function hostNode(
  s: BigStats,
  fmt: number,
  hp: string,
  here: HostDir,
  name: string,
  treeDir: string,
): TreeNode | undefined {
  const { mode, uid, gid, mtime, atime, ctime } = metaOf(s);
  const xattrs = NO_XATTRS;
  // the type from the mode as a Number: BigIntStats' isFile() and friends make BigInts on every call
  if (fmt === S_IFREG)
    return {
      type: 'file',
      mode,
      uid,
      gid,
      mtime,
      atime,
      ctime,
      xattrs,
      content: dirFileContent(here, name, Number(s.size)),
    };
  if (fmt === S_IFDIR) return { type: 'dir', mode, uid, gid, mtime, atime, ctime, xattrs, children: new Map() };
  if (fmt === S_IFLNK) {
    const target = readlinkSync(hp);
    if (!target) {
      const tp = treePath(treeDir, name);
      throw new PathError('E_PATH_EMPTY_LINK', `symlink ${tp} has an empty target`, { path: tp });
    }
    return { type: 'symlink', mode, uid, gid, mtime, atime, ctime, xattrs, target };
  }
  if (fmt === S_IFCHR || fmt === S_IFBLK) {
    const { major, minor } = decodeDev(Number(s.rdev));
    const type = fmt === S_IFCHR ? 'chardev' : 'blockdev';
    return { type, mode, uid, gid, mtime, atime, ctime, xattrs, major, minor };
  }
  if (fmt === S_IFIFO) return { type: 'fifo', mode, uid, gid, mtime, atime, ctime, xattrs };
  if (fmt === S_IFSOCK) return { type: 'socket', mode, uid, gid, mtime, atime, ctime, xattrs };
  return undefined;
}

interface CpioListFileOptions {
  /** Time of entries other than files (SOURCE_DATE_EPOCH or gen_init_cpio's -t), seconds. */
  defaultTime?: number;
  tree?: FileTree;
  /** Variables for `${VAR}` in locations (default: process.env). */
  env?: Record<string, string | undefined>;
}

function listOptions(listPath: string, opts: CpioListFileOptions): { text: string } & CpioListOptions {
  let text: string;
  try {
    text = readFileSync(listPath, 'utf8');
  } catch (e) {
    throw hostError(e, listPath, 'read');
  }
  const base = resolve(listPath, '..');
  return {
    text,
    source: listPath,
    env: opts.env ?? process.env,
    ...(opts.defaultTime !== undefined ? { defaultTime: opts.defaultTime } : {}),
    ...(opts.tree ? { tree: opts.tree } : {}),
    resolve: (loc) => {
      const p = resolve(base, loc);
      let s;
      try {
        s = statSync(p, { bigint: true });
      } catch (e) {
        throw hostError(e, p, 'read');
      }
      if (!s.isFile())
        throw new UsageError('E_USAGE_CPIO_LIST', `${listPath}: ${loc} is not a regular file`, { path: p });
      return { content: pathContent(p, Number(s.size)), mtime: ts(s.mtimeMs, s.mtimeNs) };
    },
  };
}

/**
 * Read a gen_init_cpio list file into a tree. `file` locations are relative
 * to the list's directory (absolute ones as written); files keep their host
 * modification times.
 */
export function treeFromCpioListFile(listPath: string, opts: CpioListFileOptions = {}): FileTree {
  const o = listOptions(listPath, opts);
  return treeFromCpioList(o.text, o);
}

/** The entries of a gen_init_cpio list file in order, for kernelCpioChunks. */
export function cpioListFileEntries(listPath: string, opts: CpioListFileOptions = {}): CpioListEntry[] {
  const o = listOptions(listPath, opts);
  return parseCpioList(o.text, o);
}
