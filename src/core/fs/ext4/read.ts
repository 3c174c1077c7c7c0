/**
 * ext2/ext3/ext4 reader: opens an image on a BlockDevice into the shared
 * FileTree model, with lazy file contents that read blocks on demand.
 *
 * Supports extents (any depth) and block maps (direct to triple indirect),
 * htree and linear directories, inline data (files and directories), fast
 * and slow symlinks, old and new device encodings, FIFOs, sockets, hard
 * links (one node object per inode), 32-bit ids, nanosecond timestamps with
 * epoch bits, xattrs in the inode and in an external block (and ea_inode
 * values), meta_bg, 64bit, flex_bg, bigalloc block addressing.
 *
 * With metadata_csum (and `verify`, the default) every structure read is
 * checked: superblock, group descriptors, block and inode bitmaps, inodes,
 * extent blocks, directory leaves and htree nodes, xattr blocks; with
 * uninit_bg/gdt_csum the CRC16 group descriptor checksums. A mismatch is a
 * FormatError E_FORMAT_CHECKSUM naming the structure and group/inode/block.
 *
 * Robustness: the superblock geometry is checked against the device size
 * before anything is allocated from it; every block number is range-checked;
 * directory inodes may be reached once (no cycles); map walks read each tree
 * block at most once. A corrupt image gives a typed FormatError, never a hang.
 */
