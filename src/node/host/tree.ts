/**
 * Build a FileTree from a host directory: every entry type, full metadata,
 * xattrs are not read (Node has no API for them), hard links detected by
 * (dev, ino). File contents are read lazily from the host path.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileTree } from '../../core/tree/tree.js';
import { parseCpioList, treeFromCpioList, type CpioListEntry, type CpioListOptions } from '../../core/tree/cpiolist.js';
import { decodeDev, type DirNode, type TreeNode } from '../../core/tree/types.js';
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

function ts(ns: bigint) {
  const sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  let s = sec;
  if (nsec < 0n) {
    nsec += 1_000_000_000n;
    s -= 1n;
  }
  return { sec: Number(s), nsec: Number(nsec) };
}

export function treeFromHostDir(dir: string, opts: HostTreeOptions = {}): FileTree {
  const tree = opts.tree ?? new FileTree();
  const root = resolve(dir);
  let st;
  try {
    st = lstatSync(root, { bigint: true });
  } catch (e) {
    throw hostError(e, root, 'read directory');
  }
  if (!st.isDirectory()) throw new UsageError('E_USAGE_NOT_DIR', `${dir} is not a directory`, { path: dir });
  const prefix = opts.prefix ?? '/';
  const inodes = new Map<string, TreeNode>();
  const metaOf = (s: typeof st) => {
    // equal times are one object (immutable values): most files have ctime == mtime
    const mtime = ts(s.mtimeNs);
    const atime = s.atimeNs === s.mtimeNs ? mtime : ts(s.atimeNs);
    const ctime = s.ctimeNs === s.mtimeNs ? mtime : s.ctimeNs === s.atimeNs ? atime : ts(s.ctimeNs);
    return { mode: Number(s.mode) & 0o7777, uid: Number(s.uid), gid: Number(s.gid), mtime, atime, ctime };
  };
  const top = tree.mkdir(prefix, metaOf(st));
  // Nodes are inserted straight into their parent DirNode: going through
  // tree.put(path) re-split and re-encoded every path from the root, which
  // was most of the scan's CPU on a 20,000-file tree.
  const insert = (dir: DirNode, name: string, node: TreeNode, tp: string) => {
    const existing = dir.children.get(name);
    if (existing && !opts.replace)
      throw new PathError('E_PATH_EXISTS', `${tp} already exists (a ${existing.type})`, { path: tp });
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
    for (const name of names) {
      const hp = join(hostDir, name);
      const tp = treeDir === '/' ? `/${name}` : `${treeDir}/${name}`;
      if (name.length > MAX_NAME_BYTES / 3 && Buffer.byteLength(name) > MAX_NAME_BYTES) {
        throw new PathError(
          'E_PATH_NAME_TOO_LONG',
          `name component is ${Buffer.byteLength(name)} bytes, the limit is ${MAX_NAME_BYTES}: ${tp}`,
          { path: tp },
        );
      }
      let s;
      try {
        s = lstatSync(hp, { bigint: true });
      } catch (e) {
        throw hostError(e, hp, 'stat');
      }
      const m = metaOf(s);
      if (s.isDirectory()) {
        let sub = dir.children.get(name);
        if (sub?.type === 'dir') Object.assign(sub, tree.meta('dir', m));
        else sub = insert(dir, name, { type: 'dir', ...tree.meta('dir', m), children: new Map() }, tp);
        visit(hp, tp, sub as DirNode);
        continue;
      }
      const key = s.nlink > 1n ? `${s.dev}:${s.ino}` : '';
      if (key) {
        const prev = inodes.get(key);
        if (prev) {
          insert(dir, name, prev, tp);
          continue;
        }
      }
      let node: TreeNode;
      if (s.isFile())
        node = { type: 'file', ...tree.meta('file', m), content: dirFileContent(here, name, Number(s.size)) };
      else if (s.isSymbolicLink()) {
        const target = readlinkSync(hp);
        if (!target) throw new PathError('E_PATH_EMPTY_LINK', `symlink ${tp} has an empty target`, { path: tp });
        node = { type: 'symlink', ...tree.meta('symlink', m), target };
      } else if (s.isCharacterDevice() || s.isBlockDevice()) {
        const { major, minor } = decodeDev(Number(s.rdev));
        node = { type: s.isCharacterDevice() ? 'chardev' : 'blockdev', ...tree.meta('chardev', m), major, minor };
      } else if (s.isFIFO()) node = { type: 'fifo', ...tree.meta('fifo', m) };
      else if (s.isSocket()) node = { type: 'socket', ...tree.meta('socket', m) };
      else continue;
      insert(dir, name, node, tp);
      if (key) inodes.set(key, node);
    }
  };
  visit(root, prefix === '/' ? '/' : '/' + prefix.replace(/^\/+|\/+$/g, ''), top);
  return tree;
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
      return { content: pathContent(p, Number(s.size)), mtime: ts(s.mtimeNs) };
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
