/**
 * Build a FileTree from a host directory: every entry type, full metadata,
 * xattrs are not read (Node has no API for them), hard links detected by
 * (dev, ino). File contents are read lazily from the host path.
 */
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { FileTree } from '../tree/tree.js';
import { treeFromCpioList } from '../tree/cpiolist.js';
import type { TreeNode } from '../tree/types.js';
import { pathContent } from './content.js';
import { hostError } from '../io/file.js';
import { UsageError } from '../errors.js';

export interface HostTreeOptions {
  /** Put the tree under this path instead of at the root. */
  prefix?: string;
  tree?: FileTree;
}

function ts(ns: bigint) {
  const sec = ns / 1_000_000_000n;
  let nsec = ns % 1_000_000_000n;
  let s = sec;
  if (nsec < 0n) { nsec += 1_000_000_000n; s -= 1n; }
  return { sec: Number(s), nsec: Number(nsec) };
}

export function treeFromHostDir(dir: string, opts: HostTreeOptions = {}): FileTree {
  const tree = opts.tree ?? new FileTree();
  const root = resolve(dir);
  let st;
  try { st = lstatSync(root, { bigint: true }); } catch (e) { throw hostError(e, root, 'read directory'); }
  if (!st.isDirectory()) throw new UsageError('E_USAGE_NOT_DIR', `${dir} is not a directory`, { path: dir });
  const prefix = opts.prefix ?? '/';
  const inodes = new Map<string, TreeNode>();
  const metaOf = (s: typeof st) => ({
    mode: Number(s.mode) & 0o7777, uid: Number(s.uid), gid: Number(s.gid),
    mtime: ts(s.mtimeNs), atime: ts(s.atimeNs), ctime: ts(s.ctimeNs),
  });
  tree.mkdir(prefix, metaOf(st));
  const visit = (hostDir: string, treeDir: string) => {
    let names: string[];
    try { names = readdirSync(hostDir); } catch (e) { throw hostError(e, hostDir, 'read directory'); }
    for (const name of names) {
      const hp = join(hostDir, name);
      const tp = treeDir === '/' ? `/${name}` : `${treeDir}/${name}`;
      let s;
      try { s = lstatSync(hp, { bigint: true }); } catch (e) { throw hostError(e, hp, 'stat'); }
      const m = metaOf(s);
      if (s.isDirectory()) { tree.mkdir(tp, m); visit(hp, tp); continue; }
      const key = `${s.dev}:${s.ino}`;
      if (s.nlink > 1n) {
        const prev = inodes.get(key);
        if (prev) { tree.put(tp, prev); continue; }
      }
      let node: TreeNode;
      if (s.isFile()) node = tree.addFile(tp, pathContent(hp, Number(s.size)), m);
      else if (s.isSymbolicLink()) node = tree.addSymlink(tp, readlinkSync(hp), m);
      else if (s.isCharacterDevice() || s.isBlockDevice()) {
        const rdev = Number(s.rdev);
        const major = (rdev >>> 8) & 0xfff;
        const minor = (rdev & 0xff) | ((rdev >>> 12) & 0xfff00);
        node = tree.addDevice(tp, s.isCharacterDevice() ? 'char' : 'block', major, minor, m);
      } else if (s.isFIFO()) node = tree.addFifo(tp, m);
      else if (s.isSocket()) node = tree.addSocket(tp, m);
      else continue;
      if (s.nlink > 1n) inodes.set(key, node);
    }
  };
  visit(root, prefix === '/' ? '/' : '/' + prefix.replace(/^\/+|\/+$/g, ''));
  return tree;
}

/** Read a gen_init_cpio list file; `file` locations are relative to the list's directory. */
export function treeFromCpioListFile(listPath: string, opts: { defaultTime?: number; tree?: FileTree } = {}): FileTree {
  let text: string;
  try { text = readFileSync(listPath, 'utf8'); } catch (e) { throw hostError(e, listPath, 'read'); }
  const base = resolve(listPath, '..');
  return treeFromCpioList(text, {
    source: listPath,
    ...(opts.defaultTime !== undefined ? { defaultTime: opts.defaultTime } : {}),
    ...(opts.tree ? { tree: opts.tree } : {}),
    resolve: (loc) => {
      const p = resolve(base, loc);
      let s;
      try { s = lstatSync(p); } catch (e) { throw hostError(e, p, 'read'); }
      if (!s.isFile()) throw new UsageError('E_USAGE_CPIO_LIST', `${listPath}: ${loc} is not a regular file`, { path: p });
      return pathContent(p, s.size);
    },
  });
}
