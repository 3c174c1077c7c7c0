/**
 * Reader, step one: the superblock. Decodes it through the table, checks
 * its checksum (metadata_csum) and every geometry field against the device
 * size before anything is allocated from them, and refuses incompatible
 * features this reader cannot interpret. Also turns it into Ext4Info.
 */
import type { BlockDevice } from '../../io/device.js';
import { checksumError, fsCsumSeed, superblockCsum } from './csum.js';
import { ext4Error } from './error.js';
import { uuidString } from './fields.js';
import {
  CHECKSUM_CRC32C,
  COMPAT,
  CREATOR_OS,
  DX_HASH,
  ERRORS_BEHAVIOR,
  EXT4_MAGIC,
  FIRST_INO,
  GOOD_OLD_INODE_SIZE,
  INCOMPAT,
  KNOWN_INCOMPAT,
  MAX_LOG_BLOCK_SIZE,
  MIN_BLOCK_SIZE,
  REV,
  RO_COMPAT,
  STATE,
  SUPERBLOCK_OFFSET,
  extType,
  featureNames,
  groupDesc32,
  groupDesc64,
  superblock,
  type FeatureSet,
} from './structs.js';

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
  /**
   * When the filesystem needs recovery: what the reader did, in one line
   * ("replayed 3 transaction(s) (12 blocks)", "not replayed; ..."), ending
   * in "e2fsck needed" when the view may differ from what e2fsck and the
   * kernel make of the image (the warnings say why).
   */
  recovery?: string;
}

export type Superblock = ReturnType<typeof superblock.decode>;

/** The checked superblock and the geometry every other reader module works from. */
export interface Super {
  sb: Superblock;
  features: FeatureSet;
  blockSize: number;
  blocksCount: number;
  firstDataBlock: number;
  blocksPerGroup: number;
  /** Bits per block bitmap: clusters per group with bigalloc, else blocks per group. */
  clustersPerGroup: number;
  /** Blocks per allocation cluster (1 unless bigalloc). */
  clusterRatio: number;
  inodeSize: number;
  firstIno: number;
  inodesPerGroup: number;
  inodesCount: number;
  groupCount: number;
  /** Bytes of one group's inode table. */
  itableBytes: number;
  descSize: number;
  is64: boolean;
  metadataCsum: boolean;
  /** uninit_bg (gdt_csum) without metadata_csum: CRC16 group descriptor checksums. */
  gdtCsum: boolean;
  fsSeed: number;
}

/** Incompatible features whose data this reader cannot interpret. */
const UNSUPPORTED_INCOMPAT: Array<[number, string]> = [
  [INCOMPAT.COMPRESSION, 'compression'],
  [INCOMPAT.JOURNAL_DEV, 'journal_dev'],
  [INCOMPAT.DIRDATA, 'dirdata'],
];
/** Bitmaps are one block: at most 8 bits per byte of it. */
const BITS_PER_BYTE = 8;
const MAX_DESC_SIZE = 1024;
/** Clusters of at most 2^16 blocks (the kernel's limit on s_log_cluster_size - s_log_block_size is lower). */
const MAX_CLUSTER_LOG = 16;
const U32 = 0x100000000;

function sbErr(field: string, msg: string, actual: unknown, expected?: unknown) {
  return ext4Error('E_FORMAT_SUPERBLOCK', `ext4 superblock: ${msg}`, {
    structure: 'ext4_super_block',
    field,
    actual,
    ...(expected !== undefined ? { expected } : {}),
  });
}

const isPow2 = (n: number) => (n & (n - 1)) === 0;

