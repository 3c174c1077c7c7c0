/**
 * Extended attributes for the ext4 reader: the in-inode area (after
 * i_extra_isize) and the external block (i_file_acl). Names get their
 * prefix from e_name_index; POSIX ACLs are converted from ext4's compact
 * on-disk form to the VFS xattr form (version 2) that getfattr/setxattr use.
 */
import { FormatError } from '../../errors.js';
import { XATTR_MAGIC, XATTR_PREFIXES } from './structs.js';

export interface RawXattr {
  name: string;
  /** The value, or where to find it (ea_inode feature). */
  value?: Uint8Array;
  valueInode?: number;
  valueSize: number;
}

const PREFIX = new Map<number, string>(XATTR_PREFIXES.map(([i, p]) => [i, p]));
const dec = new TextDecoder('utf-8');

function xerr(msg: string, data: Record<string, unknown>): FormatError {
  return new FormatError('E_FORMAT_XATTR', msg, { format: 'ext4', ...data });
}

/**
 * Parse an entry table. Entries start at `entriesStart` of `buf`, end before
 * `end`; value offsets count from `valueBase`; values must lie in
 * [valuesMin, end).
 */
export function parseXattrEntries(
  buf: Uint8Array,
  entriesStart: number,
  end: number,
  valueBase: number,
  where: Record<string, unknown>,
): RawXattr[] {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const out: RawXattr[] = [];
  let o = entriesStart;
  const seen = new Set<string>();
  while (true) {
    if (o + 4 > end)
      throw xerr(`xattr entries run past the end of their area`, {
        structure: 'ext4_xattr_entry',
        offset: o,
        ...where,
      });
    if (v.getUint32(o, true) === 0) break;
    if (o + 16 > end)
      throw xerr(`xattr entry header runs past the end of its area`, {
        structure: 'ext4_xattr_entry',
        offset: o,
        ...where,
      });
    const nameLen = buf[o]!;
    const index = buf[o + 1]!;
    const valueOffs = v.getUint16(o + 2, true);
    const valueInum = v.getUint32(o + 4, true);
    const valueSize = v.getUint32(o + 8, true);
    if (o + 16 + nameLen > end)
      throw xerr(`xattr name runs past the end of its area`, { structure: 'ext4_xattr_entry', offset: o, ...where });
    const prefix = PREFIX.get(index);
    if (prefix === undefined)
      throw xerr(`xattr entry with unknown name index ${index}`, {
        structure: 'ext4_xattr_entry',
        field: 'e_name_index',
        actual: index,
        offset: o,
        ...where,
      });
    const name = prefix + dec.decode(buf.subarray(o + 16, o + 16 + nameLen));
    if (seen.has(name))
      throw xerr(`xattr ${name} appears twice`, { structure: 'ext4_xattr_entry', offset: o, ...where });
    seen.add(name);
    if (valueInum !== 0) {
      out.push({ name, valueInode: valueInum, valueSize });
    } else if (valueSize === 0) {
      // an empty value has no place in the value area; e2fsprogs and the kernel leave e_value_offs 0
      out.push({ name, value: new Uint8Array(0), valueSize: 0 });
    } else {
      const vs = valueBase + valueOffs;
      if (valueSize > end - entriesStart || vs < entriesStart || vs + valueSize > end)
        throw xerr(`xattr ${name}: value (${valueSize} bytes at ${valueOffs}) lies outside its area`, {
          structure: 'ext4_xattr_entry',
          field: 'e_value_offs',
          offset: o,
          ...where,
        });
      out.push({ name, value: buf.slice(vs, vs + valueSize), valueSize });
    }
    o += (16 + nameLen + 3) & ~3;
  }
  return out;
}

/** In-inode xattrs: `raw` is the whole inode (inodeSize bytes at `off`). */
export function parseInodeXattrs(
  raw: Uint8Array,
  off: number,
  inodeSize: number,
  extraIsize: number,
  ino: number,
): RawXattr[] {
  const start = off + 128 + extraIsize;
  const end = off + inodeSize;
  if (inodeSize <= 128 || start + 4 > end) return [];
  const magic = new DataView(raw.buffer, raw.byteOffset, raw.byteLength).getUint32(start, true);
  if (magic !== XATTR_MAGIC) return [];
  return parseXattrEntries(raw, start + 4, end, start + 4, { inode: ino, where: 'in-inode' });
}