import { FormatError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { FileTree } from '../../tree/tree.js';
import type { Content, DirNode, NodeMeta, NodeType, Timespec, TreeNode } from '../../tree/types.js';
import { decodeDev, TYPE_BITS } from '../../tree/types.js';
import {
  bitmapCsum,
  checksumError,
  fsCsumSeed,
  groupDescCsum,
  inodeCsum,
  inodeCsumSeed,
  superblockCsum,
  xattrBlockCsum,
} from './readcsum.js';
import { parseDirBlock, parseInlineDir, type RawDirEntry } from './readdir.js';
import { findRun, inodeRuns, type MapSource, type Run } from './readmap.js';
import { aclToXattr, parseInodeXattrs, parseXattrBlock, type RawXattr } from './readxattr.js';
import { journalOverlay } from './readjournal.js';
import {
  BG_BLOCK_UNINIT,
  BG_INODE_UNINIT,
  EXT4_MAGIC,
  FEATURES,
  INODE_FLAGS,
  ROOT_INO,
  SUPERBLOCK_OFFSET,
  XATTR_MAGIC,
  featureNames,
  groupDesc32,
  groupDesc64,
  inode as inodeStruct,
  superblock as superblockStruct,
} from './structs.js';

export interface Ext4OpenOptions {
  /** Verify metadata checksums (default true). */
  verify?: boolean;
  /**
   * When the filesystem needs recovery, read it as the kernel would after
   * replaying the journal (default true). The device is never written: the
   * journalled blocks are served from the journal.
   */
  replayJournal?: boolean;
}

export interface Ext4Info {
  type: 'ext2' | 'ext3' | 'ext4';
  blockSize: number;
  blocksCount: number;
  freeBlocks: number;
  reservedBlocks: number;
  inodesCount: number;
  freeInodes: number;
  label: string;
  uuid: string;
  features: string[];
  /** Raw feature words. */
  featureBits: { compat: number; incompat: number; ro_compat: number };
  inodeSize: number;
  firstInode: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  groupCount: number;
  descSize: number;
  revision: number;
  /** s_state: 'clean', 'not clean', with ', errors' / ', orphans' appended as dumpe2fs does. */
  state: string;
  errorsBehavior: 'continue' | 'remount-ro' | 'panic' | 'unknown';
  creatorOs: string;
  mountCount: number;
  maxMountCount: number;
  lastMounted: string;
  journalInode: number;
  journalUuid: string;
  /** Default htree hash: 'legacy', 'half_md4', 'tea', ... */
  hashVersion: string;
  hashSeed: string;
  /** Seconds since the epoch (0 = never). */
  mkfsTime: number;
  lastMountTime: number;
  lastWriteTime: number;
  lastCheckTime: number;
  checkInterval: number;
  reservedGdtBlocks: number;
  flexGroups: number;
  defaultMountOptions: number;
  minExtraIsize: number;
  wantExtraIsize: number;
  /** metadata_csum checksum seed in use (when metadata_csum). */
  checksumSeed?: number;
  /** The journal holds transactions not yet replayed (needs_recovery). */
  needsRecovery: boolean;
  /** Set when committed journal transactions were laid over the filesystem for reading (see replayJournal). */
  journalReplay?: { transactions: number; blocks: number };
}

export interface Ext4Volume {
  tree: FileTree;
  info: Ext4Info;
  /** Low-level access (inodes, block maps, groups) for inspect tools. */
  reader: Ext4Reader;
}

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

export interface Ext4Group {
  index: number;
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  itableUnused: number;
  checksum: number;
}

const dec = new TextDecoder('utf-8');
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
const TYPE_OF: Array<NodeType | undefined> = [];
for (const t of ['fifo', 'chardev', 'dir', 'blockdev', 'file', 'symlink', 'socket'] as const)
  TYPE_OF[(TYPE_BITS[t] >>> 12) & 0xf] = t;
const NO_XATTRS: RawXattr[] = [];

interface InodeChunk {
  buf: Uint8Array;
  view: DataView;
}

/**
 * A timestamp: signed 32-bit seconds; when the extra word is inside the
 * inode (offset + 4 <= 128 + i_extra_isize), its low 2 bits extend the
 * seconds (epoch bits 32-33) and its high 30 bits are nanoseconds.
 */
function decodeTime(v: DataView, base: number, lo: number, extraOff: number, extraEnd: number): Timespec {
  let sec = v.getInt32(base + lo, true);
  let nsec = 0;
  if (extraOff + 4 <= extraEnd) {
    const x = v.getUint32(base + extraOff, true);
    sec += (x & 3) * 0x100000000;
    nsec = Math.min(x >>> 2, 999_999_999);
  }
  return { sec, nsec };
}

const KNOWN_INCOMPAT = FEATURES.filter((f) => f[0] === 'incompat').reduce((a, f) => a | f[1], 0);
/** Incompatible features whose data this reader cannot interpret. */
const UNSUPPORTED_INCOMPAT: Array<[number, string]> = [
  [0x1, 'compression'],
  [0x8, 'journal_dev'],
  [0x1000, 'dirdata'],
];
const INODE_CHUNK = 64 * 1024;
const INODE_CACHE_CHUNKS = 128;
const STREAM_CHUNK = 1 << 20;
const MAX_SYMLINK = 65536;
const MAX_XATTR_VALUE = 1 << 24;

function fmtErr(code: string, msg: string, data: Record<string, unknown> = {}): FormatError {
  return new FormatError(code, msg, { format: 'ext4', ...data });
}

function hex(b: Uint8Array): string {
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
}

function uuidString(b: Uint8Array): string {
  const h = hex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function cString(b: Uint8Array): string {
  const z = b.indexOf(0);
  return dec.decode(z >= 0 ? b.subarray(0, z) : b);
}

function isPow(n: number, base: number): boolean {
  while (n > 1 && n % base === 0) n /= base;
  return n === 1;
}

/** Low-level reader: superblock, groups, inodes, maps, directories, xattrs. */
export class Ext4Reader implements MapSource {
  readonly info: Ext4Info;
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly firstDataBlock: number;
  readonly verifyCsum: boolean;
  readonly inodeSize: number;
  readonly inodesPerGroup: number;
  readonly inodesCount: number;
  readonly groupCount: number;
  /** metadata_csum is on. */
  readonly metadataCsum: boolean;
  private readonly verify: boolean;
  private readonly gdtCsum: boolean;
  private readonly is64: boolean;
  private readonly descSize: number;
  private readonly uuid: Uint8Array;
  private readonly fsSeed: number;
  private readonly firstIno: number;
  private readonly gdt: Uint8Array;
  private readonly inodeTable: Float64Array;
  private readonly groupFlags: Uint16Array;
  private readonly itableUnused: Uint32Array;
  private readonly hasFiletype: boolean;
  private readonly inodeCache = new Map<number, InodeChunk>();
  private readonly xattrBlockCache = new Map<number, RawXattr[]>();
  private readonly itableBytes: number;

  constructor(
    readonly dev: BlockDevice,
    opts: Ext4OpenOptions = {},
  ) {
    this.verify = opts.verify ?? true;
    if (dev.size < SUPERBLOCK_OFFSET + 1024)
      throw fmtErr('E_FORMAT_TRUNCATED', `device of ${dev.size} bytes is too small for an ext2/3/4 filesystem`, {
        structure: 'ext4_super_block',
        actual: dev.size,
      });
    const sbBytes = dev.readAt(SUPERBLOCK_OFFSET, 1024);
    const sb = superblockStruct.decode(sbBytes);
    if (sb.s_magic !== EXT4_MAGIC)
      throw fmtErr(
        'E_FORMAT_MAGIC',
        `not an ext2/3/4 filesystem: superblock magic is 0x${sb.s_magic.toString(16)}, expected 0xef53`,
        {
          structure: 'ext4_super_block',
          field: 's_magic',
          offset: SUPERBLOCK_OFFSET + 0x38,
          actual: sb.s_magic,
          expected: EXT4_MAGIC,
        },
      );
    const compat = sb.s_feature_compat,
      incompat = sb.s_feature_incompat,
      roCompat = sb.s_feature_ro_compat;
    const sbErr = (field: string, msg: string, actual: unknown, expected?: unknown) =>
      fmtErr('E_FORMAT_SUPERBLOCK', `ext4 superblock: ${msg}`, {
        structure: 'ext4_super_block',
        field,
        actual,
        ...(expected !== undefined ? { expected } : {}),
      });
    this.metadataCsum = (roCompat & 0x400) !== 0;
    this.gdtCsum = !this.metadataCsum && (roCompat & 0x10) !== 0;
    this.verifyCsum = this.verify && this.metadataCsum;
    if (this.metadataCsum && this.verify) {
      if (sb.s_checksum_type !== 1)
        throw sbErr(
          's_checksum_type',
          `unknown checksum type ${sb.s_checksum_type} (1 = crc32c)`,
          sb.s_checksum_type,
          1,
        );
      const actual = superblockCsum(sbBytes);
      if (actual !== sb.s_checksum)
        throw checksumError('superblock', { block: SUPERBLOCK_OFFSET / 1024 }, sb.s_checksum, actual);
    }
    for (const [bit, name] of UNSUPPORTED_INCOMPAT) {
      if (incompat & bit)
        throw fmtErr('E_FORMAT_UNSUPPORTED', `ext4 feature ${name} is not supported by this reader`, {
          structure: 'ext4_super_block',
          field: 's_feature_incompat',
          actual: name,
        });
    }
    const unknown = incompat & ~KNOWN_INCOMPAT;
    if (unknown)
      throw fmtErr('E_FORMAT_UNSUPPORTED', `unknown incompatible ext4 feature bits 0x${unknown.toString(16)}`, {
        structure: 'ext4_super_block',
        field: 's_feature_incompat',
        actual: unknown,
      });
    if (sb.s_log_block_size > 6)
      throw sbErr(
        's_log_block_size',
        `block size 2^${10 + sb.s_log_block_size} is not supported (1 KiB to 64 KiB)`,
        sb.s_log_block_size,
      );
    const bs = 1024 << sb.s_log_block_size;
    this.blockSize = bs;
    this.is64 = (incompat & 0x80) !== 0;
    const blocksCount = sb.s_blocks_count_lo + (this.is64 ? sb.s_blocks_count_hi * 0x100000000 : 0);
    const devBlocks = Math.floor(dev.size / bs);
    if (blocksCount < 1 || blocksCount > devBlocks) {
      throw fmtErr(
        'E_FORMAT_TRUNCATED',
        `the filesystem has ${blocksCount} blocks of ${bs} bytes but the device holds only ${devBlocks} (image truncated?)`,
        { structure: 'ext4_super_block', field: 's_blocks_count', actual: blocksCount, expected: devBlocks },
      );
    }
    this.blocksCount = blocksCount;
    this.firstDataBlock = sb.s_first_data_block;
    if (this.firstDataBlock > 1 || this.firstDataBlock >= blocksCount)
      throw sbErr('s_first_data_block', `first data block ${this.firstDataBlock} is invalid`, this.firstDataBlock);
    const bigalloc = (roCompat & 0x200) !== 0;
    const bpg = sb.s_blocks_per_group;
    const cpg = bigalloc ? sb.s_clusters_per_group : bpg;
    if (bpg < 8 || cpg < 8 || cpg > 8 * bs || cpg % 8 !== 0 || (!bigalloc && bpg > 8 * bs))
      throw sbErr('s_blocks_per_group', `${bpg} blocks per group is invalid for ${bs}-byte blocks`, bpg);
    const rev = sb.s_rev_level;
    this.inodeSize = rev === 0 ? 128 : sb.s_inode_size;
    this.firstIno = rev === 0 ? 11 : sb.s_first_ino;
    if (this.inodeSize < 128 || this.inodeSize > bs || (this.inodeSize & (this.inodeSize - 1)) !== 0)
      throw sbErr('s_inode_size', `inode size ${this.inodeSize} is invalid`, this.inodeSize);
    const ipg = sb.s_inodes_per_group;
    if (ipg < 1 || ipg > 8 * bs || ipg % 8 !== 0)
      throw sbErr('s_inodes_per_group', `${ipg} inodes per group is invalid for ${bs}-byte blocks`, ipg);
    this.inodesPerGroup = ipg;
    const groups = Math.ceil((blocksCount - this.firstDataBlock) / bpg);
    this.groupCount = groups;
    if (sb.s_inodes_count !== groups * ipg)
      throw sbErr(
        's_inodes_count',
        `inode count ${sb.s_inodes_count} does not match ${groups} groups of ${ipg} inodes`,
        sb.s_inodes_count,
        groups * ipg,
      );
    this.inodesCount = sb.s_inodes_count;
    this.itableBytes = ipg * this.inodeSize;
    if (Math.ceil(this.itableBytes / bs) * groups > blocksCount)
      throw sbErr(
        's_inodes_per_group',
        `inode tables (${groups} x ${this.itableBytes} bytes) do not fit in the filesystem`,
        ipg,
      );
    if (this.firstIno < 3 || this.firstIno > this.inodesCount)
      throw sbErr('s_first_ino', `first inode ${this.firstIno} is invalid`, this.firstIno);
    this.descSize = this.is64 ? sb.s_desc_size : 32;
    if (this.is64 && (this.descSize < 64 || this.descSize > 1024 || (this.descSize & (this.descSize - 1)) !== 0))
      throw sbErr('s_desc_size', `group descriptor size ${this.descSize} is invalid`, this.descSize);
    this.uuid = sb.s_uuid;
    this.fsSeed = (incompat & 0x2000) !== 0 ? sb.s_checksum_seed : fsCsumSeed(sb.s_uuid);
    this.hasFiletype = (incompat & 0x2) !== 0;

    // ---- group descriptors
    const ds = this.descSize;
    const perBlock = bs / ds;
    const gdtBlocks = Math.ceil(groups / perBlock);
    const metaBg = (incompat & 0x10) !== 0;
    const sparse = (roCompat & 0x1) !== 0;
    const sparse2 = (compat & 0x200) !== 0;
    const backups = [
      new DataView(sb.s_backup_bgs.buffer, sb.s_backup_bgs.byteOffset).getUint32(0, true),
      new DataView(sb.s_backup_bgs.buffer, sb.s_backup_bgs.byteOffset).getUint32(4, true),
    ];
    const hasSuper = (g: number) =>
      g === 0 || (sparse2 ? backups.includes(g) : !sparse || g === 1 || isPow(g, 3) || isPow(g, 5) || isPow(g, 7));
    this.gdt = new Uint8Array(gdtBlocks * bs);
    const firstMeta = metaBg ? Math.min(sb.s_first_meta_bg, gdtBlocks) : gdtBlocks;
    // the table follows the superblock's block (block 1 with 1 KiB blocks, even with bigalloc's first data block 0)
    const normalStart = (this.firstDataBlock === 0 && bs === 1024 ? 1 : this.firstDataBlock) + 1;
    if (firstMeta > 0) {
      if (normalStart + firstMeta > blocksCount)
        throw sbErr(
          's_first_meta_bg',
          `group descriptor table (${firstMeta} blocks) runs past the filesystem`,
          firstMeta,
        );
      this.gdt.set(dev.readAt(normalStart * bs, firstMeta * bs), 0);
    }
    for (let i = firstMeta; i < gdtBlocks; i++) {
      const g = i * perBlock;
      const blk = this.firstDataBlock + g * bpg + (hasSuper(g) ? 1 : 0);
      if (blk >= blocksCount)
        throw sbErr('s_first_meta_bg', `meta_bg descriptor block ${blk} lies outside the filesystem`, blk);
      this.gdt.set(dev.readAt(blk * bs, bs), i * bs);
    }
    this.inodeTable = new Float64Array(groups);
    this.groupFlags = new Uint16Array(groups);
    this.itableUnused = new Uint32Array(groups);
    const gv = new DataView(this.gdt.buffer);
    const itBlocks = Math.ceil(this.itableBytes / bs);
    const checkGroupCsum = this.verify && (this.metadataCsum || this.gdtCsum);
    for (let g = 0; g < groups; g++) {
      const o = g * ds;
      const hi = (off: number, w: 2 | 4) =>
        this.is64 ? (w === 4 ? gv.getUint32(o + off, true) : gv.getUint16(o + off, true)) : 0;
      const it = gv.getUint32(o + 0x8, true) + hi(0x28, 4) * 0x100000000;
      if (it < this.firstDataBlock || it + itBlocks > blocksCount)
        throw fmtErr('E_FORMAT_BLOCK_RANGE', `group ${g}: inode table at block ${it} lies outside the filesystem`, {
          structure: 'ext4_group_desc',
          field: 'bg_inode_table',
          group: g,
          block: it,
        });
      this.inodeTable[g] = it;
      this.groupFlags[g] = gv.getUint16(o + 0x12, true);
      const unused = gv.getUint16(o + 0x1c, true) + hi(0x32, 2) * 0x10000;
      this.itableUnused[g] = this.metadataCsum || this.gdtCsum ? Math.min(unused, ipg) : 0;
      if (checkGroupCsum) {
        const stored = gv.getUint16(o + 0x1e, true);
        const actual = groupDescCsum(this.metadataCsum, this.fsSeed, this.uuid, g, this.gdt, o, ds, this.is64);
        if (stored !== actual) throw checksumError('group descriptor', { group: g }, stored, actual);
      }
    }
    if (this.verifyCsum) this.verifyBitmaps(cpg);

    const stateBits = sb.s_state;
    const lbl = cString(sb.s_volume_name);
    const hashNames = ['legacy', 'half_md4', 'tea', 'legacy_unsigned', 'half_md4_unsigned', 'tea_unsigned', 'siphash'];
    const features = featureNames({ compat, incompat, ro_compat: roCompat });
    this.info = {
      type: fsType(compat, incompat, roCompat),
      blockSize: bs,
      blocksCount,
      freeBlocks: sb.s_free_blocks_count_lo + (this.is64 ? sb.s_free_blocks_count_hi * 0x100000000 : 0),
      reservedBlocks: sb.s_r_blocks_count_lo + (this.is64 ? sb.s_r_blocks_count_hi * 0x100000000 : 0),
      inodesCount: this.inodesCount,
      freeInodes: sb.s_free_inodes_count,
      label: lbl,
      uuid: uuidString(sb.s_uuid),
      features,
      featureBits: { compat, incompat, ro_compat: roCompat },
      inodeSize: this.inodeSize,
      firstInode: this.firstIno,
      firstDataBlock: this.firstDataBlock,
      blocksPerGroup: bpg,
      inodesPerGroup: ipg,
      groupCount: groups,
      descSize: ds,
      revision: rev,
      state: `${stateBits & 1 ? 'clean' : 'not clean'}${stateBits & 2 ? ' with errors' : ''}${stateBits & 4 ? ', orphans being recovered' : ''}`,
      errorsBehavior: (['unknown', 'continue', 'remount-ro', 'panic'] as const)[sb.s_errors] ?? 'unknown',
      creatorOs: ['Linux', 'Hurd', 'Masix', 'FreeBSD', 'Lites'][sb.s_creator_os] ?? `unknown (${sb.s_creator_os})`,
      mountCount: sb.s_mnt_count,
      maxMountCount: sb.s_max_mnt_count >= 0x8000 ? sb.s_max_mnt_count - 0x10000 : sb.s_max_mnt_count,
      lastMounted: cString(sb.s_last_mounted),
      journalInode: sb.s_journal_inum,
      journalUuid: uuidString(sb.s_journal_uuid),
      hashVersion: hashNames[sb.s_def_hash_version] ?? `unknown (${sb.s_def_hash_version})`,
      hashSeed: uuidString(sb.s_hash_seed),
      mkfsTime: sb.s_mkfs_time + sb.s_mkfs_time_hi * 0x100000000,
      lastMountTime: sb.s_mtime + sb.s_mtime_hi * 0x100000000,
      lastWriteTime: sb.s_wtime + sb.s_wtime_hi * 0x100000000,
      lastCheckTime: sb.s_lastcheck + sb.s_lastcheck_hi * 0x100000000,
      checkInterval: sb.s_checkinterval,
      reservedGdtBlocks: sb.s_reserved_gdt_blocks,
      flexGroups: (incompat & 0x200) !== 0 && sb.s_log_groups_per_flex < 31 ? 2 ** sb.s_log_groups_per_flex : 0,
      defaultMountOptions: sb.s_default_mount_opts,
      minExtraIsize: sb.s_min_extra_isize,
      wantExtraIsize: sb.s_want_extra_isize,
      ...(this.metadataCsum ? { checksumSeed: this.fsSeed } : {}),
      needsRecovery: (incompat & 0x4) !== 0,
    };
  }

  private verifyBitmaps(cpg: number): void {
    const gv = new DataView(this.gdt.buffer);
    const ds = this.descSize;
    for (let g = 0; g < this.groupCount; g++) {
      const o = g * ds;
      const flags = this.groupFlags[g]!;
      const hi32 = (off: number) => (this.is64 ? gv.getUint32(o + off, true) * 0x100000000 : 0);
      const hi16 = (off: number) => (ds >= off + 2 ? gv.getUint16(o + off, true) * 0x10000 : -1);
      if (!(flags & BG_BLOCK_UNINIT)) {
        const blk = gv.getUint32(o, true) + hi32(0x20);
        const bm = this.readBlocksChecked(blk, 1, 'block bitmap', { group: g });
        const c = bitmapCsum(this.fsSeed, bm, cpg / 8);
        const h = hi16(0x38);
        const stored = gv.getUint16(o + 0x18, true) + (h < 0 ? 0 : h);
        const actual = h < 0 ? c & 0xffff : c;
        if (stored !== actual) throw checksumError('block bitmap', { group: g, block: blk }, stored, actual);
      }
      if (!(flags & BG_INODE_UNINIT)) {
        const blk = gv.getUint32(o + 4, true) + hi32(0x24);
        const bm = this.readBlocksChecked(blk, 1, 'inode bitmap', { group: g });
        const c = bitmapCsum(this.fsSeed, bm, this.inodesPerGroup / 8);
        const h = hi16(0x3a);
        const stored = gv.getUint16(o + 0x1a, true) + (h < 0 ? 0 : h);
        const actual = h < 0 ? c & 0xffff : c;
        if (stored !== actual) throw checksumError('inode bitmap', { group: g, block: blk }, stored, actual);
      }
    }
  }

  /** Group descriptor fields, for inspect tools. */
  group(g: number): Ext4Group {
    if (!Number.isInteger(g) || g < 0 || g >= this.groupCount)
      throw fmtErr('E_FORMAT_RANGE', `group ${g} does not exist (${this.groupCount} groups)`, { group: g });
    const d = (this.is64 ? groupDesc64 : groupDesc32).decode(this.gdt, g * this.descSize) as Record<string, number>;
    const h = (n: string) => (this.is64 ? (d[n] ?? 0) : 0);
    return {
      index: g,
      blockBitmap: d.bg_block_bitmap_lo! + h('bg_block_bitmap_hi') * 0x100000000,
      inodeBitmap: d.bg_inode_bitmap_lo! + h('bg_inode_bitmap_hi') * 0x100000000,
      inodeTable: d.bg_inode_table_lo! + h('bg_inode_table_hi') * 0x100000000,
      freeBlocks: d.bg_free_blocks_count_lo! + h('bg_free_blocks_count_hi') * 0x10000,
      freeInodes: d.bg_free_inodes_count_lo! + h('bg_free_inodes_count_hi') * 0x10000,
      usedDirs: d.bg_used_dirs_count_lo! + h('bg_used_dirs_count_hi') * 0x10000,
      flags: d.bg_flags!,
      itableUnused: d.bg_itable_unused_lo! + h('bg_itable_unused_hi') * 0x10000,
      checksum: d.bg_checksum!,
    };
  }

  readBlocks(block: number, count: number): Uint8Array {
    return this.dev.readAt(block * this.blockSize, count * this.blockSize);
  }

  private readBlocksChecked(
    block: number,
    count: number,
    structure: string,
    data: Record<string, unknown>,
  ): Uint8Array {
    if (!(Number.isSafeInteger(block) && block >= this.firstDataBlock && block + count <= this.blocksCount)) {
      throw fmtErr(
        'E_FORMAT_BLOCK_RANGE',
        `${structure} block ${block} lies outside the filesystem (${this.blocksCount} blocks)`,
        { structure, block, ...data },
      );
    }
    return this.readBlocks(block, count);
  }

  /** Raw inode bytes: returns [buffer, offset]; zeros for never-initialised inode table slots. */
  rawInode(ino: number): [Uint8Array, number] {
    const c = this.inodeChunk(ino);
    return [c.buf, this.chunkOff];
  }

  private chunkOff = 0;
  private lastKey = -1;
  private lastChunk: InodeChunk | undefined;

  /** The cached inode-table chunk holding `ino`; its offset goes to this.chunkOff. */
  private inodeChunk(ino: number): InodeChunk {
    if (!Number.isInteger(ino) || ino < 1 || ino > this.inodesCount)
      throw fmtErr('E_FORMAT_RANGE', `inode ${ino} does not exist (the filesystem has ${this.inodesCount})`, {
        structure: 'ext4_inode',
        inode: ino,
      });
    const g = Math.floor((ino - 1) / this.inodesPerGroup);
    const idx = (ino - 1) % this.inodesPerGroup;
    const isz = this.inodeSize;
    if (
      (this.groupFlags[g]! & BG_INODE_UNINIT && (this.metadataCsum || this.gdtCsum)) ||
      idx >= this.inodesPerGroup - this.itableUnused[g]!
    ) {
      const buf = new Uint8Array(isz);
      this.chunkOff = 0;
      return { buf, view: new DataView(buf.buffer) };
    }
    const byteOff = idx * isz;
    const chunk = Math.floor(byteOff / INODE_CHUNK);
    const key = g * Math.ceil(this.itableBytes / INODE_CHUNK) + chunk;
    this.chunkOff = byteOff - chunk * INODE_CHUNK;
    if (key === this.lastKey) return this.lastChunk!;
    let c = this.inodeCache.get(key);
    if (c) {
      this.inodeCache.delete(key);
      this.inodeCache.set(key, c);
    } else {
      const start = chunk * INODE_CHUNK;
      const len = Math.min(INODE_CHUNK, this.itableBytes - start);
      const buf = this.dev.readAt(this.inodeTable[g]! * this.blockSize + start, len);
      c = { buf, view: new DataView(buf.buffer, buf.byteOffset, buf.byteLength) };
      this.inodeCache.set(key, c);
      if (this.inodeCache.size > INODE_CACHE_CHUNKS) this.inodeCache.delete(this.inodeCache.keys().next().value!);
    }
    this.lastKey = key;
    this.lastChunk = c;
    return c;
  }

  /** Decode (and verify) inode `ino`. */
  inode(ino: number): Ext4Inode {
    const chunk = this.inodeChunk(ino);
    const raw = chunk.buf;
    const v = chunk.view;
    const off = this.chunkOff;
    const isz = this.inodeSize;
    const generation = v.getUint32(off + OFF.generation, true);
    const extraIsize = isz > 128 ? v.getUint16(off + OFF.extraIsize, true) : 0;
    if (isz > 128 && (128 + extraIsize > isz || (extraIsize & 3) !== 0))
      throw fmtErr('E_FORMAT_INODE', `inode ${ino}: i_extra_isize ${extraIsize} is invalid`, {
        structure: 'ext4_inode',
        field: 'i_extra_isize',
        inode: ino,
        actual: extraIsize,
      });
    let csumSeed = 0;
    if (this.metadataCsum) {
      csumSeed = inodeCsumSeed(this.fsSeed, ino, generation);
      if (this.verify) {
        const hiFits = isz > 128 && extraIsize >= 4;
        const c = inodeCsum(csumSeed, raw, off, isz, hiFits);
        const stored = v.getUint16(off + 0x7c, true) + (hiFits ? v.getUint16(off + 0x82, true) * 0x10000 : 0);
        const actual = hiFits ? c : c & 0xffff;
        if (stored !== actual) {
          let zero = true;
          for (let i = 0; i < isz && zero; i++) if (raw[off + i] !== 0) zero = false;
          if (!zero)
            throw checksumError(
              'inode',
              { inode: ino, group: Math.floor((ino - 1) / this.inodesPerGroup) },
              stored,
              actual,
            );
        }
      }
    }
    const extraEnd = isz > 128 ? 128 + extraIsize : 0;
    const mode = v.getUint16(off + OFF.mode, true);
    const sizeHigh = v.getUint32(off + OFF.sizeHigh, true);
    if (sizeHigh > 0x1fffff)
      throw fmtErr('E_FORMAT_INODE', `inode ${ino}: size is too large (i_size_high 0x${sizeHigh.toString(16)})`, {
        structure: 'ext4_inode',
        field: 'i_size_high',
        inode: ino,
        actual: sizeHigh,
      });
    const xattrs =
      isz > 128 && extraEnd + 4 <= isz && v.getUint32(off + extraEnd, true) === XATTR_MAGIC
        ? parseInodeXattrs(raw, off, isz, extraIsize, ino)
        : NO_XATTRS;
    return {
      ino,
      mode,
      type: TYPE_OF[(mode >>> 12) & 0xf],
      uid: v.getUint16(off + OFF.uid, true) + v.getUint16(off + OFF.uidHigh, true) * 0x10000,
      gid: v.getUint16(off + OFF.gid, true) + v.getUint16(off + OFF.gidHigh, true) * 0x10000,
      size: v.getUint32(off + OFF.sizeLo, true) + sizeHigh * 0x100000000,
      linksCount: v.getUint16(off + OFF.links, true),
      flags: v.getUint32(off + OFF.flags, true),
      generation,
      blocks: v.getUint32(off + OFF.blocksLo, true) + v.getUint16(off + OFF.blocksHigh, true) * 0x100000000,
      fileAcl:
        v.getUint32(off + OFF.aclLo, true) + (this.is64 ? v.getUint16(off + OFF.aclHigh, true) * 0x100000000 : 0),
      atime: decodeTime(v, off, OFF.atime, OFF.atimeExtra, extraEnd),
      mtime: decodeTime(v, off, OFF.mtime, OFF.mtimeExtra, extraEnd),
      ctime: decodeTime(v, off, OFF.ctime, OFF.ctimeExtra, extraEnd),
      crtime: OFF.crtimeExtra + 4 <= extraEnd ? decodeTime(v, off, OFF.crtime, OFF.crtimeExtra, extraEnd) : undefined,
      dtime: v.getUint32(off + OFF.dtime, true),
      // a read-only view into the cached inode-table chunk (no copy)
      iBlock: raw.subarray(off + OFF.block, off + OFF.block + 60),
      extraIsize,
      csumSeed,
      ibodyXattrs: xattrs,
    };
  }

  /** Block runs of an inode's data (not for inline-data inodes). */
  runs(inode: Ext4Inode): Run[] {
    if (inode.flags & INODE_FLAGS.INLINE_DATA) return [];
    return inodeRuns(this, inode.ino, inode.flags, inode.iBlock, inode.csumSeed, inode.size);
  }

  /** All xattrs of an inode as stored (in-inode first, then the external block). */
  rawXattrs(inode: Ext4Inode): RawXattr[] {
    if (inode.fileAcl === 0) return inode.ibodyXattrs;
    let blockX = this.xattrBlockCache.get(inode.fileAcl);
    if (!blockX) {
      const blk = this.readBlocksChecked(inode.fileAcl, 1, 'ext4_xattr_header', { inode: inode.ino });
      if (this.verifyCsum) {
        const stored = new DataView(blk.buffer, blk.byteOffset).getUint32(0x10, true);
        const actual = xattrBlockCsum(this.fsSeed, inode.fileAcl, blk);
        if (stored !== actual)
          throw checksumError('xattr block', { inode: inode.ino, block: inode.fileAcl }, stored, actual);
      }
      blockX = parseXattrBlock(blk, inode.fileAcl, inode.ino);
      this.xattrBlockCache.set(inode.fileAcl, blockX);
    }
    return [...inode.ibodyXattrs, ...blockX];
  }

  private xattrValue(x: RawXattr, owner: number): Uint8Array {
    if (x.value) return x.value;
    const vi = this.inode(x.valueInode!);
    if (!(vi.flags & INODE_FLAGS.EA_INODE) || vi.size !== x.valueSize || x.valueSize > MAX_XATTR_VALUE) {
      throw fmtErr(
        'E_FORMAT_XATTR',
        `inode ${owner}: xattr ${x.name} points at inode ${x.valueInode}, which is not a matching xattr value inode`,
        { structure: 'ext4_xattr_entry', inode: owner, field: 'e_value_inum', actual: x.valueInode },
      );
    }
    return this.readData(vi, 0, vi.size);
  }

  /** User-visible xattrs: prefixed names, ACLs in VFS form, system.data (inline data) left out. */
  xattrs(inode: Ext4Inode): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const x of this.rawXattrs(inode)) {
      if (x.name === 'system.data') continue;
      let val = this.xattrValue(x, inode.ino);
      if (x.name === 'system.posix_acl_access' || x.name === 'system.posix_acl_default')
        val = aclToXattr(val, x.name, inode.ino);
      out.set(x.name, val);
    }
    return out;
  }

  /** The inline data of an INLINE_DATA inode: i_block (up to 60 bytes) then system.data. */
  inlineData(inode: Ext4Inode): Uint8Array {
    const sd = inode.ibodyXattrs.find((x) => x.name === 'system.data');
    const extra = sd ? (sd.value ?? new Uint8Array(0)) : new Uint8Array(0);
    const all = new Uint8Array(60 + extra.length);
    all.set(inode.iBlock, 0);
    all.set(extra, 60);
    return all;
  }

  /** Read `length` bytes of an inode's data at `pos` (clipped at its size); holes read as zeros. */
  readData(inode: Ext4Inode, pos: number, length: number, runs?: Run[]): Uint8Array {
    const end = Math.min(inode.size, pos + length);
    if (end <= pos) return new Uint8Array(0);
    if (inode.flags & INODE_FLAGS.INLINE_DATA) {
      const d = this.inlineData(inode);
      if (inode.size > d.length)
        throw fmtErr(
          'E_FORMAT_INLINE',
          `inode ${inode.ino}: size ${inode.size} is larger than its inline data (${d.length} bytes)`,
          { structure: 'ext4_inode', inode: inode.ino, field: 'i_size' },
        );
      return d.slice(pos, end);
    }
    return readRuns(this, runs ?? this.runs(inode), pos, end);
  }

  /** Directory entries (without '.' and '..') of a directory inode. */
  readDir(inode: Ext4Inode): RawDirEntry[] {
    const out: RawDirEntry[] = [];
    const ctx = {
      ino: inode.ino,
      inodesCount: this.inodesCount,
      blockSize: this.blockSize,
      csumSeed: this.verifyCsum ? inode.csumSeed : undefined,
      indexed: (inode.flags & INODE_FLAGS.INDEX) !== 0,
    };
    if (inode.flags & INODE_FLAGS.INLINE_DATA) {
      const sd = inode.ibodyXattrs.find((x) => x.name === 'system.data');
      parseInlineDir(inode.iBlock, sd?.value, ctx, out);
      return out;
    }
    if (inode.size > this.blocksCount * this.blockSize)
      throw fmtErr('E_FORMAT_INODE', `directory inode ${inode.ino}: size ${inode.size} is larger than the filesystem`, {
        structure: 'ext4_inode',
        inode: inode.ino,
        field: 'i_size',
        actual: inode.size,
      });
    const bs = this.blockSize;
    for (const r of this.runs(inode)) {
      if (r.unwritten) continue;
      for (let done = 0; done < r.length;) {
        const n = Math.min(r.length - done, 64);
        const buf = this.readBlocks(r.physical + done, n);
        for (let k = 0; k < n; k++)
          parseDirBlock(buf.subarray(k * bs, (k + 1) * bs), r.logical + done + k, r.physical + done + k, ctx, out);
        done += n;
      }
    }
    return out;
  }

  /** Look up a path (no symlink following); undefined when absent. */
  lookup(path: string): Ext4Inode | undefined {
    let cur = this.inode(ROOT_INO);
    for (const part of path.split('/').filter((p) => p !== '' && p !== '.')) {
      if (cur.type !== 'dir') return undefined;
      const e = this.readDir(cur).find((x) => x.name === part);
      if (!e) return undefined;
      cur = this.inode(e.ino);
    }
    return cur;
  }

  /** Lazy content of a regular-file inode. */
  content(inode: Ext4Inode): Content {
    if (inode.flags & INODE_FLAGS.INLINE_DATA) {
      const data = this.readData(inode, 0, inode.size);
      return {
        size: data.length,
        async *stream() {
          if (data.length) yield data.slice();
        },
        readAt: (p, l) => data.slice(p, Math.min(data.length, p + l)),
        dataRanges: () => (data.length ? [[0, data.length]] : []),
      };
    }
    return new Ext4Content(this, inode.ino, inode.flags, inode.iBlock, inode.csumSeed, inode.size);
  }

  private symlinkTarget(inode: Ext4Inode): string {
    if (inode.size === 0 || inode.size > MAX_SYMLINK)
      throw fmtErr('E_FORMAT_SYMLINK', `symlink inode ${inode.ino} has invalid length ${inode.size}`, {
        structure: 'ext4_inode',
        inode: inode.ino,
        field: 'i_size',
        actual: inode.size,
      });
    let bytes: Uint8Array;
    if (inode.flags & INODE_FLAGS.INLINE_DATA) bytes = this.readData(inode, 0, inode.size);
    else if (inode.size < 60 && !this.hasDataBlocks(inode)) bytes = inode.iBlock.subarray(0, inode.size);
    else bytes = this.readData(inode, 0, inode.size);
    if (bytes.length !== inode.size || bytes.includes(0))
      throw fmtErr('E_FORMAT_SYMLINK', `symlink inode ${inode.ino} has a truncated or NUL-containing target`, {
        structure: 'ext4_inode',
        inode: inode.ino,
      });
    return dec.decode(bytes);
  }

  /** Largest size a file with these flags can map: 2^32 blocks with extents, else 12 + p + p^2 + p^3 blocks. */
  maxFileSize(flags: number): number {
    const bs = this.blockSize;
    if (flags & INODE_FLAGS.INLINE_DATA) return 60 + this.inodeSize;
    if (flags & INODE_FLAGS.EXTENTS) return 2 ** 32 * bs;
    const p = bs / 4;
    return (12 + p + p * p + p * p * p) * bs;
  }

  /** A short symlink is "fast" (target in i_block) unless it owns data blocks. */
  private hasDataBlocks(inode: Ext4Inode): boolean {
    const xblocks = inode.fileAcl !== 0 ? this.blockSize / 512 : 0;
    return inode.blocks - xblocks > 0;
  }

  private meta(inode: Ext4Inode): NodeMeta {
    return {
      mode: inode.mode & 0o7777,
      uid: inode.uid,
      gid: inode.gid,
      mtime: inode.mtime,
      atime: inode.atime,
      ctime: inode.ctime,
      xattrs: this.xattrs(inode),
    };
  }

  /** A tree node for an inode (directories come back with no children). */
  node(inode: Ext4Inode): TreeNode {
    const t = inode.type;
    if (inode.flags & 0x800)
      throw fmtErr('E_FORMAT_UNSUPPORTED', `inode ${inode.ino} is encrypted; this reader cannot decrypt it`, {
        structure: 'ext4_inode',
        inode: inode.ino,
        field: 'i_flags',
      });
    if (t === undefined || inode.mode === 0)
      throw fmtErr('E_FORMAT_INODE', `inode ${inode.ino} has an invalid file type (mode 0o${inode.mode.toString(8)})`, {
        structure: 'ext4_inode',
        inode: inode.ino,
        field: 'i_mode',
        actual: inode.mode,
      });
    const mode = inode.mode & 0o7777;
    const xattrs = this.xattrs(inode);
    const { uid, gid, mtime, atime, ctime } = inode;
    switch (t) {
      case 'dir':
        return { type: 'dir', mode, uid, gid, mtime, atime, ctime, xattrs, children: new Map() };
      case 'file': {
        if (inode.size > this.maxFileSize(inode.flags))
          throw fmtErr(
            'E_FORMAT_INODE',
            `inode ${inode.ino}: size ${inode.size} exceeds the largest file this filesystem can map (${this.maxFileSize(inode.flags)} bytes)`,
            { structure: 'ext4_inode', field: 'i_size', inode: inode.ino, actual: inode.size },
          );
        return { type: 'file', mode, uid, gid, mtime, atime, ctime, xattrs, content: this.content(inode) };
      }
      case 'symlink':
        return { type: 'symlink', mode, uid, gid, mtime, atime, ctime, xattrs, target: this.symlinkTarget(inode) };
      case 'chardev':
      case 'blockdev': {
        const v = new DataView(inode.iBlock.buffer, inode.iBlock.byteOffset, 60);
        const old = v.getUint32(0, true);
        const d = old !== 0 ? { major: (old >>> 8) & 0xff, minor: old & 0xff } : decodeDev(v.getUint32(4, true));
        return { type: t, mode, uid, gid, mtime, atime, ctime, xattrs, major: d.major, minor: d.minor };
      }
      default:
        return { type: t, mode, uid, gid, mtime, atime, ctime, xattrs };
    }
  }

  /** Read the whole directory tree (file contents stay lazy). */
  tree(): FileTree {
    const tree = new FileTree();
    const rootInode = this.inode(ROOT_INO);
    if (rootInode.type !== 'dir')
      throw fmtErr('E_FORMAT_INODE', `the root inode is not a directory (mode 0o${rootInode.mode.toString(8)})`, {
        structure: 'ext4_inode',
        inode: ROOT_INO,
        field: 'i_mode',
      });
    Object.assign(tree.root, this.meta(rootInode));
    const shared = new Map<number, TreeNode>();
    const dirs = new Set<number>([ROOT_INO]);
    const stack: Array<[DirNode, Ext4Inode]> = [[tree.root, rootInode]];
    while (stack.length) {
      const [dnode, dinode] = stack.pop()!;
      for (const e of this.readDir(dinode)) {
        const where = { structure: 'ext4_dir_entry_2', inode: dinode.ino, field: 'inode', actual: e.ino };
        if (dnode.children.has(e.name))
          throw fmtErr('E_FORMAT_DIRENT', `directory inode ${dinode.ino} lists ${JSON.stringify(e.name)} twice`, where);
        let node = shared.get(e.ino);
        if (!node) {
          if (dirs.has(e.ino))
            throw fmtErr(
              'E_FORMAT_LOOP',
              `directory inode ${e.ino} is reachable twice (directory loop or hard-linked directory), seen again in directory inode ${dinode.ino}`,
              where,
            );
          if (e.ino < this.firstIno && e.ino !== ROOT_INO)
            throw fmtErr(
              'E_FORMAT_DIRENT',
              `directory inode ${dinode.ino}: ${JSON.stringify(e.name)} points at reserved inode ${e.ino}`,
              where,
            );
          const ci = this.inode(e.ino);
          if (ci.linksCount === 0 || ci.mode === 0)
            throw fmtErr(
              'E_FORMAT_DIRENT',
              `directory inode ${dinode.ino}: ${JSON.stringify(e.name)} points at unused inode ${e.ino}`,
              where,
            );
          node = this.node(ci);
          if (node.type === 'dir') {
            dirs.add(e.ino);
            stack.push([node, ci]);
          } else shared.set(e.ino, node);
        }
        dnode.children.set(e.name, node);
      }
    }
    return tree;
  }
}