/** Magic, checksum and the features this reader can read. */
function checkIdentity(sb: Superblock, sbBytes: Uint8Array, verify: boolean): void {
  if (sb.s_magic !== EXT4_MAGIC)
    throw ext4Error(
      'E_FORMAT_MAGIC',
      `not an ext2/3/4 filesystem: superblock magic is 0x${sb.s_magic.toString(16)}, expected 0xef53`,
      {
        structure: 'ext4_super_block',
        field: 's_magic',
        offset: SUPERBLOCK_OFFSET + superblock.offsetOf('s_magic'),
        actual: sb.s_magic,
        expected: EXT4_MAGIC,
      },
    );
  if ((sb.s_feature_ro_compat & RO_COMPAT.METADATA_CSUM) !== 0 && verify) {
    if (sb.s_checksum_type !== CHECKSUM_CRC32C)
      throw sbErr(
        's_checksum_type',
        `unknown checksum type ${sb.s_checksum_type} (1 = crc32c)`,
        sb.s_checksum_type,
        CHECKSUM_CRC32C,
      );
    const actual = superblockCsum(sbBytes);
    if (actual !== sb.s_checksum)
      throw checksumError('superblock', { block: SUPERBLOCK_OFFSET / MIN_BLOCK_SIZE }, sb.s_checksum, actual);
  }
  const incompat = sb.s_feature_incompat;
  for (const [bit, name] of UNSUPPORTED_INCOMPAT) {
    if (incompat & bit)
      throw ext4Error('E_FORMAT_UNSUPPORTED', `ext4 feature ${name} is not supported by this reader`, {
        structure: 'ext4_super_block',
        field: 's_feature_incompat',
        actual: name,
      });
  }
  const unknown = incompat & ~KNOWN_INCOMPAT;
  if (unknown)
    throw ext4Error('E_FORMAT_UNSUPPORTED', `unknown incompatible ext4 feature bits 0x${unknown.toString(16)}`, {
      structure: 'ext4_super_block',
      field: 's_feature_incompat',
      actual: unknown,
    });
}

/** Block size, block count and groups, checked against the device. */
function blockGeometry(sb: Superblock, devSize: number) {
  if (sb.s_log_block_size > MAX_LOG_BLOCK_SIZE)
    throw sbErr(
      's_log_block_size',
      `block size 2^${10 + sb.s_log_block_size} is not supported (1 KiB to 64 KiB)`,
      sb.s_log_block_size,
    );
  const bs = MIN_BLOCK_SIZE << sb.s_log_block_size;
  const is64 = (sb.s_feature_incompat & INCOMPAT.BIT64) !== 0;
  const blocksCount = sb.s_blocks_count_lo + (is64 ? sb.s_blocks_count_hi * U32 : 0);
  const devBlocks = Math.floor(devSize / bs);
  if (blocksCount < 1 || blocksCount > devBlocks) {
    throw ext4Error(
      'E_FORMAT_TRUNCATED',
      `the filesystem has ${blocksCount} blocks of ${bs} bytes but the device holds only ${devBlocks} (image truncated?)`,
      { structure: 'ext4_super_block', field: 's_blocks_count', actual: blocksCount, expected: devBlocks },
    );
  }
  const firstDataBlock = sb.s_first_data_block;
  if (firstDataBlock > 1 || firstDataBlock >= blocksCount)
    throw sbErr('s_first_data_block', `first data block ${firstDataBlock} is invalid`, firstDataBlock);
  const bigalloc = (sb.s_feature_ro_compat & RO_COMPAT.BIGALLOC) !== 0;
  const bpg = sb.s_blocks_per_group;
  const cpg = bigalloc ? sb.s_clusters_per_group : bpg;
  const maxBits = BITS_PER_BYTE * bs;
  if (bpg < BITS_PER_BYTE || cpg < BITS_PER_BYTE || cpg > maxBits || cpg % BITS_PER_BYTE !== 0)
    throw sbErr('s_blocks_per_group', `${bpg} blocks per group is invalid for ${bs}-byte blocks`, bpg);
  if (!bigalloc && bpg > maxBits)
    throw sbErr('s_blocks_per_group', `${bpg} blocks per group is invalid for ${bs}-byte blocks`, bpg);
  // bigalloc: clusters of 2^(s_log_cluster_size - s_log_block_size) blocks, as many per group as bits
  const clusterLog = bigalloc ? sb.s_log_cluster_size - sb.s_log_block_size : 0;
  const ratio = 2 ** clusterLog;
  if (clusterLog < 0 || clusterLog > MAX_CLUSTER_LOG || bpg !== cpg * ratio)
    throw sbErr(
      's_log_cluster_size',
      `cluster size 2^${10 + sb.s_log_cluster_size} does not fit the group size`,
      ratio,
    );
  const groups = Math.ceil((blocksCount - firstDataBlock) / bpg);
  return { bs, is64, blocksCount, firstDataBlock, bpg, cpg, ratio, groups };
}

