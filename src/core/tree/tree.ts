import { PathError, UsageError } from '../errors.js';
import { bytesContent } from './content.js';
import { forEachEntry, sortedChildNames } from './cursor.js';
import { joinPath, splitPath } from './path.js';
import type { Content, DirNode, NodeMeta, NodeType, SymlinkNode, Timespec, TreeNode } from './types.js';

export interface MetaInput {
  mode?: number;
  uid?: number;
  gid?: number;
  /** A Timespec, a Date, or seconds since the epoch. Sets all three times unless atime/ctime are given. */
  mtime?: Timespec | Date | number;
  atime?: Timespec | Date | number;
  ctime?: Timespec | Date | number;
  xattrs?: Map<string, Uint8Array> | Record<string, Uint8Array | string>;
}

export interface TreeOptions {
  /** Default time for nodes created without one (seconds). Defaults to SOURCE_DATE_EPOCH semantics: 0. */
  defaultTime?: number;
}

function isId(v: number): boolean {
  return Number.isInteger(v) && v >= 0 && v <= 0xffffffff;
}

/** A Timespec for a Timespec (returned as it is: times are immutable), a Date, or seconds. */
export function toTimespec(t: Timespec | Date | number): Timespec {
  if (typeof t === 'number') {
    const sec = Math.floor(t);
    return { sec, nsec: Math.round((t - sec) * 1e9) };
  }
  if (t instanceof Date) {
    const ms = t.getTime();
    const sec = Math.floor(ms / 1000);
    return { sec, nsec: (ms - sec * 1000) * 1e6 };
  }
  return t;
}

/**
 * The extended attributes of every node that has none: one shared, empty
 * map (a map per node cost about 100 bytes of a 200,000-entry tree's 865).
 * It cannot be changed; give a node its own map to add attributes.
 */
class NoXattrs extends Map<string, Uint8Array> {
  override set(): this {
    throw new TypeError('this node has no extended attributes of its own: assign node.xattrs = new Map([...]) instead');
  }
}
export const NO_XATTRS: Map<string, Uint8Array> = new NoXattrs();

function toXattrs(x: MetaInput['xattrs']): Map<string, Uint8Array> {
  if (!x) return NO_XATTRS;
  if (x instanceof Map) return new Map(x);
  const m = new Map<string, Uint8Array>();
  for (const [k, v] of Object.entries(x)) m.set(k, typeof v === 'string' ? new TextEncoder().encode(v) : v);
  return m;
}

export interface WalkEntry {
  /** Absolute path, "/" for the root. */
  path: string;
  node: TreeNode;
  /** Name within its parent ("" for the root). */
  name: string;
  parent: DirNode | undefined;
  depth: number;
}

/**
 * A file tree: directories, files, symlinks, hard links (shared nodes),
 * devices, FIFOs and sockets, with full metadata. Paths are validated when
 * added. Iteration order is deterministic (UTF-8 byte order of names).
 */
export class FileTree {
  readonly root: DirNode;
  readonly defaultTime: number;

  constructor(opts: TreeOptions = {}) {
    this.defaultTime = opts.defaultTime ?? 0;
    this.root = this.newNode('dir', { mode: 0o755 }) as DirNode;
  }

  /** Build node metadata from input with defaults (dirs 0755, files 0644, symlinks 0777, root:root). */
  meta(type: NodeType, m: MetaInput = {}): NodeMeta {
    const defMode = type === 'dir' ? 0o755 : type === 'symlink' ? 0o777 : 0o644;
    const mtime = toTimespec(m.mtime ?? this.defaultTime);
    const mode = m.mode ?? defMode;
    if (!Number.isInteger(mode) || mode < 0 || mode > 0o7777)
      throw new UsageError('E_USAGE_MODE', `mode ${mode} is not a permission mode (0..07777)`, { actual: mode });
    const uid = m.uid ?? 0;
    const gid = m.gid ?? 0;
    if (!isId(uid))
      throw new UsageError('E_USAGE_OWNER', `uid ${uid} is not a 32-bit id`, { field: 'uid', actual: uid });
    if (!isId(gid))
      throw new UsageError('E_USAGE_OWNER', `gid ${gid} is not a 32-bit id`, { field: 'gid', actual: gid });
    // times are immutable values: equal ones may be one object (the default shares mtime's)
    return {
      mode,
      uid,
      gid,
      mtime,
      atime: m.atime !== undefined ? toTimespec(m.atime) : mtime,
      ctime: m.ctime !== undefined ? toTimespec(m.ctime) : mtime,
      xattrs: toXattrs(m.xattrs),
    };
  }