/** Read [pos, end) of a run-mapped file: fresh buffer, holes and unwritten extents as zeros. */
function readRuns(fs: Ext4Reader, runs: Run[], pos: number, end: number): Uint8Array {
  const bs = fs.blockSize;
  let i = findRun(runs, Math.floor(pos / bs));
  const first = runs[i];
  if (first && !first.unwritten && first.logical * bs <= pos && (first.logical + first.length) * bs >= end) {
    return fs.dev.readAt(first.physical * bs + (pos - first.logical * bs), end - pos);
  }
  const out = new Uint8Array(end - pos);
  for (; i < runs.length; i++) {
    const r = runs[i]!;
    const rs = r.logical * bs;
    if (rs >= end) break;
    if (r.unwritten) continue;
    const s = Math.max(pos, rs);
    const e = Math.min(end, (r.logical + r.length) * bs);
    if (s < e) out.set(fs.dev.readAt(r.physical * bs + (s - rs), e - s), s - pos);
  }
  return out;
}

/** Lazy content of an extent- or block-mapped file. The block map is read on first use. */
class Ext4Content implements Content {
  private map: Run[] | undefined;
  constructor(
    private readonly fs: Ext4Reader,
    private readonly ino: number,
    private readonly flags: number,
    private readonly iBlock: Uint8Array,
    private readonly seed: number,
    readonly size: number,
  ) {}