/** Inode size, inodes per group and the inode tables, checked against the block geometry. */
function inodeGeometry(sb: Superblock, bs: number, groups: number, blocksCount: number) {
  const old = sb.s_rev_level === REV.GOOD_OLD;
  const inodeSize = old ? GOOD_OLD_INODE_SIZE : sb.s_inode_size;
  const firstIno = old ? FIRST_INO : sb.s_first_ino;
  if (inodeSize < GOOD_OLD_INODE_SIZE || inodeSize > bs || !isPow2(inodeSize))
    throw sbErr('s_inode_size', `inode size ${inodeSize} is invalid`, inodeSize);
  const ipg = sb.s_inodes_per_group;
  if (ipg < 1 || ipg > BITS_PER_BYTE * bs || ipg % BITS_PER_BYTE !== 0)
    throw sbErr('s_inodes_per_group', `${ipg} inodes per group is invalid for ${bs}-byte blocks`, ipg);
  if (sb.s_inodes_count !== groups * ipg)
    throw sbErr(
      's_inodes_count',
      `inode count ${sb.s_inodes_count} does not match ${groups} groups of ${ipg} inodes`,
      sb.s_inodes_count,
      groups * ipg,
    );
  const itableBytes = ipg * inodeSize;
  if (Math.ceil(itableBytes / bs) * groups > blocksCount)
    throw sbErr(
      's_inodes_per_group',
      `inode tables (${groups} x ${itableBytes} bytes) do not fit in the filesystem`,
      ipg,
    );
  if (firstIno < 3 || firstIno > sb.s_inodes_count)
    throw sbErr('s_first_ino', `first inode ${firstIno} is invalid`, firstIno);
  return { inodeSize, firstIno, ipg, itableBytes };
}

/** Read, decode and check the superblock of `dev`. */
export function readSuper(dev: BlockDevice, verify: boolean): Super {
  if (dev.size < SUPERBLOCK_OFFSET + superblock.size)
    throw ext4Error('E_FORMAT_TRUNCATED', `device of ${dev.size} bytes is too small for an ext2/3/4 filesystem`, {
      structure: 'ext4_super_block',
      actual: dev.size,
    });
  const sbBytes = dev.readAt(SUPERBLOCK_OFFSET, superblock.size);
  const sb = superblock.decode(sbBytes);
  checkIdentity(sb, sbBytes, verify);
  const features = { compat: sb.s_feature_compat, incompat: sb.s_feature_incompat, ro_compat: sb.s_feature_ro_compat };
  const metadataCsum = (features.ro_compat & RO_COMPAT.METADATA_CSUM) !== 0;
  const b = blockGeometry(sb, dev.size);
  const i = inodeGeometry(sb, b.bs, b.groups, b.blocksCount);
  const descSize = b.is64 ? sb.s_desc_size : groupDesc32.size;
  if (b.is64 && (descSize < groupDesc64.size || descSize > MAX_DESC_SIZE || !isPow2(descSize)))
    throw sbErr('s_desc_size', `group descriptor size ${descSize} is invalid`, descSize);
  return {
    sb,
    features,
    blockSize: b.bs,
    blocksCount: b.blocksCount,
    firstDataBlock: b.firstDataBlock,
    blocksPerGroup: b.bpg,
    clustersPerGroup: b.cpg,
    clusterRatio: b.ratio,
    inodeSize: i.inodeSize,
    firstIno: i.firstIno,
    inodesPerGroup: i.ipg,
    inodesCount: sb.s_inodes_count,
    groupCount: b.groups,
    itableBytes: i.itableBytes,
    descSize,
    is64: b.is64,
    metadataCsum,
    gdtCsum: !metadataCsum && (features.ro_compat & RO_COMPAT.GDT_CSUM) !== 0,
    fsSeed: features.incompat & INCOMPAT.CSUM_SEED ? sb.s_checksum_seed : fsCsumSeed(sb.s_uuid),
  };
}

const dec = new TextDecoder('utf-8');

function cString(b: Uint8Array): string {
  const z = b.indexOf(0);
  return dec.decode(z >= 0 ? b.subarray(0, z) : b);
}

/** DX_HASH names by value. */
const HASH_NAMES: string[] = [];
for (const [name, v] of Object.entries(DX_HASH)) HASH_NAMES[v] = name;
/** s_max_mnt_count is a signed 16-bit value (-1: no check). */
const s16 = (n: number) => (n >= 0x8000 ? n - 0x10000 : n);
const LOG_FLEX_MAX = 31;