/** External xattr block (checksum verified by the caller). */
export function parseXattrBlock(block: Uint8Array, blockNr: number, ino: number): RawXattr[] {
  const v = new DataView(block.buffer, block.byteOffset, block.byteLength);
  const magic = v.getUint32(0, true);
  if (magic !== XATTR_MAGIC)
    throw xerr(`inode ${ino}: xattr block ${blockNr} has bad magic 0x${magic.toString(16)}`, {
      structure: 'ext4_xattr_header',
      field: 'h_magic',
      inode: ino,
      block: blockNr,
      actual: magic,
    });
  const blocks = v.getUint32(8, true);
  if (blocks !== 1)
    throw xerr(`inode ${ino}: xattr block ${blockNr} claims ${blocks} blocks (only 1 is supported)`, {
      structure: 'ext4_xattr_header',
      field: 'h_blocks',
      inode: ino,
      block: blockNr,
      actual: blocks,
    });
  return parseXattrEntries(block, 32, block.length, 0, { inode: ino, block: blockNr });
}

/** ext4 on-disk ACL (version 1, short entries for *_OBJ/MASK/OTHER) -> VFS posix_acl_xattr (version 2). */
export function aclToXattr(value: Uint8Array, name: string, ino: number): Uint8Array {
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  const bad = () =>
    xerr(`inode ${ino}: ${name} is not a valid ext4 ACL`, { structure: 'ext4_acl', inode: ino, field: name });
  if (value.length < 4 || v.getUint32(0, true) !== 1) throw bad();
  const entries: Array<[number, number, number]> = [];
  let o = 4;
  while (o < value.length) {
    if (o + 4 > value.length) throw bad();
    const tag = v.getUint16(o, true);
    const perm = v.getUint16(o + 2, true);
    if (tag === 2 || tag === 8) {
      // ACL_USER, ACL_GROUP
      if (o + 8 > value.length) throw bad();
      entries.push([tag, perm, v.getUint32(o + 4, true)]);
      o += 8;
    } else if (tag === 1 || tag === 4 || tag === 0x10 || tag === 0x20) {
      entries.push([tag, perm, 0xffffffff]);
      o += 4;
    } else throw bad();
  }
  const out = new Uint8Array(4 + entries.length * 8);
  const w = new DataView(out.buffer);
  w.setUint32(0, 2, true);
  entries.forEach(([tag, perm, id], i) => {
    w.setUint16(4 + i * 8, tag, true);
    w.setUint16(6 + i * 8, perm, true);
    w.setUint32(8 + i * 8, id, true);
  });
  return out;
}

/**
 * The inverse, for writers: VFS posix_acl_xattr (version 2, as getfattr and
 * the FileTree hold it) -> ext4's on-disk ACL (version 1, short entries for
 * USER_OBJ/GROUP_OBJ/MASK/OTHER). Throws FormatError on a malformed value.
 */
export function xattrToAcl(value: Uint8Array, name: string): Uint8Array {
  const v = new DataView(value.buffer, value.byteOffset, value.byteLength);
  if (value.length < 4 || (value.length - 4) % 8 !== 0 || v.getUint32(0, true) !== 2) {
    throw xerr(`${name} is not a POSIX ACL in xattr form (version 2, 8-byte entries)`, {
      structure: 'posix_acl_xattr',
      field: name,
    });
  }
  const n = (value.length - 4) / 8;
  let size = 4;
  for (let i = 0; i < n; i++) {
    const tag = v.getUint16(4 + i * 8, true);
    if (tag === 2 || tag === 8) size += 8;
    else if (tag === 1 || tag === 4 || tag === 0x10 || tag === 0x20) size += 4;
    else
      throw xerr(`${name}: unknown ACL tag 0x${tag.toString(16)}`, {
        structure: 'posix_acl_xattr',
        field: name,
        actual: tag,
      });
  }
  const out = new Uint8Array(size);
  const w = new DataView(out.buffer);
  w.setUint32(0, 1, true);
  let o = 4;
  for (let i = 0; i < n; i++) {
    const tag = v.getUint16(4 + i * 8, true);
    w.setUint16(o, tag, true);
    w.setUint16(o + 2, v.getUint16(6 + i * 8, true), true);
    if (tag === 2 || tag === 8) {
      w.setUint32(o + 4, v.getUint32(8 + i * 8, true), true);
      o += 8;
    } else o += 4;
  }
  return out;
}
