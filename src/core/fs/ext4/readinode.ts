/**
 * Reader, step three: inodes. Inode tables are read in 64 KiB chunks kept
 * in a small LRU cache (a tree walk visits inodes in table order, so each
 * chunk is read once); inodes are decoded through the inode table's field
 * offsets and their checksums verified with csum.ts.
 */
import type { BlockDevice } from '../../io/device.js';
import type { NodeType, Timespec } from '../../tree/types.js';
import { TYPE_BITS } from '../../tree/types.js';
import { checksumError, inodeCsum, inodeCsumSeed, storedInodeCsum } from './csum.js';
import { ext4Error } from './error.js';
import { decodeTime } from './fields.js';
import type { GroupTable } from './readgroups.js';
import type { Super } from './readsuper.js';
import { parseInodeXattrs, type RawXattr } from './readxattr.js';
import {
  BG_INODE_UNINIT,
  GOOD_OLD_INODE_SIZE,
  I_BLOCK_SIZE,
  MAX_SIZE_HIGH,
  XATTR_MAGIC,
  inode as inodeStruct,
  xattrIbodyHeader,
} from './structs.js';

/** A decoded inode. */
export interface Ext4Inode {
  ino: number;
  /** Full st_mode (type bits and permissions). */
  mode: number;
  type: NodeType | undefined;
  uid: number;
  gid: number;
  size: number;
  linksCount: number;
  flags: number;
  generation: number;
  /** i_blocks as stored (512-byte units, or fs blocks with HUGE_FILE). */
  blocks: number;
  /** External xattr block (0 = none). */
  fileAcl: number;
  atime: Timespec;
  mtime: Timespec;
  ctime: Timespec;
  crtime: Timespec | undefined;
  dtime: number;
  /** i_block (60 bytes): a read-only view of the cached inode table; do not modify. */
  iBlock: Uint8Array;
  extraIsize: number;
  /** Inode checksum seed (metadata_csum), 0 otherwise. */
  csumSeed: number;
  /** In-inode xattrs as stored (names with prefixes; system.data included). */
  ibodyXattrs: RawXattr[];
}

const INO = (name: Parameters<typeof inodeStruct.offsetOf>[0]) => inodeStruct.offsetOf(name);
const OFF = {
  mode: INO('i_mode'),
  uid: INO('i_uid'),
  sizeLo: INO('i_size_lo'),
  atime: INO('i_atime'),
  ctime: INO('i_ctime'),
  mtime: INO('i_mtime'),
  dtime: INO('i_dtime'),
  gid: INO('i_gid'),
  links: INO('i_links_count'),
  blocksLo: INO('i_blocks_lo'),
  flags: INO('i_flags'),
  block: INO('i_block'),
  generation: INO('i_generation'),
  aclLo: INO('i_file_acl_lo'),
  sizeHigh: INO('i_size_high'),
  blocksHigh: INO('l_i_blocks_high'),
  aclHigh: INO('l_i_file_acl_high'),
  uidHigh: INO('l_i_uid_high'),
  gidHigh: INO('l_i_gid_high'),
  extraIsize: INO('i_extra_isize'),
  ctimeExtra: INO('i_ctime_extra'),
  mtimeExtra: INO('i_mtime_extra'),
  atimeExtra: INO('i_atime_extra'),
  crtime: INO('i_crtime'),
  crtimeExtra: INO('i_crtime_extra'),
} as const;

/** Node type by the S_IFMT nibble of i_mode. */
const TYPE_SHIFT = 12;
const TYPE_OF: Array<NodeType | undefined> = [];
for (const t of ['fifo', 'chardev', 'dir', 'blockdev', 'file', 'symlink', 'socket'] as const)
  TYPE_OF[(TYPE_BITS[t] >>> TYPE_SHIFT) & 0xf] = t;
const NO_XATTRS: RawXattr[] = [];
const INODE_CHUNK = 64 * 1024;
const INODE_CACHE_CHUNKS = 128;
const EXTRA_ALIGN = 4;
const U32 = 0x100000000;
const U16 = 0x10000;

interface InodeChunk {
  buf: Uint8Array;
  view: DataView;
}

/** The inode tables of a filesystem, read on demand through a chunk cache. */
export class InodeTable {
  private readonly cache = new Map<number, InodeChunk>();
  /** Offset of the last inode found by chunk() in its chunk. */
  private chunkOff = 0;
  private lastKey = -1;
  private lastChunk: InodeChunk | undefined;

  constructor(
    private readonly dev: BlockDevice,
    private readonly s: Super,
    private readonly groups: GroupTable,
    private readonly verify: boolean,
  ) {}

  /** Raw inode bytes: returns [buffer, offset]; zeros for never-initialised inode table slots. */
  raw(ino: number): [Uint8Array, number] {
    const c = this.chunk(ino);
    return [c.buf, this.chunkOff];
  }

