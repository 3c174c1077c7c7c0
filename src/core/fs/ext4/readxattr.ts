/**
 * Extended attributes for the ext4 reader: the in-inode area (after
 * i_extra_isize) and the external block (i_file_acl). Names get their
 * prefix from e_name_index (POSIX ACL values are converted in acl.ts).
 * Entries with a name index nobody maps to a prefix (0, lustre's 5, the
 * encryption context's 9, an early fs-verity's 11, ...) are kept with
 * `unknownIndex`: the kernel does not list them, and the reader skips them.
 */
import { FormatError } from '../../errors.js';
import {
  GOOD_OLD_INODE_SIZE,
  XATTR_END_SIZE,
  XATTR_MAGIC,
  XATTR_PREFIXES,
  XATTR_ROUND,
  xattrEntry,
  xattrHeader,
  xattrIbodyHeader,
} from './structs.js';

export interface RawXattr {
  /** The full name (prefix and suffix); only the suffix when the index has no known prefix. */
  name: string;
  /** e_name_index. */
  index: number;
  /** The index maps to no prefix the kernel or e2fsprogs knows. */
  unknownIndex?: true;
  /** The value, or where to find it (ea_inode feature). */
  value?: Uint8Array;
  valueInode?: number;
  valueSize: number;
}

const PREFIX = new Map<number, string>(XATTR_PREFIXES.map(([i, p]) => [i, p]));
const dec = new TextDecoder('utf-8');

const roundUp = (n: number) => Math.ceil(n / XATTR_ROUND) * XATTR_ROUND;

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
    if (o + XATTR_END_SIZE > end)
      throw xerr(`xattr entries run past the end of their area`, {
        structure: 'ext4_xattr_entry',
        offset: o,
        ...where,
      });
    if (v.getUint32(o, true) === 0) break;
    if (o + xattrEntry.size > end)
      throw xerr(`xattr entry header runs past the end of its area`, {
        structure: 'ext4_xattr_entry',
        offset: o,
        ...where,
      });
    const {
      e_name_len: nameLen,
      e_name_index: index,
      e_value_offs: valueOffs,
      e_value_inum: valueInum,
      e_value_size: valueSize,
    } = xattrEntry.decode(buf, o);
    const nameStart = o + xattrEntry.size;
    if (nameStart + nameLen > end)
      throw xerr(`xattr name runs past the end of its area`, { structure: 'ext4_xattr_entry', offset: o, ...where });
    const prefix = PREFIX.get(index);
    const name = (prefix ?? '') + dec.decode(buf.subarray(nameStart, nameStart + nameLen));
    const key = prefix === undefined ? `${index}:${name}` : name;
    if (seen.has(key))
      throw xerr(`xattr ${name} appears twice`, { structure: 'ext4_xattr_entry', offset: o, ...where });
    seen.add(key);
    const id = prefix === undefined ? { name, index, unknownIndex: true as const } : { name, index };
    if (valueInum !== 0) {
      out.push({ ...id, valueInode: valueInum, valueSize });
    } else if (valueSize === 0) {
      // an empty value has no place in the value area; e2fsprogs and the kernel leave e_value_offs 0
      out.push({ ...id, value: new Uint8Array(0), valueSize: 0 });
    } else {
      const vs = valueBase + valueOffs;
      if (valueSize > end - entriesStart || vs < entriesStart || vs + valueSize > end)
        throw xerr(`xattr ${name}: value (${valueSize} bytes at ${valueOffs}) lies outside its area`, {
          structure: 'ext4_xattr_entry',
          field: 'e_value_offs',
          offset: o,
          ...where,
        });
      out.push({ ...id, value: buf.slice(vs, vs + valueSize), valueSize });
    }
    o += roundUp(xattrEntry.size + nameLen);
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
  const start = off + GOOD_OLD_INODE_SIZE + extraIsize;
  const end = off + inodeSize;
  if (inodeSize <= GOOD_OLD_INODE_SIZE || start + xattrIbodyHeader.size > end) return [];
  if (xattrIbodyHeader.decode(raw, start).h_magic !== XATTR_MAGIC) return [];
  const first = start + xattrIbodyHeader.size;
  return parseXattrEntries(raw, first, end, first, { inode: ino, where: 'in-inode' });
}

/** External xattr block (checksum verified by the caller). */
export function parseXattrBlock(block: Uint8Array, blockNr: number, ino: number): RawXattr[] {
  const { h_magic: magic, h_blocks: blocks } = xattrHeader.decode(block);
  if (magic !== XATTR_MAGIC)
    throw xerr(`inode ${ino}: xattr block ${blockNr} has bad magic 0x${magic.toString(16)}`, {
      structure: 'ext4_xattr_header',
      field: 'h_magic',
      inode: ino,
      block: blockNr,
      actual: magic,
    });
  if (blocks !== 1)
    throw xerr(`inode ${ino}: xattr block ${blockNr} claims ${blocks} blocks (only 1 is supported)`, {
      structure: 'ext4_xattr_header',
      field: 'h_blocks',
      inode: ino,
      block: blockNr,
      actual: blocks,
    });
  return parseXattrEntries(block, xattrHeader.size, block.length, 0, { inode: ino, block: blockNr });
}