  private runs(): Run[] {
    this.map ??= inodeRuns(this.fs, this.ino, this.flags, this.iBlock, this.seed, this.size);
    return this.map;
  }

  readAt(position: number, length: number): Uint8Array {
    const end = Math.min(this.size, position + length);
    if (!(end > position) || position < 0) return new Uint8Array(0);
    return readRuns(this.fs, this.runs(), position, end);
  }

  async *stream(): AsyncGenerator<Uint8Array> {
    const runs = this.runs();
    const bs = this.fs.blockSize;
    const size = this.size;
    let pos = 0;
    let i = 0;
    while (pos < size) {
      while (i < runs.length && (runs[i]!.logical + runs[i]!.length) * bs <= pos) i++;
      const r = runs[i];
      const rs = r ? r.logical * bs : size;
      if (!r || r.unwritten || rs > pos) {
        // a hole (or unwritten extent) up to the next data
        const holeEnd = Math.min(size, !r ? size : r.unwritten ? (r.logical + r.length) * bs : rs, pos + STREAM_CHUNK);
        yield new Uint8Array(holeEnd - pos);
        pos = holeEnd;
        continue;
      }
      const e = Math.min(size, (r.logical + r.length) * bs, pos + STREAM_CHUNK);
      yield this.fs.dev.readAt(r.physical * bs + (pos - rs), e - pos);
      pos = e;
    }
  }

