/**
 * The FAT writer's plan: the tree walked once (names checked, 8.3 aliases
 * chosen, symlinks resolved), kept as parallel arrays of numbers and
 * references to the tree's own nodes and name strings. No object and no
 * path string per entry, so a plan of 200,000 entries costs a few MiB.
 */
import { CapacityError, PathError, UsageError } from '../../errors.js';
import type { FileTree } from '../../tree/tree.js';
import { sortedChildNames } from '../../tree/cursor.js';
import type { DirNode, FileNode, TreeNode } from '../../tree/types.js';
import { checkLongName, directShortName, foldName, lfnSlots, ShortNameAllocator } from './names.js';

/** A directory is at most 2 MiB: 65536 entries of 32 bytes (FAT12/16 root: 65520 fixed entries). */
const MAX_DIR_SLOTS = 65520;
/** Guard against symlinked directories multiplying the tree without bound. */
const MAX_ENTRIES = 2_000_000;
export const MAX_FILE = 0xffffffff;

/** entInfo bits: the NT case flags in the low byte, then these. */
export const INFO_LFN = 0x100;
export const INFO_DIR = 0x200;

type Typed = Uint8Array | Uint16Array | Int32Array | Uint32Array;

/** `a` with room for at least `n` elements (sized up front from the tree; grows only for followed symlinks). */
function room<T extends Typed>(a: T, n: number): T {
  if (n <= a.length) return a;
  const b = new (a.constructor as new (n: number) => T)(Math.max(n, a.length * 2));
  b.set(a);
  return b;
}

/** Entries below `dir` (an upper bound on what the plan holds, unless symlinks to directories are followed). */
function countEntries(dir: DirNode): number {
  let n = dir.children.size;
  for (const c of dir.children.values()) if (c.type === 'dir') n += countEntries(c);
  return n;
}

export interface Prepared {
  /** Directories in pre-order; 0 is the root. */
  dirNodes: DirNode[];
  /** Parent directory index (-1 for the root). */
  dirParent: number[];
  /** The directory's name in its parent ('' for the root). */
  dirName: string[];
  /** 32-byte slots the directory needs (with '.' and '..', without the volume label). */
  dirSlots: number[];
  /** Its entries: entFirst[d] .. entFirst[d] + entCount[d] - 1. */
  entFirst: number[];
  entCount: number[];
  /** Entries, grouped by directory, in name order. */
  entName: string[];
  entNode: Array<FileNode | DirNode>;
  /** 11 bytes of 8.3 name per entry. */
  entShort: Uint8Array;
  /** NT case flags | INFO_LFN | INFO_DIR. */
  entInfo: Uint16Array;
  /** Directory index (INFO_DIR) or file index. */
  entRef: Int32Array;
  /** Files in allocation order (the walk's): their size, directory and entry. */
  fileSize: Uint32Array;
  fileDir: Int32Array;
  fileEntry: Int32Array;
  bytes: number;
  hardLinkCopies: number;
  skipped: string[];
}

function splitTarget(t: string): string[] {
  return t.split('/').filter((c) => c !== '' && c !== '.');
}

function lookup(root: DirNode, parts: string[]): TreeNode | undefined {
  let n: TreeNode = root;
  for (const p of parts) {
    if (n.type !== 'dir') return undefined;
    const c = n.children.get(p);
    if (!c) return undefined;
    n = c;
  }
  return n;
}

/** Resolve a symlink target inside the tree (absolute targets are relative to the tree root). */
function resolveLink(
  root: DirNode,
  dirParts: string[],
  target: string,
  hops: number,
): { node: TreeNode; parts: string[] } | 'dangling' | 'loop' {
  let parts = target.startsWith('/') ? [] : [...dirParts];
  for (const comp of splitTarget(target)) {
    if (comp === '..') {
      parts.pop();
      continue;
    }
    const dir = lookup(root, parts);
    if (!dir || dir.type !== 'dir') return 'dangling';
    const child = dir.children.get(comp);
    if (!child) return 'dangling';
    if (child.type === 'symlink') {
      if (hops >= 40) return 'loop';
      const r = resolveLink(root, parts, child.target, hops + 1);
      if (typeof r === 'string') return r;
      parts = r.parts;
    } else {
      parts = [...parts, comp];
    }
  }
  const node = lookup(root, parts);
  return node ? { node, parts } : 'dangling';
}