  private newNode(type: NodeType, m: MetaInput, extra: Record<string, unknown> = {}): TreeNode {
    const base = { type, ...this.meta(type, m), ...extra };
    if (type === 'dir') (base as Record<string, unknown>).children = new Map();
    return base as unknown as TreeNode;
  }

  /** The node at `path` (symlinks are not followed), or undefined. */
  get(path: string): TreeNode | undefined {
    let node: TreeNode = this.root;
    for (const c of splitPath(path)) {
      if (node.type !== 'dir') return undefined;
      const next = node.children.get(c);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  has(path: string): boolean {
    return this.get(path) !== undefined;
  }

  /** Create a directory and any missing parents (mkdir -p). Existing directories get `meta` applied when given. */
  mkdir(path: string, m?: MetaInput): DirNode {
    const parts = splitPath(path);
    let dir: DirNode = this.root;
    for (let i = 0; i < parts.length; i++) {
      const c = parts[i]!;
      const last = i === parts.length - 1;
      const next: TreeNode | undefined = dir.children.get(c);
      if (!next) {
        const made = this.newNode('dir', last ? (m ?? {}) : {}) as DirNode;
        dir.children.set(c, made);
        dir = made;
      } else if (next.type !== 'dir') {
        throw new PathError(
          'E_PATH_NOT_DIR',
          `cannot create directory ${'/' + parts.slice(0, i + 1).join('/')}: a ${next.type} exists there`,
          { path },
        );
      } else {
        if (last && m) Object.assign(next, this.meta('dir', m));
        dir = next;
      }
    }
    if (parts.length === 0 && m) Object.assign(this.root, this.meta('dir', m));
    return dir;
  }

  /** Insert `node` at `path`, creating parents. Fails if the name exists unless `replace`. */
  put(path: string, node: TreeNode, opts: { replace?: boolean } = {}): TreeNode {
    const parts = splitPath(path);
    if (parts.length === 0)
      throw new PathError('E_PATH_ROOT', `cannot replace the root directory with a ${node.type}`, { path });
    const name = parts.pop()!;
    const dir = this.mkdir('/' + parts.join('/'));
    const existing = dir.children.get(name);
    if (existing && !opts.replace)
      throw new PathError('E_PATH_EXISTS', `${path} already exists (a ${existing.type})`, { path });
    dir.children.set(name, node);
    return node;
  }

  addFile(path: string, content: Content | Uint8Array | string, m?: MetaInput, opts?: { replace?: boolean }) {
    const c = typeof content === 'string' || content instanceof Uint8Array ? bytesContent(content) : content;
    return this.put(path, this.newNode('file', m ?? {}, { content: c }), opts);
  }

  addSymlink(path: string, target: string, m?: MetaInput, opts?: { replace?: boolean }): SymlinkNode {
    if (target.length === 0) throw new PathError('E_PATH_EMPTY_LINK', `symlink ${path} has an empty target`, { path });
    if (target.includes('\0'))
      throw new PathError('E_PATH_NUL', `symlink target of ${path} contains a NUL byte`, { path });
    return this.put(path, this.newNode('symlink', m ?? {}, { target }), opts) as SymlinkNode;
  }

  /** Make `path` another name for the node at `existing` (a hard link). */
  addHardLink(path: string, existing: string, opts?: { replace?: boolean }): TreeNode {
    const node = this.get(existing);
    if (!node)
      throw new PathError('E_PATH_NOT_FOUND', `hard link ${path}: target ${existing} does not exist`, { path });
    if (node.type === 'dir')
      throw new PathError('E_PATH_DIR_LINK', `hard link ${path}: ${existing} is a directory`, { path });
    return this.put(path, node, opts);
  }

  addDevice(
    path: string,
    kind: 'char' | 'block',
    major: number,
    minor: number,
    m?: MetaInput,
    opts?: { replace?: boolean },
  ) {
    if (
      !Number.isInteger(major) ||
      major < 0 ||
      major > 0xfff ||
      !Number.isInteger(minor) ||
      minor < 0 ||
      minor > 0xfffff
    ) {
      throw new UsageError(
        'E_USAGE_DEVICE',
        `device ${path}: major ${major} / minor ${minor} out of range (major 0..4095, minor 0..1048575)`,
        { path },
      );
    }
    return this.put(
      path,
      this.newNode(kind === 'char' ? 'chardev' : 'blockdev', { mode: 0o600, ...m }, { major, minor }),
      opts,
    );
  }

  addFifo(path: string, m?: MetaInput, opts?: { replace?: boolean }) {
    return this.put(path, this.newNode('fifo', m ?? {}), opts);
  }

  addSocket(path: string, m?: MetaInput, opts?: { replace?: boolean }) {
    return this.put(path, this.newNode('socket', m ?? {}), opts);
  }

  /** Remove the entry at `path` (and everything under it). Returns whether it existed. */
  remove(path: string): boolean {
    const parts = splitPath(path);
    const name = parts.pop();
    if (name === undefined) throw new PathError('E_PATH_ROOT', 'cannot remove the root directory', { path });
    const dir = this.get('/' + parts.join('/'));
    return dir?.type === 'dir' ? dir.children.delete(name) : false;
  }

  /**
   * Depth-first, pre-order walk in byte order of names, the root first. One
   * frame per open directory (its sorted names): a flat directory of many
   * entries is not expanded into pending entries.
   */
  *walk(): Generator<WalkEntry> {
    const root: WalkEntry = { path: '/', node: this.root, name: '', parent: undefined, depth: 0 };
    yield root;
    const frames: Array<{ e: WalkEntry; names: string[]; i: number }> = [];
    const open = (e: WalkEntry) => {
      if (e.node.type === 'dir' && e.node.children.size) frames.push({ e, names: sortedNames(e.node), i: 0 });
    };
    open(root);
    while (frames.length) {
      const f = frames[frames.length - 1]!;
      if (f.i >= f.names.length) {
        frames.pop();
        continue;
      }
      const n = f.names[f.i++]!;
      const dir = f.e.node as DirNode;
      const e: WalkEntry = {
        path: joinPath(f.e.path, n),
        node: dir.children.get(n)!,
        name: n,
        parent: dir,
        depth: f.e.depth + 1,
      };
      yield e;
      open(e);
    }
  }

  /** Number of names each node has (hard-link count for non-directories). */
  linkCounts(): Map<TreeNode, number> {
    const m = new Map<TreeNode, number>();
    for (const e of this.walk()) if (e.node.type !== 'dir') m.set(e.node, (m.get(e.node) ?? 0) + 1);
    return m;
  }

  /**
   * Simple statistics: entries by type, distinct nodes and total file bytes
   * (hard links counted once). `entries` is counted at once without keeping
   * anything per entry; the other counts need a set of every node, made on
   * the first read of one of them (writers report only `entries`, at their
   * end, when a set of every node would add to their peak memory).
   */
  stats(): { entries: number; nodes: number; dirs: number; files: number; bytes: number } {
    // unordered: no sorted names, path or entry object per entry
    let entries = 1;
    forEachEntry(this.root, () => entries++);
    let distinct: { nodes: number; dirs: number; files: number; bytes: number } | undefined;
    const more = () => (distinct ??= this.distinctStats());
    return {
      entries,
      get nodes() {
        return more().nodes;
      },
      get dirs() {
        return more().dirs;
      },
      get files() {
        return more().files;
      },
      get bytes() {
        return more().bytes;
      },
    };
  }

  private distinctStats(): { nodes: number; dirs: number; files: number; bytes: number } {
    const seen = new Set<TreeNode>([this.root]);
    let dirs = 1,
      files = 0,
      bytes = 0;
    forEachEntry(this.root, (node) => {
      if (seen.has(node)) return;
      seen.add(node);
      if (node.type === 'dir') dirs++;
      else if (node.type === 'file') {
        files++;
        bytes += node.content.size;
      }
    });
    return { nodes: seen.size, dirs, files, bytes };
  }
}

export function sortedNames(dir: DirNode): string[] {
  return sortedChildNames(dir);
}
