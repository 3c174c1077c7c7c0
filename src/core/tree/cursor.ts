/**
 * A pre-order, depth-first cursor over a tree in the writers' order (the
 * root first, then each directory's names in UTF-8 byte order), the same
 * order as `FileTree.walk()`, without an object or a path string per entry:
 * one frame per open directory (its sorted names), so a directory of a
 * million names costs one array, not a million pending entries. Writers that
 * need paths keep their own prefix (see PathBytes) keyed by `depth`.
 */
import { compareNames } from './path.js';
import type { DirNode, TreeNode } from './types.js';

interface Frame {
  dir: DirNode;
  names: string[];
  i: number;
}

/** The names of a directory in UTF-8 byte order. */
export function sortedChildNames(dir: DirNode): string[] {
  const names = [...dir.children.keys()];
  if (names.length < 2) return names;
  // The built-in sort (no comparator: UTF-16 code units, in native code, with no call back into
  // JavaScript per comparison) is UTF-8 byte order when no name has a unit from 0xD800 up;
  // otherwise compareNames decides.
  for (const n of names) if (WIDE.test(n)) return names.sort(compareNames);
  return names.sort();
}

/** A UTF-16 unit where code-unit order and UTF-8 byte order can disagree. */
const WIDE = /[\uD800-\uFFFF]/;

/**
 * Call `fn` on every entry under `root` (not the root itself), in no
 * particular order: for counts and sums, which need no sorting (the cursor
 * sorts every directory's names).
 */
export function forEachEntry(root: DirNode, fn: (node: TreeNode) => void): void {
  const stack: DirNode[] = [root];
  for (let d = stack.pop(); d; d = stack.pop())
    for (const node of d.children.values()) {
      fn(node);
      if (node.type === 'dir') stack.push(node);
    }
}

export class TreeCursor {
  /** The current entry (the root before the first `next()` and after it). */
  node: TreeNode;
  /** Its name in its parent ('' for the root). */
  name = '';
  /** 0 for the root, 1 for its children, ... */
  depth = 0;
  /** The directory holding the current entry (undefined for the root). */
  parent: DirNode | undefined;
  private readonly frames: Frame[] = [];
  private started = false;
  private descend = false;

  constructor(private readonly root: DirNode) {
    this.node = root;
  }

  /** Move to the next entry; false at the end. The first call stays on the root. */
  next(): boolean {
    if (!this.started) {
      this.started = true;
      this.descend = true;
      return true;
    }
    if (this.descend && this.node.type === 'dir') {
      const names = sortedChildNames(this.node);
      if (names.length) this.frames.push({ dir: this.node, names, i: 0 });
    }
    for (;;) {
      const f = this.frames[this.frames.length - 1];
      if (!f) return false;
      if (f.i >= f.names.length) {
        this.frames.pop();
        continue;
      }
      const name = f.names[f.i++]!;
      this.name = name;
      this.node = f.dir.children.get(name)!;
      this.parent = f.dir;
      this.depth = this.frames.length;
      this.descend = true;
      return true;
    }
  }

  /** Do not enter the current directory. */
  skipChildren(): void {
    this.descend = false;
  }

  /** Start again from the root. */
  reset(): void {
    this.frames.length = 0;
    this.node = this.root;
    this.name = '';
    this.depth = 0;
    this.parent = undefined;
    this.started = false;
  }
}

const enc = new TextEncoder();

/**
 * The UTF-8 bytes of the current path, kept as a prefix stack: `set(depth,
 * name)` replaces the component at `depth` (1 = a child of the root) and
 * everything below it. No string is built per entry.
 */
export class PathBytes {
  buf = new Uint8Array(256);
  /** Bytes of the path (no leading '/'; components joined by '/'). */
  length = 0;
  private ends = new Int32Array(16);

  /** Set the component at `depth` (>= 1); returns the bytes of that component alone. */
  set(depth: number, name: string): number {
    if (depth >= this.ends.length) {
      const e = new Int32Array(Math.max(depth + 1, this.ends.length * 2));
      e.set(this.ends);
      this.ends = e;
    }
    let pos = depth > 1 ? this.ends[depth - 1]! : 0;
    if (depth > 1) this.ensure(pos + 1)[pos++] = 0x2f;
    const start = pos;
    pos = writeUtf8(this, name, pos);
    this.ends[depth] = pos;
    this.length = pos;
    return pos - start;
  }

  /** Make room for `n` bytes; returns the (possibly new) buffer. */
  ensure(n: number): Uint8Array {
    if (n > this.buf.length) {
      const b = new Uint8Array(Math.max(n, this.buf.length * 2));
      b.set(this.buf);
      this.buf = b;
    }
    return this.buf;
  }

  /** The current path as a string with a leading '/' (for messages). */
  toString(): string {
    return '/' + new TextDecoder().decode(this.buf.subarray(0, this.length));
  }
}

/** Write `s` as UTF-8 at `pos` in `p.buf` (grown as needed); returns the end. ASCII needs no encoder call. */
function writeUtf8(p: PathBytes, s: string, pos: number): number {
  const n = s.length;
  let buf = p.ensure(pos + n);
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0x80) {
      buf = p.ensure(pos + i + (n - i) * 3);
      const r = enc.encodeInto(s.slice(i), buf.subarray(pos + i));
      return pos + i + r.written;
    }
    buf[pos + i] = c;
  }
  return pos + n;
}

/** UTF-8 length of a string (no allocation for ASCII). */
export function utf8Length(s: string): number {
  const n = s.length;
  for (let i = 0; i < n; i++) if (s.charCodeAt(i) >= 0x80) return i + enc.encode(s.slice(i)).length;
  return n;
}