/** The path of directory `d` in the plan ('/' for the root). */
export function dirPath(p: Prepared, d: number): string {
  let s = '';
  for (let i = d; i > 0; i = p.dirParent[i]!) s = `/${p.dirName[i]}${s}`;
  return s || '/';
}

/** The path of file `f` in the plan (for messages). */
export function filePath(p: Prepared, f: number): string {
  const d = p.fileDir[f]!;
  return d === 0 ? `/${p.entName[p.fileEntry[f]!]}` : `${dirPath(p, d)}/${p.entName[p.fileEntry[f]!]}`;
}

export function prepare(
  tree: FileTree,
  opts: { symlinks?: 'follow' | 'skip' | 'error' | undefined; warn?: ((message: string) => void) | undefined },
): Prepared {
  const mode = opts.symlinks ?? 'follow';
  if (mode !== 'follow' && mode !== 'skip' && mode !== 'error') {
    throw new UsageError('E_USAGE_FAT_SYMLINKS', `symlinks must be follow, skip or error, got '${String(mode)}'`, {
      actual: mode,
    });
  }
  const warn = opts.warn ?? (() => {});
  const cap = countEntries(tree.root) + 1;
  const p: Prepared = {
    dirNodes: [],
    dirParent: [],
    dirName: [],
    dirSlots: [],
    entFirst: [],
    entCount: [],
    entName: new Array<string>(cap),
    entNode: new Array<FileNode | DirNode>(cap),
    entShort: new Uint8Array(cap * 11),
    entInfo: new Uint16Array(cap),
    entRef: new Int32Array(cap),
    fileSize: new Uint32Array(cap),
    fileDir: new Int32Array(cap),
    fileEntry: new Int32Array(cap),
    bytes: 0,
    hardLinkCopies: 0,
    skipped: [],
  };
  let nEnt = 0;
  let nFiles = 0;
  const seenFiles = new Set<TreeNode>();
  let entryCount = 0;
  const skip = (path: string, why: string) => {
    p.skipped.push(path);
    warn(`${path}: ${why}; not written to the FAT image`);
  };

  const build = (node: DirNode, parent: number, dirName: string, parts: string[], active: Set<DirNode>): void => {
    const d = p.dirNodes.length;
    p.dirNodes.push(node);
    p.dirParent.push(parent);
    p.dirName.push(dirName);
    p.dirSlots.push(0);
    p.entFirst.push(0);
    p.entCount.push(0);
    const path = d === 0 ? '/' : dirPath(p, d);
    active.add(node);
    const folded = new Map<string, string>();
    // this directory's entries, appended to the plan once it is complete
    const names: string[] = [];
    const nodes: Array<FileNode | DirNode> = [];
    const refs: number[] = [];
    for (const name of sortedChildNames(node)) {
      let child = node.children.get(name)!;
      const cpathOf = () => (d === 0 ? `/${name}` : `${path}/${name}`);
      let childParts: string[] | undefined;
      if (child.type === 'symlink') {
        const cpath = cpathOf();
        if (mode === 'skip') {
          skip(cpath, `symlink to ${child.target} skipped (--symlinks skip)`);
          continue;
        }
        if (mode === 'error')
          throw new PathError(
            'E_PATH_FAT_SYMLINK',
            `${cpath} is a symlink (to ${child.target}); FAT cannot store symlinks (use --symlinks follow or skip)`,
            { path: cpath },
          );
        const r = resolveLink(tree.root, parts, child.target, 0);
        if (r === 'dangling') {
          skip(cpath, `symlink to ${child.target} points to nothing inside the tree`);
          continue;
        }
        if (r === 'loop') {
          skip(cpath, `symlink to ${child.target} loops`);
          continue;
        }
        if (r.node.type === 'dir' && active.has(r.node)) {
          skip(cpath, `symlink to ${child.target} points to one of its own parent directories (a loop)`);
          continue;
        }
        child = r.node;
        childParts = r.parts;
      }
      if (++entryCount > MAX_ENTRIES) {
        const cpath = cpathOf();
        throw new CapacityError(
          'E_LIMIT_FAT_ENTRIES',
          `more than ${MAX_ENTRIES} entries to write (at ${cpath}); followed symlinks to directories copy them, which can multiply the tree (try --symlinks skip)`,
          { path: cpath, expected: MAX_ENTRIES },
        );
      }
      if (child.type !== 'dir' && child.type !== 'file') {
        skip(
          cpathOf(),
          `${child.type === 'chardev' ? 'character device' : child.type === 'blockdev' ? 'block device' : child.type} cannot be stored on FAT`,
        );
        continue;
      }
      checkLongName(name, cpathOf);
      const key = foldName(name);
      const other = folded.get(key);
      if (other !== undefined) {
        const opath = d === 0 ? `/${other}` : `${path}/${other}`;
        const cpath = cpathOf();
        throw new PathError(
          'E_PATH_FAT_CASE',
          `${cpath} and ${opath} differ only in case; FAT names are case-insensitive, so one directory cannot hold both`,
          { path: cpath, other: opath },
        );
      }
      folded.set(key, name);
      names.push(name);
      nodes.push(child);
      if (child.type === 'dir') {
        refs.push(p.dirNodes.length);
        build(child, d, name, childParts ?? [...parts, name], active);
      } else {
        if (child.content.size > MAX_FILE) {
          const cpath = cpathOf();
          throw new CapacityError(
            'E_LIMIT_FAT_FILE_SIZE',
            `${cpath} is ${child.content.size} bytes; FAT files hold at most 4 GiB - 1 (${MAX_FILE} bytes)`,
            { path: cpath, actual: child.content.size, expected: MAX_FILE },
          );
        }
        if (seenFiles.has(child)) p.hardLinkCopies++;
        seenFiles.add(child);
        refs.push(nFiles);
        p.fileSize = room(p.fileSize, nFiles + 1);
        p.fileDir = room(p.fileDir, nFiles + 1);
        p.fileEntry = room(p.fileEntry, nFiles + 1);
        p.fileSize[nFiles] = child.content.size;
        p.fileDir[nFiles] = d;
        nFiles++;
        p.bytes += child.content.size;
      }
    }
    active.delete(node);
    appendEntries(d, names, nodes, refs);
    if (p.dirSlots[d]! > MAX_DIR_SLOTS) {
      throw new CapacityError(
        'E_LIMIT_FAT_DIR_ENTRIES',
        `${path} needs ${p.dirSlots[d]} directory entries (long names take several); a FAT directory holds at most ${MAX_DIR_SLOTS}`,
        { path, actual: p.dirSlots[d], expected: MAX_DIR_SLOTS },
      );
    }
  };

  // 8.3 names: direct names first (reserved), then aliases in name order.
  const appendEntries = (d: number, names: string[], nodes: Array<FileNode | DirNode>, refs: number[]): void => {
    const alloc = new ShortNameAllocator();
    const short: string[] = new Array<string>(names.length);
    const info: number[] = new Array<number>(names.length);
    const pending: number[] = [];
    for (let i = 0; i < names.length; i++) {
      const ds = directShortName(names[i]!);
      if (ds && !alloc.has(ds.short)) {
        alloc.reserve(ds.short);
        short[i] = ds.short;
        info[i] = ds.ntRes;
      } else pending.push(i);
    }
    for (const i of pending) {
      short[i] = alloc.alias(names[i]!);
      info[i] = INFO_LFN;
    }
    let slots = d === 0 ? 0 : 2;
    const first = nEnt;
    p.entShort = room(p.entShort, (first + names.length) * 11);
    p.entInfo = room(p.entInfo, first + names.length);
    p.entRef = room(p.entRef, first + names.length);
    for (let i = 0; i < names.length; i++) {
      const e = first + i;
      const isDir = nodes[i]!.type === 'dir';
      p.entName[e] = names[i]!;
      p.entNode[e] = nodes[i]!;
      const s = short[i]!;
      for (let k = 0; k < 11; k++) p.entShort[e * 11 + k] = s.charCodeAt(k);
      p.entInfo[e] = info[i]! | (isDir ? INFO_DIR : 0);
      p.entRef[e] = refs[i]!;
      if (!isDir) p.fileEntry[refs[i]!] = e;
      slots += 1 + (info[i]! & INFO_LFN ? lfnSlots(names[i]!) : 0);
    }
    nEnt += names.length;
    p.entFirst[d] = first;
    p.entCount[d] = names.length;
    p.dirSlots[d] = slots;
  };

  build(tree.root, -1, '', [], new Set());
  p.entName.length = nEnt;
  p.entNode.length = nEnt;
  p.fileSize = p.fileSize.subarray(0, nFiles);
  p.fileDir = p.fileDir.subarray(0, nFiles);
  p.fileEntry = p.fileEntry.subarray(0, nFiles);
  return p;
}
