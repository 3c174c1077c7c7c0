/**
 * Extended attribute layout for the writer: split a node's xattrs between
 * the in-inode area (256-byte inodes) and one external block, and encode
 * both (Documentation/filesystems/ext4/attributes.rst).
 */
import { CapacityError, UsageError } from '../../errors.js';
import { xattrBlockHash, xattrEntryHash } from './csum.js';
import { XATTR_MAGIC, XATTR_PREFIXES, xattrEntry, xattrHeader } from './structs.js';

export interface XEntry {
  index: number;
  name: Uint8Array;
  value: Uint8Array;
  full: string;
}

const enc = new TextEncoder();
const pad4 = (n: number) => (n + 3) & ~3;
export const entryLen = (e: XEntry) => pad4(16 + e.name.length);
export const valueLen = (e: XEntry) => pad4(e.value.length);

/** Split a full attribute name into (name index, suffix). */
export function splitXattrName(full: string, path: string): { index: number; name: Uint8Array } {
  for (const [index, prefix] of XATTR_PREFIXES) {
    if (prefix.endsWith('.') ? full.startsWith(prefix) && full.length > prefix.length : full === prefix) {
      return { index, name: enc.encode(full.slice(prefix.length)) };
    }
  }
  throw new UsageError(
    'E_USAGE_XATTR_NAME',
    `${path}: extended attribute '${full}' has no namespace ext4 can store (user., trusted., security., system.)`,
    { path, field: full },
  );
}

function sortKey(a: XEntry, b: XEntry): number {
  if (a.index !== b.index) return a.index - b.index;
  if (a.name.length !== b.name.length) return a.name.length - b.name.length;
  for (let i = 0; i < a.name.length; i++) if (a.name[i] !== b.name[i]) return a.name[i]! - b.name[i]!;
  return 0;
}

export function xattrEntries(x: Map<string, Uint8Array>, path: string): XEntry[] {
  const out: XEntry[] = [];
  for (const [full, value] of x) {
    const { index, name } = splitXattrName(full, path);
    if (name.length > 255)
      throw new UsageError('E_USAGE_XATTR_NAME', `${path}: xattr name '${full}' is too long`, { path, field: full });
    out.push({ index, name, value: index === 2 || index === 3 ? aclToDisk(value) : value, full });
  }
  return out.sort(sortKey);
}

/**
 * POSIX ACLs arrive in the Linux xattr format (version 2, 8-byte entries,
 * what getfattr shows); ext4 stores its own format (version 1, 4-byte
 * entries for USER_OBJ/GROUP_OBJ/MASK/OTHER, 8-byte for USER/GROUP).
 * Values not in the xattr format are kept as they are.
 */
export function aclToDisk(v: Uint8Array): Uint8Array {
  if (v.length < 4 || (v.length - 4) % 8 !== 0) return v;
  const dv = new DataView(v.buffer, v.byteOffset, v.length);
  if (dv.getUint32(0, true) !== 2) return v;
  const n = (v.length - 4) / 8;
  const out: number[] = [1, 0, 0, 0];
  for (let i = 0; i < n; i++) {
    const tag = dv.getUint16(4 + i * 8, true);
    const perm = dv.getUint16(6 + i * 8, true);
    const id = dv.getUint32(8 + i * 8, true);
    out.push(tag & 0xff, tag >> 8, perm & 0xff, perm >> 8);
    if (tag === 0x02 || tag === 0x08) out.push(id & 0xff, (id >>> 8) & 0xff, (id >>> 16) & 0xff, id >>> 24);
    else if (tag !== 0x01 && tag !== 0x04 && tag !== 0x10 && tag !== 0x20) return v;
  }
  return Uint8Array.from(out);
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
  path: string,
): { inode: XEntry[]; block: XEntry[] } {
  const inode: XEntry[] = [];
  const block: XEntry[] = [];
  let used = 4; // end marker
  const avail = ibodySpace - 4; // magic
  for (const e of entries) {
    const need = entryLen(e) + valueLen(e);
    if (avail > 0 && used + need <= avail) {
      inode.push(e);
      used += need;
    } else block.push(e);
  }
  if (block.length) {
    let bused = 32 + 4;
    for (const e of block) bused += entryLen(e) + valueLen(e);
    if (bused > blockSize) {
      throw new CapacityError(
        'E_LIMIT_XATTR',
        `${path}: extended attributes need ${bused} bytes; ext4 holds ${blockSize} per block (plus ${Math.max(0, avail)} in the inode)`,
        { path, actual: bused, expected: blockSize },
      );
    }
  }
  return { inode, block };
}

/** Encode the in-inode xattr area (magic + entries + values) into `area`. */
export function encodeIbody(entries: XEntry[], area: Uint8Array): void {
  if (!entries.length) return;
  const dv = new DataView(area.buffer, area.byteOffset, area.byteLength);
  dv.setUint32(0, XATTR_MAGIC, true);
  const base = 4; // value offsets count from the first entry
  let eoff = base;
  let vend = area.length;
  for (const e of entries) {
    let voff = 0;
    if (e.value.length) {
      vend -= valueLen(e);
      area.set(e.value, vend);
      voff = vend - base;
    }
    xattrEntry.encode(
      {
        e_name_len: e.name.length,
        e_name_index: e.index,
        e_value_offs: voff,
        e_value_inum: 0,
        e_value_size: e.value.length,
        e_hash: xattrEntryHash(e.name, e.value),
      },
      area,
      eoff,
    );
    area.set(e.name, eoff + 16);
    eoff += entryLen(e);
  }
}

/** Encode an external xattr block (checksum left zero; the caller sets it with the block number). */
export function encodeBlock(entries: XEntry[], blockSize: number): Uint8Array {
  const b = new Uint8Array(blockSize);
  let eoff = 32;
  let vend = blockSize;
  const hashes: number[] = [];
  for (const e of entries) {
    let voff = 0;
    if (e.value.length) {
      vend -= valueLen(e);
      b.set(e.value, vend);
      voff = vend;
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
      b,
      eoff,
    );
    b.set(e.name, eoff + 16);
    eoff += entryLen(e);
  }
  xattrHeader.encode(
    { h_magic: XATTR_MAGIC, h_refcount: 1, h_blocks: 1, h_hash: xattrBlockHash(hashes), h_checksum: 0 },
    b,
    0,
  );
  return b;
}