  /** The cached inode-table chunk holding `ino`; its offset goes to this.chunkOff. */
  private chunk(ino: number): InodeChunk {
    const s = this.s;
    if (!Number.isInteger(ino) || ino < 1 || ino > s.inodesCount)
      throw ext4Error('E_FORMAT_RANGE', `inode ${ino} does not exist (the filesystem has ${s.inodesCount})`, {
        structure: 'ext4_inode',
        inode: ino,
      });
    const g = Math.floor((ino - 1) / s.inodesPerGroup);
    const idx = (ino - 1) % s.inodesPerGroup;
    const uninit = this.groups.flags[g]! & BG_INODE_UNINIT && (s.metadataCsum || s.gdtCsum);
    if (uninit || idx >= s.inodesPerGroup - this.groups.itableUnused[g]!) {
      const buf = new Uint8Array(s.inodeSize);
      this.chunkOff = 0;
      return { buf, view: new DataView(buf.buffer) };
    }
    const byteOff = idx * s.inodeSize;
    const chunk = Math.floor(byteOff / INODE_CHUNK);
    const key = g * Math.ceil(s.itableBytes / INODE_CHUNK) + chunk;
    this.chunkOff = byteOff - chunk * INODE_CHUNK;
    if (key === this.lastKey) return this.lastChunk!;
    let c = this.cache.get(key);
    if (c) {
      this.cache.delete(key);
      this.cache.set(key, c);
    } else {
      const start = chunk * INODE_CHUNK;
      const len = Math.min(INODE_CHUNK, s.itableBytes - start);
      const buf = this.dev.readAt(this.groups.inodeTable[g]! * s.blockSize + start, len);
      c = { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
      this.cache.set(key, c);
      if (this.cache.size > INODE_CACHE_CHUNKS) this.cache.delete(this.cache.keys().next().value!);
    }
    this.lastKey = key;
    this.lastChunk = c;
    return c;
  }

  /** Check the inode checksum (an all-zero inode, never written, passes). */
  private checkCsum(ino: number, raw: Uint8Array, off: number, seed: number): void {
    const isz = this.s.inodeSize;
    const stored = storedInodeCsum(raw, off, isz);
    const actual = inodeCsum(seed, raw, off, isz);
    if (stored === actual) return;
    for (let i = 0; i < isz; i++) {
      if (raw[off + i] !== 0) {
        const group = Math.floor((ino - 1) / this.s.inodesPerGroup);
        throw checksumError('inode', { inode: ino, group }, stored, actual);
      }
    }
  }

  /** Decode (and verify) inode `ino`. */
  inode(ino: number): Ext4Inode {
    const { buf: raw, view: v } = this.chunk(ino);
    const off = this.chunkOff;
    const s = this.s;
    const isz = s.inodeSize;
    const big = isz > GOOD_OLD_INODE_SIZE;
    const generation = v.getUint32(off + OFF.generation, true);
    const extraIsize = big ? v.getUint16(off + OFF.extraIsize, true) : 0;
    if (big && (GOOD_OLD_INODE_SIZE + extraIsize > isz || extraIsize % EXTRA_ALIGN !== 0))
      throw ext4Error('E_FORMAT_INODE', `inode ${ino}: i_extra_isize ${extraIsize} is invalid`, {
        structure: 'ext4_inode',
        field: 'i_extra_isize',
        inode: ino,
        actual: extraIsize,
      });
    let csumSeed = 0;
    if (s.metadataCsum) {
      csumSeed = inodeCsumSeed(s.fsSeed, ino, generation);
      if (this.verify) this.checkCsum(ino, raw, off, csumSeed);
    }
    const extraEnd = big ? GOOD_OLD_INODE_SIZE + extraIsize : 0;
    const mode = v.getUint16(off + OFF.mode, true);
    const sizeHigh = v.getUint32(off + OFF.sizeHigh, true);
    if (sizeHigh > MAX_SIZE_HIGH)
      throw ext4Error('E_FORMAT_INODE', `inode ${ino}: size is too large (i_size_high 0x${sizeHigh.toString(16)})`, {
        structure: 'ext4_inode',
        field: 'i_size_high',
        inode: ino,
        actual: sizeHigh,
      });
    const hasIbody =
      big && extraEnd + xattrIbodyHeader.size <= isz && v.getUint32(off + extraEnd, true) === XATTR_MAGIC;
    const u16 = (o: number) => v.getUint16(off + o, true);
    const u32 = (o: number) => v.getUint32(off + o, true);
    return {
      ino,
      mode,
      type: TYPE_OF[(mode >>> TYPE_SHIFT) & 0xf],
      uid: u16(OFF.uid) + u16(OFF.uidHigh) * U16,
      gid: u16(OFF.gid) + u16(OFF.gidHigh) * U16,
      size: u32(OFF.sizeLo) + sizeHigh * U32,
      linksCount: u16(OFF.links),
      flags: u32(OFF.flags),
      generation,
      blocks: u32(OFF.blocksLo) + u16(OFF.blocksHigh) * U32,
      fileAcl: u32(OFF.aclLo) + (s.is64 ? u16(OFF.aclHigh) * U32 : 0),
      atime: decodeTime(v, off, OFF.atime, OFF.atimeExtra, extraEnd),
      mtime: decodeTime(v, off, OFF.mtime, OFF.mtimeExtra, extraEnd),
      ctime: decodeTime(v, off, OFF.ctime, OFF.ctimeExtra, extraEnd),
      crtime: OFF.crtimeExtra + 4 <= extraEnd ? decodeTime(v, off, OFF.crtime, OFF.crtimeExtra, extraEnd) : undefined,
      dtime: u32(OFF.dtime),
      // a read-only view into the cached inode-table chunk (no copy)
      iBlock: raw.subarray(off + OFF.block, off + OFF.block + I_BLOCK_SIZE),
      extraIsize,
      csumSeed,
      ibodyXattrs: hasIbody ? parseInodeXattrs(raw, off, isz, extraIsize, ino) : NO_XATTRS,
    };
  }
}
