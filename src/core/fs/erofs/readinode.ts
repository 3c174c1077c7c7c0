/**
 * One inode by nid: compact or extended, its type, owner, time, size and
 * data layout, and its extended attributes. Every offset is checked to lie
 * inside the image before it is read.
 */
import { typeFromMode, type NodeType, type Timespec } from '../../tree/types.js';
import { fail, type MetaReader, type Super } from './readsuper.js';
import {
  I_ALL,
  I_LAYOUT_MASK,
  I_LAYOUT_SHIFT,
  I_VERSION_MASK,
  INODE_COMPACT,
  INODE_EXTENDED,
  ISLOT_SIZE,
  LAYOUT,
  XATTR_ENTRY,
  XATTR_IBODY_HEADER,
  XATTR_LONG_PREFIX,
  XATTR_PREFIXES,
  xattrAlign,
  xattrIbodySize,
} from './structs.js';

export interface Inode {
  nid: number;
  /** Byte offset of the inode. */
  pos: number;
  /** Bytes of the inode (32 or 64) and of its xattr region. */
  isize: number;
  xsize: number;
  layout: number;
  type: NodeType;
  mode: number;
  size: number;
  nlink: number;
  uid: number;
  gid: number;
  mtime: Timespec;
  /** i_u: first block, device number or chunk format. */
  u: number;
}

const dec = new TextDecoder();
const PREFIX = new Map(XATTR_PREFIXES);

export function readInode(m: MetaReader, s: Super, nid: number): Inode {
  const pos = s.metaBase + nid * ISLOT_SIZE;
  const what = `inode ${nid}`;
  const c = INODE_COMPACT.decode(m.read(pos, INODE_COMPACT.size, what));
  if (c.format & ~I_ALL)
    throw fail('E_FORMAT_EROFS_INODE', `${what} has unknown format bits 0x${c.format.toString(16)}`, {
      structure: 'inode',
      field: 'i_format',
      offset: pos,
      actual: c.format,
    });
  const layout = (c.format >> I_LAYOUT_SHIFT) & I_LAYOUT_MASK;
  if (layout > LAYOUT.chunkBased)
    throw fail('E_FORMAT_EROFS_INODE', `${what} has unknown data layout ${layout}`, {
      structure: 'inode',
      field: 'i_format',
      offset: pos,
      actual: layout,
    });
  const type = typeFromMode(c.mode);
  if (!type)
    throw fail('E_FORMAT_EROFS_INODE', `${what} has mode 0${c.mode.toString(8)} of no file type`, {
      structure: 'inode',
      field: 'i_mode',
      offset: pos,
      actual: c.mode,
    });
  // built field by field: object spread here cost 30 us an inode (V8 takes a slow path for it)
  const ino: Inode = {
    nid,
    pos,
    isize: INODE_COMPACT.size,
    xsize: xattrIbodySize(c.xattrIcount),
    layout,
    type,
    mode: c.mode & 0o7777,
    size: c.size,
    nlink: c.nlink,
    uid: c.uid,
    gid: c.gid,
    mtime: s.buildTime,
    u: c.u,
  };
  if (c.format & I_VERSION_MASK) {
    const e = INODE_EXTENDED.decode(m.read(pos, INODE_EXTENDED.size, what));
    ino.isize = INODE_EXTENDED.size;
    ino.size = e.size;
    ino.nlink = e.nlink;
    ino.uid = e.uid;
    ino.gid = e.gid;
    ino.mtime = { sec: e.mtime, nsec: e.mtimeNsec };
    ino.u = e.u;
  }
  if (ino.mtime.nsec > 999999999)
    throw fail('E_FORMAT_EROFS_INODE', `${what} has ${ino.mtime.nsec} nanoseconds`, { offset: pos });
  // the xattr region must be inside the image too
  if (ino.xsize) m.read(pos + ino.isize, XATTR_IBODY_HEADER.size, `${what} xattrs`);
  if (pos + ino.isize + ino.xsize > s.limit)
    throw fail('E_FORMAT_EROFS_INODE', `${what}: its xattrs run past the image's end`, { offset: pos });
  return ino;
}

/**
 * The attributes of an inode: shared ones (by id into the shared area), then
 * inline ones. Entries whose name index has no prefix here are left out, as
 * the kernel hides them.
 */
export function readXattrs(m: MetaReader, s: Super, ino: Inode): Map<string, Uint8Array> {
  const out = new Map<string, Uint8Array>();
  if (!ino.xsize) return out;
  const what = `inode ${ino.nid} xattrs`;
  const start = ino.pos + ino.isize;
  const h = XATTR_IBODY_HEADER.decode(m.read(start, XATTR_IBODY_HEADER.size, what));
  let p = start + XATTR_IBODY_HEADER.size;
  const end = start + ino.xsize;
  if (p + h.sharedCount * 4 > end)
    throw fail('E_FORMAT_EROFS_XATTR', `${what}: ${h.sharedCount} shared ids do not fit the region`, {
      offset: start,
      actual: h.sharedCount,
    });
  const ids = m.read(p, h.sharedCount * 4, what);
  const v = new DataView(ids.buffer, ids.byteOffset, ids.byteLength);
  for (let i = 0; i < h.sharedCount; i++) entry(m, s.xattrBase + v.getUint32(i * 4, true) * 4, s.limit, what, out);
  p += h.sharedCount * 4;
  while (p < end) p += entry(m, p, end, what, out);
  return out;
}

/** Decode the entry at `pos` (it must end by `end`) into `out`; returns its padded size. */
function entry(m: MetaReader, pos: number, end: number, what: string, out: Map<string, Uint8Array>): number {
  if (pos + XATTR_ENTRY.size > end)
    throw fail('E_FORMAT_EROFS_XATTR', `${what}: an entry at ${pos} runs past its region`, { offset: pos });
  const e = XATTR_ENTRY.decode(m.read(pos, XATTR_ENTRY.size, what));
  const size = xattrAlign(XATTR_ENTRY.size + e.nameLen + e.valueSize);
  if (pos + XATTR_ENTRY.size + e.nameLen + e.valueSize > end)
    throw fail('E_FORMAT_EROFS_XATTR', `${what}: an entry of ${size} bytes at ${pos} runs past its region`, {
      offset: pos,
      actual: size,
    });
  const prefix = e.nameIndex & XATTR_LONG_PREFIX ? undefined : PREFIX.get(e.nameIndex);
  if (prefix !== undefined) {
    const body = m.read(pos + XATTR_ENTRY.size, e.nameLen + e.valueSize, what);
    const name = prefix + dec.decode(body.subarray(0, e.nameLen));
    out.set(name, body.slice(e.nameLen));
  }
  return size;
}
