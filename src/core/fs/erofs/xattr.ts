/**
 * Extended attributes: each is stored either inline, in the region right
 * after its inode, or once in the shared area that inodes point into by a
 * 4-byte id (its byte offset there / 4). An attribute (name and value) that
 * `sharedMin` or more inodes carry is shared, as mkfs.erofs shares those
 * above its tolerance; so is any attribute that would make an inode's inline
 * region too large to sit with its inode in one block.
 */
import { CapacityError } from '../../errors.js';
import type { TreeNode } from '../../tree/types.js';
import { XATTR_ENTRY, XATTR_IBODY_HEADER, XATTR_PREFIXES, XATTR_VALUE_MAX, xattrAlign } from './structs.js';

const enc = new TextEncoder();

/** One attribute as stored: name index, name suffix, value. */
export interface XattrItem {
  index: number;
  suffix: Uint8Array;
  value: Uint8Array;
  /** name + NUL + value (latin1): identifies equal attributes across inodes. */
  key: string;
}

/** Index and suffix of a full attribute name, or undefined when EROFS has no prefix for it. */
export function splitXattrName(name: string): { index: number; suffix: string } | undefined {
  for (const [index, prefix] of XATTR_PREFIXES) {
    // the ACL names are whole names; the others are namespaces with a suffix
    if (prefix.endsWith('.') ? name.startsWith(prefix) && name.length > prefix.length : name === prefix)
      return { index, suffix: name.slice(prefix.length) };
  }
  return undefined;
}

/** Bytes one entry takes (header, suffix, value, padded to 4). */
export function entrySize(it: Pick<XattrItem, 'suffix' | 'value'>): number {
  return xattrAlign(XATTR_ENTRY.size + it.suffix.length + it.value.length);
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

/**
 * A node's attributes as EROFS stores them, sorted by full name; names
 * without an EROFS prefix go to `skipped`. Values over 65535 bytes do not
 * fit an entry (CapacityError naming the path).
 */
export function nodeXattrs(node: TreeNode, path: () => string, skipped?: (name: string) => void): XattrItem[] {
  if (node.xattrs.size === 0) return [];
  const out: XattrItem[] = [];
  for (const name of [...node.xattrs.keys()].sort()) {
    const split = splitXattrName(name);
    const suffix = split ? enc.encode(split.suffix) : undefined;
    if (!split || !suffix || suffix.length > 255) {
      skipped?.(name);
      continue;
    }
    const value = node.xattrs.get(name)!;
    if (value.length > XATTR_VALUE_MAX)
      throw new CapacityError(
        'E_LIMIT_EROFS_XATTR',
        `${path()}: extended attribute ${name} has ${value.length} bytes; EROFS values hold at most ${XATTR_VALUE_MAX}`,
        { path: path(), field: name, actual: value.length, expected: XATTR_VALUE_MAX },
      );
    out.push({ index: split.index, suffix, value, key: `${name}\0${latin1(value)}` });
  }
  return out;
}

/** Encode one entry at `at` in `buf`; returns the bytes used (padded). */
export function encodeEntry(it: XattrItem, buf: Uint8Array, at: number): number {
  XATTR_ENTRY.encode({ nameLen: it.suffix.length, nameIndex: it.index, valueSize: it.value.length }, buf, at);
  buf.set(it.suffix, at + XATTR_ENTRY.size);
  buf.set(it.value, at + XATTR_ENTRY.size + it.suffix.length);
  return entrySize(it);
}

/** The shared area: attributes in first-use order, each at a 4-byte aligned offset (its id * 4). */
export class SharedXattrs {
  /** key -> id (offset / 4). */
  readonly ids = new Map<string, number>();
  readonly items: XattrItem[] = [];
  size = 0;

  add(it: XattrItem): void {
    if (this.ids.has(it.key)) return;
    this.ids.set(it.key, this.size / 4);
    this.items.push(it);
    this.size += entrySize(it);
  }

  /** The area's bytes (zero-padded to `padTo`). */
  encode(padTo: number): Uint8Array {
    const buf = new Uint8Array(Math.ceil(this.size / padTo) * padTo);
    let at = 0;
    for (const it of this.items) at += encodeEntry(it, buf, at);
    return buf;
  }
}

/**
 * Which attributes are shared: those carried by `sharedMin` or more inodes
 * (0: none by count), then, inode by inode, the largest inline ones of any
 * inode whose region would not fit `maxInline` bytes.
 */
export function chooseShared(
  nodes: Iterable<XattrItem[]>,
  counts: Map<string, number>,
  sharedMin: number,
  maxInline: number,
): SharedXattrs {
  const shared = new SharedXattrs();
  const isShared = new Set<string>();
  if (sharedMin > 0) for (const [k, n] of counts) if (n >= sharedMin) isShared.add(k);
  for (const items of nodes) {
    let size = ibodySize(items, isShared);
    if (size > maxInline) {
      const inline = items.filter((it) => !isShared.has(it.key)).sort((a, b) => entrySize(b) - entrySize(a));
      for (const it of inline) {
        if (size <= maxInline) break;
        isShared.add(it.key);
        size = ibodySize(items, isShared);
      }
    }
    for (const it of items) if (isShared.has(it.key)) shared.add(it);
  }
  return shared;
}

/** Size of the inline region for `items` when the keys in `shared` are shared (0 without attributes). */
export function ibodySize(items: XattrItem[], shared: { has(key: string): boolean }): number {
  if (items.length === 0) return 0;
  let size = XATTR_IBODY_HEADER.size;
  for (const it of items) size += shared.has(it.key) ? 4 : entrySize(it);
  return size;
}

/** Encode an inode's xattr region (header, shared ids, inline entries) at `at`; returns its size. */
export function encodeIbody(items: XattrItem[], shared: SharedXattrs, buf: Uint8Array, at: number): number {
  if (items.length === 0) return 0;
  const ids: number[] = [];
  const inline: XattrItem[] = [];
  for (const it of items) {
    const id = shared.ids.get(it.key);
    if (id !== undefined) ids.push(id);
    else inline.push(it);
  }
  if (ids.length > 255)
    throw new CapacityError('E_LIMIT_EROFS_XATTR', `an inode refers to ${ids.length} shared attributes (at most 255)`, {
      actual: ids.length,
    });
  XATTR_IBODY_HEADER.encode({ nameFilter: 0, sharedCount: ids.length }, buf, at);
  let p = at + XATTR_IBODY_HEADER.size;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  for (const id of ids) {
    v.setUint32(p, id, true);
    p += 4;
  }
  for (const it of inline) p += encodeEntry(it, buf, p);
  return p - at;
}
