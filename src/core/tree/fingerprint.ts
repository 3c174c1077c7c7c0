/**
 * A fingerprint of a tree's metadata: every path, type, mode, owner, time,
 * size, link target, device number and extended attribute (not file
 * contents, which would mean reading every byte). Writers derive their
 * default identifiers from it (filesystem UUIDs, FAT volume ids, disk GUIDs,
 * MBR signatures), so different trees get different ids while the same tree
 * gets the same bytes.
 *
 * 128 bits from four 32-bit FNV-1a lanes with distinct offsets, mixed at the
 * end; not a cryptographic hash, and nothing here needs one.
 */
import { PathBytes, TreeCursor } from './cursor.js';
import type { FileTree } from './tree.js';
import type { TreeNode } from './types.js';

const enc = new TextEncoder();
const PRIME = 0x01000193;
const OFFSETS = [0x811c9dc5, 0x050c5d1f, 0x6c62272e, 0x9e3779b9];

class Fnv128 {
  private h = Uint32Array.from(OFFSETS);

  bytes(b: Uint8Array, end = b.length): void {
    const h = this.h;
    let a = h[0]!,
      c = h[1]!,
      d = h[2]!,
      e = h[3]!;
    for (let i = 0; i < end; i++) {
      const x = b[i]!;
      a = Math.imul(a ^ x, PRIME);
      c = Math.imul(c ^ x ^ 0x5a, PRIME);
      d = Math.imul(d ^ ((x + 0x3c) & 0xff), PRIME);
      e = Math.imul(e ^ (x ^ 0xa5), PRIME);
    }
    h[0] = a;
    h[1] = c;
    h[2] = d;
    h[3] = e;
  }

  hex(): string {
    const h = this.h;
    // final avalanche so every lane depends on every other
    for (let r = 0; r < 4; r++) {
      for (let i = 0; i < 4; i++) {
        let x = (h[i]! ^ h[(i + 1) & 3]! ^ (h[(i + 2) & 3]! >>> 7)) >>> 0;
        x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
        x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
        h[i] = (x ^ (x >>> 16)) >>> 0;
      }
    }
    return [...h].map((x) => x.toString(16).padStart(8, '0')).join('');
  }
}

/**
 * One hashed record (the UTF-8 of a string such as `path\0type\0mode...`
 * and its NUL separator), built in a reused buffer: no string per entry.
 */
class Line {
  buf = new Uint8Array(1024);
  len = 0;
  private room(n: number): Uint8Array {
    if (this.len + n > this.buf.length) {
      const b = new Uint8Array(Math.max(this.len + n, this.buf.length * 2));
      b.set(this.buf.subarray(0, this.len));
      this.buf = b;
    }
    return this.buf;
  }
  byte(x: number): void {
    this.room(1)[this.len++] = x;
  }
  raw(b: Uint8Array, end = b.length): void {
    const out = this.room(end);
    for (let i = 0; i < end; i++) out[this.len + i] = b[i]!;
    this.len += end;
  }
  /** UTF-8 of `s` (ASCII without the encoder). */
  text(s: string): void {
    const n = s.length;
    const b = this.room(n);
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c >= 0x80) {
        this.len += i;
        this.raw(enc.encode(s.slice(i)));
        return;
      }
      b[this.len + i] = c;
    }
    this.len += n;
  }
  /** A number as String(n) spells it (integers without a string). */
  num(n: number): void {
    if (!Number.isSafeInteger(n) || n < 0) return this.text(String(n));
    if (n >= BILLION) {
      // seconds and the like: the high part, then nine digits, each small enough for integer arithmetic
      const hi = Math.floor(n / BILLION);
      this.num(hi);
      this.digits(n - hi * BILLION, 9);
      return;
    }
    let digits = 1;
    while (digits < 9 && n >= POW10[digits]!) digits++;
    this.digits(n, digits);
  }
  /** `x` (below 10^9) in exactly `digits` decimal digits, zero-padded. */
  private digits(x: number, digits: number): void {
    const b = this.room(digits);
    let v = x | 0;
    for (let i = this.len + digits - 1; i >= this.len; i--) {
      const q = (v / 10) | 0;
      b[i] = 0x30 + (v - q * 10);
      v = q;
    }
    this.len += digits;
  }
}

const NUL = 0;
const SLASH = 0x2f;
const BILLION = 1e9;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8];

/** 32 hex digits that change when any entry's metadata changes (file contents are not read). */
export function treeFingerprint(tree: FileTree): string {
  return treeFingerprintShared(tree).fingerprint;
}

/**
 * treeFingerprint, and the nodes its walk met more than once (hard links, a
 * directory named twice): a writer numbering nodes can then skip its own
 * lookup for every other node.
 */
export function treeFingerprintShared(tree: FileTree): { fingerprint: string; shared: Set<TreeNode> } {
  const shared = new Set<TreeNode>();
  const f = new Fnv128();
  const seen = new Map<TreeNode, number>();
  const c = new TreeCursor(tree.root);
  const path = new PathBytes();
  const l = new Line();
  while (c.next()) {
    const n = c.node;
    // each record: the entry's path ('/', '/a', '/a/b'), then its fields, NUL-separated
    l.len = 0;
    l.byte(SLASH);
    if (c.depth > 0) {
      path.set(c.depth, c.name);
      l.raw(path.buf, path.length);
    }
    l.byte(NUL);
    // a hard link is the same node again: its first path stands for its metadata
    const first = seen.get(n);
    if (first !== undefined) shared.add(n);
    if (first !== undefined && n.type !== 'dir') {
      l.byte(0x3d); // '='
      l.num(first);
      l.byte(NUL);
      f.bytes(l.buf, l.len);
      continue;
    }
    seen.set(n, seen.size);
    l.text(n.type);
    l.byte(NUL);
    l.num(n.mode);
    l.byte(NUL);
    l.num(n.uid);
    l.byte(NUL);
    l.num(n.gid);
    l.byte(NUL);
    l.num(n.mtime.sec);
    l.byte(0x2e); // '.'
    l.num(n.mtime.nsec);
    l.byte(NUL);
    if (n.type === 'file') l.num(n.content.size);
    else if (n.type === 'symlink') l.text(n.target);
    else if (n.type === 'chardev' || n.type === 'blockdev') {
      l.num(n.major);
      l.byte(0x3a); // ':'
      l.num(n.minor);
    }
    l.byte(NUL);
    if (n.xattrs.size)
      for (const [k, v] of n.xattrs) {
        l.text(k);
        l.byte(NUL);
        l.raw(v);
      }
    f.bytes(l.buf, l.len);
  }
  return { fingerprint: f.hex(), shared };
}