function stateText(s: number): string {
  const clean = s & STATE.VALID_FS ? 'clean' : 'not clean';
  return `${clean}${s & STATE.ERROR_FS ? ' with errors' : ''}${s & STATE.ORPHAN_FS ? ', orphans being recovered' : ''}`;
}

/** What inspect tools show of a superblock (dumpe2fs -h's facts). */
export function ext4Info(s: Super): Ext4Info {
  const { sb, features: f } = s;
  const hi = (lo: number, high: number) => lo + (s.is64 ? high * U32 : 0);
  const time = (lo: number, high: number) => lo + high * U32;
  return {
    type: extType(f),
    blockSize: s.blockSize,
    blocksCount: s.blocksCount,
    freeBlocks: hi(sb.s_free_blocks_count_lo, sb.s_free_blocks_count_hi),
    reservedBlocks: hi(sb.s_r_blocks_count_lo, sb.s_r_blocks_count_hi),
    inodesCount: s.inodesCount,
    freeInodes: sb.s_free_inodes_count,
    label: cString(sb.s_volume_name),
    uuid: uuidString(sb.s_uuid),
    features: featureNames(f),
    featureBits: { compat: f.compat, incompat: f.incompat, ro_compat: f.ro_compat },
    inodeSize: s.inodeSize,
    firstInode: s.firstIno,
    firstDataBlock: s.firstDataBlock,
    blocksPerGroup: s.blocksPerGroup,
    inodesPerGroup: s.inodesPerGroup,
    groupCount: s.groupCount,
    descSize: s.descSize,
    revision: sb.s_rev_level,
    state: stateText(sb.s_state),
    errorsBehavior: ERRORS_BEHAVIOR[sb.s_errors] ?? 'unknown',
    creatorOs: CREATOR_OS[sb.s_creator_os] ?? `unknown (${sb.s_creator_os})`,
    mountCount: sb.s_mnt_count,
    maxMountCount: s16(sb.s_max_mnt_count),
    lastMounted: cString(sb.s_last_mounted),
    journalInode: sb.s_journal_inum,
    journalUuid: uuidString(sb.s_journal_uuid),
    hashVersion: HASH_NAMES[sb.s_def_hash_version] ?? `unknown (${sb.s_def_hash_version})`,
    hashSeed: uuidString(sb.s_hash_seed),
    mkfsTime: time(sb.s_mkfs_time, sb.s_mkfs_time_hi),
    lastMountTime: time(sb.s_mtime, sb.s_mtime_hi),
    lastWriteTime: time(sb.s_wtime, sb.s_wtime_hi),
    lastCheckTime: time(sb.s_lastcheck, sb.s_lastcheck_hi),
    checkInterval: sb.s_checkinterval,
    reservedGdtBlocks: sb.s_reserved_gdt_blocks,
    flexGroups:
      f.incompat & INCOMPAT.FLEX_BG && sb.s_log_groups_per_flex < LOG_FLEX_MAX ? 2 ** sb.s_log_groups_per_flex : 0,
    defaultMountOptions: sb.s_default_mount_opts,
    minExtraIsize: sb.s_min_extra_isize,
    wantExtraIsize: sb.s_want_extra_isize,
    ...(s.metadataCsum ? { checksumSeed: s.fsSeed } : {}),
    needsRecovery: (f.incompat & INCOMPAT.RECOVER) !== 0,
  };
}

/** The journal lives in an inode of this filesystem (has_journal). */
export function hasInternalJournal(info: Ext4Info): boolean {
  return info.journalInode !== 0 && (info.featureBits.compat & COMPAT.HAS_JOURNAL) !== 0;
}

/**
 * ext2, ext3 or ext4 when `dev` holds an ext superblock magic (nothing else
 * is checked; opening the filesystem validates), else undefined.
 */
export function probeExt(dev: BlockDevice): 'ext2' | 'ext3' | 'ext4' | undefined {
  if (dev.size < SUPERBLOCK_OFFSET + superblock.size) return undefined;
  const b = dev.readAt(SUPERBLOCK_OFFSET, superblock.size);
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint16(superblock.offsetOf('s_magic'), true) !== EXT4_MAGIC) return undefined;
  const u32 = (f: 's_feature_compat' | 's_feature_incompat' | 's_feature_ro_compat') =>
    v.getUint32(superblock.offsetOf(f), true);
  return extType({
    compat: u32('s_feature_compat'),
    incompat: u32('s_feature_incompat'),
    ro_compat: u32('s_feature_ro_compat'),
  });
}