  dataRanges(): Array<[number, number]> {
    const bs = this.fs.blockSize;
    const out: Array<[number, number]> = [];
    for (const r of this.runs()) {
      if (r.unwritten) continue;
      const s = r.logical * bs;
      const e = Math.min(this.size, (r.logical + r.length) * bs);
      if (s >= e) continue;
      const last = out[out.length - 1];
      if (last && last[1] === s) last[1] = e;
      else out.push([s, e]);
    }
    return out;
  }
}

function fsType(compat: number, incompat: number, roCompat: number): 'ext2' | 'ext3' | 'ext4' {
  // As blkid decides: anything beyond the ext3 feature set is ext4.
  const EXT3_INCOMPAT = 0x2 | 0x4 | 0x10; // filetype, needs_recovery, meta_bg
  const EXT3_RO = 0x1 | 0x2 | 0x4; // sparse_super, large_file, btree_dir
  if ((incompat & ~EXT3_INCOMPAT) !== 0 || (roCompat & ~EXT3_RO) !== 0) return 'ext4';
  return compat & 0x4 ? 'ext3' : 'ext2';
}

/**
 * A reader for `dev`; when the filesystem needs recovery (and
 * opts.replayJournal is not false), a reader of the journal-replayed view.
 */
export function openExt4Reader(dev: BlockDevice, opts: Ext4OpenOptions = {}): Ext4Reader {
  const r = new Ext4Reader(dev, opts);
  if (
    !r.info.needsRecovery ||
    opts.replayJournal === false ||
    r.info.journalInode === 0 ||
    !(r.info.featureBits.compat & 0x4)
  )
    return r;
  const replay = journalOverlay(r, r.info.journalInode);
  if (!replay) return r;
  const replayed = new Ext4Reader(replay.dev, opts);
  replayed.info.journalReplay = { transactions: replay.transactions, blocks: replay.blocks };
  return replayed;
}

/** Open an ext2/3/4 filesystem and read its tree (contents stay lazy). */
export function openExt4(dev: BlockDevice, opts: Ext4OpenOptions = {}): Ext4Volume {
  const reader = openExt4Reader(dev, opts);
  return { tree: reader.tree(), info: reader.info, reader };
}

/** Superblock/group information only, without walking the tree. */
export function readExt4Info(dev: BlockDevice, opts: Ext4OpenOptions = {}): Ext4Info {
  return openExt4Reader(dev, opts).info;
}

/** Decode one inode (for inspect tools). */
export function readExt4Inode(dev: BlockDevice | Ext4Reader, ino: number, opts: Ext4OpenOptions = {}): Ext4Inode {
  const r = dev instanceof Ext4Reader ? dev : openExt4Reader(dev, opts);
  return r.inode(ino);
}
