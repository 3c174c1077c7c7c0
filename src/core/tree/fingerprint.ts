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
import type { FileTree } from './tree.js';

const enc = new TextEncoder();
const PRIME = 0x01000193;
const OFFSETS = [0x811c9dc5, 0x050c5d1f, 0x6c62272e, 0x9e3779b9];

class Fnv128 {
  private h = Uint32Array.from(OFFSETS);

  bytes(b: Uint8Array): void {
    const h = this.h;
    let a = h[0]!,
      c = h[1]!,
      d = h[2]!,
      e = h[3]!;
    for (let i = 0; i < b.length; i++) {
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

  /** The UTF-8 bytes of `s`: ASCII hashed from the string itself, the rest (from its first other character) encoded. */
  str(s: string): void {
    const h = this.h;
    let a = h[0]!,
      c = h[1]!,
      d = h[2]!,
      e = h[3]!;
    let i = 0;
    for (; i < s.length; i++) {
      const x = s.charCodeAt(i);
      if (x >= 0x80) break;
      a = Math.imul(a ^ x, PRIME);
      c = Math.imul(c ^ x ^ 0x5a, PRIME);
      d = Math.imul(d ^ ((x + 0x3c) & 0xff), PRIME);
      e = Math.imul(e ^ (x ^ 0xa5), PRIME);
    }
    h[0] = a;
    h[1] = c;
    h[2] = d;
    h[3] = e;
    if (i < s.length) this.bytes(enc.encode(i === 0 ? s : s.slice(i)));
  }

  text(s: string): void {
    this.str(s);
    this.bytes(SEP);
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

const SEP = new Uint8Array([0]);

/** 32 hex digits that change when any entry's metadata changes (file contents are not read). */
export function treeFingerprint(tree: FileTree): string {
  const f = new Fnv128();
  const seen = new Map<object, number>();
  for (const e of tree.walk()) {
    const n = e.node;
    // a hard link is the same node again: its first path stands for its metadata
    const first = seen.get(n);
    if (first !== undefined && n.type !== 'dir') {
      f.text(`${e.path}\0=${first}`);
      continue;
    }
    seen.set(n, seen.size);
    let extra = '';
    if (n.type === 'file') extra = String(n.content.size);
    else if (n.type === 'symlink') extra = n.target;
    else if (n.type === 'chardev' || n.type === 'blockdev') extra = `${n.major}:${n.minor}`;
    // the same bytes as one string of the fields joined by NUL, hashed piece by piece (FNV-1a streams)
    f.str(e.path);
    f.bytes(SEP);
    f.str(n.type);
    f.bytes(SEP);
    f.str(`${n.mode}\0${n.uid}\0${n.gid}\0${n.mtime.sec}.${n.mtime.nsec}\0`);
    f.text(extra);
    for (const [k, v] of n.xattrs) {
      f.text(k);
      f.bytes(v);
    }
  }
  return f.hex();
}
