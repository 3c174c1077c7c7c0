/**
 * One inode record: the compact or extended inode, its xattr region and,
 * after them, its inline data (the caller fills that) or its block map.
 */
import { fullMode, encodeDev, type TreeNode } from '../../tree/types.js';
import { inodeU, type Shape } from './plan.js';
import { BLOCK_MAP_ENTRY_SIZE, I_LAYOUT_SHIFT, INODE_COMPACT, INODE_EXTENDED, LAYOUT, NULL_ADDR } from './structs.js';
import { encodeIbody, type SharedXattrs } from './xattr.js';

export interface RecordInput {
  node: TreeNode;
  shape: Shape;
  /** Inode number for 32-bit stat (i_ino). */
  ino: number;
  /** First data block (flat layouts) or first block of the data chunks (chunk-based). */
  blkaddr: number;
  shared: SharedXattrs;
}

/**
 * Encode the record into `bytes` (recordSize(shape) zeroed bytes: a view
 * into a metadata block); returns the offset where inline data goes.
 */
export function encodeRecord(r: RecordInput, bytes: Uint8Array): number {
  const { node, shape: s } = r;
  let u: number;
  if (node.type === 'chardev' || node.type === 'blockdev') u = encodeDev(node.major, node.minor);
  else if (node.type === 'fifo' || node.type === 'socket') u = 0;
  else u = inodeU(s.layout, s.blocks, r.blkaddr, s.chunkBits);
  const format = (s.extended ? 1 : 0) | (s.layout << I_LAYOUT_SHIFT);
  const xattrIcount = s.xsize === 0 ? 0 : (s.xsize - 12) / 4 + 1;
  const mode = fullMode(node);
  if (s.extended) {
    INODE_EXTENDED.encode(
      {
        format,
        xattrIcount,
        mode,
        size: s.size,
        u,
        ino: r.ino,
        uid: s.uid,
        gid: s.gid,
        mtime: node.mtime.sec,
        mtimeNsec: node.mtime.nsec,
        nlink: s.nlink,
      },
      bytes,
    );
  } else {
    INODE_COMPACT.encode(
      { format, xattrIcount, mode, nlink: s.nlink, size: s.size, u, ino: r.ino, uid: s.uid, gid: s.gid },
      bytes,
    );
  }
  let at = s.extended ? INODE_EXTENDED.size : INODE_COMPACT.size;
  at += encodeIbody(s.xattrs, r.shared, bytes, at);
  if (s.layout === LAYOUT.chunkBased) writeBlockMap(s, r.blkaddr, bytes, at);
  return at;
}

/** A chunk-based file's map: one block address per chunk, NULL_ADDR for a hole. */
function writeBlockMap(s: Shape, blkaddr: number, bytes: Uint8Array, at: number): void {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // every chunk but the last is 2^chunkBits blocks; the last may be shorter, and nothing follows it
  const blocksPerChunk = 2 ** s.chunkBits!;
  const chunks = s.dataChunks!;
  let next = blkaddr;
  for (let k = 0; k < chunks.length; k++) {
    if (chunks[k]) {
      v.setUint32(at + k * BLOCK_MAP_ENTRY_SIZE, next, true);
      next += blocksPerChunk;
    } else v.setUint32(at + k * BLOCK_MAP_ENTRY_SIZE, NULL_ADDR, true);
  }
}
