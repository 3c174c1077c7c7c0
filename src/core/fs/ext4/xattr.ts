/**
 * Extended attribute layout for the writer: split a node's xattrs between
 * the in-inode area (256-byte inodes) and one external block, and encode
 * both (Documentation/filesystems/ext4/attributes.rst).
 */
import { CapacityError, UsageError } from '../../errors.js';
import { aclForDisk } from './acl.js';
import { xattrBlockHash, xattrEntryHash } from './csum.js';
import {
  XATTR_END_SIZE,
  XATTR_INDEX,
  XATTR_MAGIC,
  XATTR_PREFIXES,
  XATTR_ROUND,
  xattrEntry,
  xattrHeader,
  xattrIbodyHeader,
} from './structs.js';
import { pathAt, type Where } from './where.js';

export interface XEntry {
  index: number;
  name: Uint8Array;
  value: Uint8Array;
  full: string;
}

const enc = new TextEncoder();
const pad = (n: number) => Math.ceil(n / XATTR_ROUND) * XATTR_ROUND;
export const entryLen = (e: XEntry) => pad(xattrEntry.size + e.name.length);
export const valueLen = (e: XEntry) => pad(e.value.length);
const isAcl = (index: number) => index === XATTR_INDEX.POSIX_ACL_ACCESS || index === XATTR_INDEX.POSIX_ACL_DEFAULT;

/** Split a full attribute name into (name index, suffix). */
export function splitXattrName(full: string, where: Where): { index: number; name: Uint8Array } {
  for (const [index, prefix] of XATTR_PREFIXES) {
    if (prefix.endsWith('.') ? full.startsWith(prefix) && full.length > prefix.length : full === prefix) {
      return { index, name: enc.encode(full.slice(prefix.length)) };
    }
  }
  const path = pathAt(where);
  throw new UsageError(
    'E_USAGE_XATTR_NAME',
    `${path}: extended attribute '${full}' has no namespace ext4 can store (user., trusted., security., system., gnu.)`,
    { path, field: full },
  );
}

function sortKey(a: XEntry, b: XEntry): number {
  if (a.index !== b.index) return a.index - b.index;
  if (a.name.length !== b.name.length) return a.name.length - b.name.length;
  for (let i = 0; i < a.name.length; i++) if (a.name[i] !== b.name[i]) return a.name[i]! - b.name[i]!;
  return 0;
}

export function xattrEntries(x: Map<string, Uint8Array>, where: Where): XEntry[] {
  const out: XEntry[] = [];
  for (const [full, value] of x) {
    const { index, name } = splitXattrName(full, where);
    if (name.length > 255) {
      const path = pathAt(where);
      throw new UsageError('E_USAGE_XATTR_NAME', `${path}: xattr name '${full}' is too long`, { path, field: full });
    }
    out.push({ index, name, value: isAcl(index) ? aclForDisk(value) : value, full });
  }
  return out.sort(sortKey);
}

/**
 * Decide placement: entries that fit in `ibodySpace` bytes (after the 4-byte
 * magic, keeping 4 bytes for the end marker) stay in the inode, the rest go
 * to one block of `blockSize` bytes. Throws CapacityError when they do not fit.
 */
export function placeXattrs(
  entries: XEntry[],
  ibodySpace: number,
  blockSize: number,
  where: Where,
): { inode: XEntry[]; block: XEntry[] } {
  const inode: XEntry[] = [];
  const block: XEntry[] = [];
  let used = XATTR_END_SIZE;
  const avail = ibodySpace - xattrIbodyHeader.size;
  for (const e of entries) {
    const need = entryLen(e) + valueLen(e);
    if (avail > 0 && used + need <= avail) {
      inode.push(e);
      used += need;
    } else block.push(e);
  }
  if (block.length) {
    let bused = xattrHeader.size + XATTR_END_SIZE;
    for (const e of block) bused += entryLen(e) + valueLen(e);
    if (bused > blockSize) {
      const path = pathAt(where);
      throw new CapacityError(
        'E_LIMIT_XATTR',
        `${path}: extended attributes need ${bused} bytes; ext4 holds ${blockSize} per block (plus ${Math.max(0, avail)} in the inode)`,
        { path, actual: bused, expected: blockSize },
      );
    }
  }
  return { inode, block };
}

/**
 * Write entries from `start` of `area` and their values down from its end;
 * a value's e_value_offs counts from `valueBase`. Returns the entry hashes.
 */
function putEntries(entries: XEntry[], area: Uint8Array, start: number, valueBase: number): number[] {
  let eoff = start;
  let vend = area.length;
  const hashes: number[] = [];
  for (const e of entries) {
    let voff = 0;
    if (e.value.length) {
      vend -= valueLen(e);
      area.set(e.value, vend);
      voff = vend - valueBase;
    }
    const h = xattrEntryHash(e.name, e.value);
    hashes.push(h);
    xattrEntry.encode(
      {
        e_name_len: e.name.length,
        e_name_index: e.index,
        e_value_offs: voff,
        e_value_inum: 0,
        e_value_size: e.value.length,
        e_hash: h,
      },
      area,
      eoff,
    );
    area.set(e.name, eoff + xattrEntry.size);
    eoff += entryLen(e);
  }
  return hashes;
}

/** Encode the in-inode xattr area (magic + entries + values) into `area`. */
export function encodeIbody(entries: XEntry[], area: Uint8Array): void {
  if (!entries.length) return;
  xattrIbodyHeader.encode({ h_magic: XATTR_MAGIC }, area);
  // value offsets count from the first entry
  putEntries(entries, area, xattrIbodyHeader.size, xattrIbodyHeader.size);
}

/** Encode an external xattr block (checksum left zero; the caller sets it with the block number). */
export function encodeBlock(entries: XEntry[], blockSize: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  const hashes = putEntries(entries, b, xattrHeader.size, 0);
  xattrHeader.encode(
    { h_magic: XATTR_MAGIC, h_refcount: 1, h_blocks: 1, h_hash: xattrBlockHash(hashes), h_checksum: 0 },
    b,
    0,
  );
  return b;
}
