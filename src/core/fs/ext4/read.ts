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
 * uninit_bg/gdt_csum the CRC16 group descriptor checksums. A mismatch in a
 * structure the reader uses is a FormatError E_FORMAT_CHECKSUM naming the
 * structure and group/inode/block; group descriptors and bitmaps, which the
 * kernel also accepts read-only, give warnings (readgroups.ts). The checks
 * use csum.ts, the functions the writer computes with.
 *
 * Warnings (checksums of structures reading does not depend on, xattrs with
 * unknown name indexes, what journal recovery could not do exactly) go to
 * `opts.warn` and collect in `reader.warnings`.
 *
 * Robustness: the superblock geometry is checked against the device size
 * before anything is allocated from it; every block number is range-checked;
 * directory inodes may be reached once (no cycles); map walks read each tree
 * block at most once. A corrupt image gives a typed FormatError, never a hang.
 *
 * The work is split by step: readsuper.ts (superblock validation),
 * readgroups.ts (group descriptors), readinode.ts (inode cache and decoding),
 * readmap.ts (block maps), readdir.ts, readxattr.ts, readcontent.ts (file
 * contents), readwalk.ts (the tree), readjournal.ts (journal replay); this
 * file ties them together in Ext4Reader.
 */
import type { BlockDevice } from '../../io/device.js';
import type { FileTree } from '../../tree/tree.js';
import type { Content, TreeNode } from '../../tree/types.js';
import { aclToXattr } from './acl.js';
import { checksumError, xattrBlockCsum } from './csum.js';
import { ext4Error } from './error.js';
import { Ext4Content, inlineContent, readRuns } from './readcontent.js';
import { parseDirBlock, parseInlineDir, type RawDirEntry } from './readdir.js';
import { GroupTable, type Ext4Group } from './readgroups.js';
import { InodeTable, type Ext4Inode } from './readinode.js';
import { recoverJournal } from './readjournal.js';
import { inodeRuns, type MapSource, type Run } from './readmap.js';
import { ext4Info, hasInternalJournal, readSuper, type Ext4Info, type Super } from './readsuper.js';
import { inodeNode, walkTree } from './readwalk.js';
import { parseXattrBlock, type RawXattr } from './readxattr.js';
import {
  BLOCK_NR_SIZE,
  COMPAT,
  INLINE_DATA_NAME,
  INODE_FLAGS,
  I_BLOCK_SIZE,
  NDIR_BLOCKS,
  ROOT_INO,
  RO_COMPAT,
  XATTR_INDEX,
  xattrHeader,
} from './structs.js';

export type { Ext4Info } from './readsuper.js';
export type { Ext4Group } from './readgroups.js';
export type { Ext4Inode } from './readinode.js';

export interface Ext4OpenOptions {
  /** Verify metadata checksums (default true). */
  verify?: boolean;
  /**
   * When the filesystem needs recovery, read it as e2fsck's journal
   * recovery leaves it (default true). The device is never written: the
   * journalled blocks are served from the journal.
   */
  replayJournal?: boolean;
  /** Receives each warning as it is found (they also collect in `warnings`). */
  warn?: (message: string) => void;
}

export interface Ext4Volume {
  tree: FileTree;
  info: Ext4Info;
  /** Low-level access (inodes, block maps, groups) for inspect tools. */
  reader: Ext4Reader;
  /** What the reader worked around or could not do exactly (see docs/ext4-read.md). */
  warnings: string[];
}

/** Warnings of one open: each message once, passed on to the caller's callback. */
class WarningSink {
  private readonly own: string[] = [];
  private next: WarningSink | undefined;
  constructor(private readonly cb?: (message: string) => void) {}
  get list(): string[] {
    return this.next ? this.next.list : this.own;
  }
  add(message: string): void {
    if (this.next) return this.next.add(message);
    if (this.own.includes(message)) return;
    this.own.push(message);
    this.cb?.(message);
  }
  /** Send what came so far, and whatever comes later, to `to`. */
  forwardTo(to: WarningSink): void {
    this.next = to;
    for (const m of this.own) to.add(m);
  }
}

const isInlineData = (x: RawXattr) => x.index === XATTR_INDEX.SYSTEM && x.name === `system.${INLINE_DATA_NAME}`;

const MAX_XATTR_VALUE = 1 << 24;
/** Directory blocks read at once. */
const DIR_READ_BLOCKS = 64;

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
  /** The first inode that is not reserved. */
  readonly firstInode: number;
  /** Bytes per allocation cluster (the block size unless bigalloc). */
  readonly clusterSize: number;
  /** huge_file: i_blocks may count filesystem blocks (HUGE_FILE_FL) and has a high half. */
  readonly hugeFile: boolean;
  private readonly s: Super;
  private readonly sink: WarningSink;
  private readonly unknownXattrIndexes = new Set<number>();
  private readonly groups: GroupTable;
  private readonly inodes: InodeTable;
  private readonly xattrBlockCache = new Map<number, RawXattr[]>();

  constructor(
    readonly dev: BlockDevice,
    opts: Ext4OpenOptions = {},
    sink = new WarningSink(opts.warn),
  ) {
    const verify = opts.verify ?? true;
    this.sink = sink;
    const s = readSuper(dev, verify);
    this.s = s;
    this.blockSize = s.blockSize;
    this.blocksCount = s.blocksCount;
    this.firstDataBlock = s.firstDataBlock;
    this.inodeSize = s.inodeSize;
    this.inodesPerGroup = s.inodesPerGroup;
    this.inodesCount = s.inodesCount;
    this.groupCount = s.groupCount;
    this.firstInode = s.firstIno;
    this.metadataCsum = s.metadataCsum;
    this.verifyCsum = verify && s.metadataCsum;
    this.clusterSize = s.blockSize * s.clusterRatio;
    this.hugeFile = (s.features.ro_compat & RO_COMPAT.HUGE_FILE) !== 0;
    const warn = (m: string) => this.warn(m);
    this.groups = new GroupTable(dev, s, verify, warn);
    if (this.verifyCsum)
      this.groups.verifyBitmaps((b) =>
        b >= this.firstDataBlock && b < this.blocksCount ? this.readBlocks(b, 1) : undefined,
      );
    this.inodes = new InodeTable(dev, s, this.groups, verify);
    this.info = ext4Info(s);
  }

  /** Warnings so far (more may come as inodes and xattrs are read: the array grows). */
  get warnings(): string[] {
    return this.sink.list;
  }

  /** Record a warning (each message once) and pass it to the caller's callback. */
  warn(message: string): void {
    this.sink.add(message);
  }

  /** Group descriptor fields, for inspect tools. */
  group(g: number): Ext4Group {
    return this.groups.group(g);
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
      throw ext4Error(
        'E_FORMAT_BLOCK_RANGE',
        `${structure} block ${block} lies outside the filesystem (${this.blocksCount} blocks)`,
        { structure, block, ...data },
      );
    }
    return this.readBlocks(block, count);
  }

  /** Raw inode bytes: returns [buffer, offset]; zeros for never-initialised inode table slots. */
  rawInode(ino: number): [Uint8Array, number] {
    return this.inodes.raw(ino);
  }

  /** Decode (and verify) inode `ino`. */
  inode(ino: number): Ext4Inode {
    return this.inodes.inode(ino);
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
        const stored = xattrHeader.decode(blk).h_checksum;
        const actual = xattrBlockCsum(this.s.fsSeed, inode.fileAcl, blk);
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
      throw ext4Error(
        'E_FORMAT_XATTR',
        `inode ${owner}: xattr ${x.name} points at inode ${x.valueInode}, which is not a matching xattr value inode`,
        { structure: 'ext4_xattr_entry', inode: owner, field: 'e_value_inum', actual: x.valueInode },
      );
    }
    return this.readData(vi, 0, vi.size);
  }

  /**
   * User-visible xattrs: prefixed names, ACLs in VFS form, system.data
   * (inline data) left out, and entries with an unknown name index skipped
   * (with a warning) as the kernel does not list them either.
   */
  xattrs(inode: Ext4Inode): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const x of this.rawXattrs(inode)) {
      if (isInlineData(x)) continue;
      if (x.unknownIndex) {
        this.unknownIndex(x, inode.ino);
        continue;
      }
      let val = this.xattrValue(x, inode.ino);
      if (x.name === 'system.posix_acl_access' || x.name === 'system.posix_acl_default')
        val = aclToXattr(val, x.name, inode.ino);
      out.set(x.name, val);
    }
    return out;
  }

  private unknownIndex(x: RawXattr, ino: number): void {
    if (this.unknownXattrIndexes.has(x.index)) return;
    this.unknownXattrIndexes.add(x.index);
    this.warn(
      `xattrs with name index ${x.index}, which has no known prefix, are skipped as the kernel skips them ` +
        `(first: ${JSON.stringify(x.name)} on inode ${ino})`,
    );
  }

  /** The inline data of an INLINE_DATA inode: i_block (up to 60 bytes) then system.data. */
  inlineData(inode: Ext4Inode): Uint8Array {
    const sd = inode.ibodyXattrs.find(isInlineData);
    const extra = sd ? (sd.value ?? new Uint8Array(0)) : new Uint8Array(0);
    const all = new Uint8Array(I_BLOCK_SIZE + extra.length);
    all.set(inode.iBlock, 0);
    all.set(extra, I_BLOCK_SIZE);
    return all;
  }

  /** Read `length` bytes of an inode's data at `pos` (clipped at its size); holes read as zeros. */
  readData(inode: Ext4Inode, pos: number, length: number, runs?: Run[]): Uint8Array {
    const end = Math.min(inode.size, pos + length);
    if (end <= pos) return new Uint8Array(0);
    if (inode.flags & INODE_FLAGS.INLINE_DATA) {
      const d = this.inlineData(inode);
      if (inode.size > d.length)
        throw ext4Error(
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
      const sd = inode.ibodyXattrs.find(isInlineData);
      parseInlineDir(inode.iBlock, sd?.value, ctx, out);
      return out;
    }
    if (inode.size > this.blocksCount * this.blockSize)
      throw ext4Error(
        'E_FORMAT_INODE',
        `directory inode ${inode.ino}: size ${inode.size} is larger than the filesystem`,
        {
          structure: 'ext4_inode',
          inode: inode.ino,
          field: 'i_size',
          actual: inode.size,
        },
      );
    const bs = this.blockSize;
    for (const r of this.runs(inode)) {
      if (r.unwritten) continue;
      for (let done = 0; done < r.length;) {
        const n = Math.min(r.length - done, DIR_READ_BLOCKS);
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
    if (inode.flags & INODE_FLAGS.INLINE_DATA) return inlineContent(this.readData(inode, 0, inode.size));
    return new Ext4Content(this, inode.ino, inode.flags, inode.iBlock, inode.csumSeed, inode.size);
  }

  /** Largest size a file with these flags can map: 2^32 blocks with extents, else 12 + p + p^2 + p^3 blocks. */
  maxFileSize(flags: number): number {
    const bs = this.blockSize;
    if (flags & INODE_FLAGS.INLINE_DATA) return I_BLOCK_SIZE + this.inodeSize;
    if (flags & INODE_FLAGS.EXTENTS) return 2 ** 32 * bs;
    const p = bs / BLOCK_NR_SIZE;
    return (NDIR_BLOCKS + p + p * p + p * p * p) * bs;
  }

  /** A tree node for an inode (directories come back with no children). */
  node(inode: Ext4Inode): TreeNode {
    return inodeNode(this, inode);
  }

  /** Read the whole directory tree (file contents stay lazy). */
  tree(): FileTree {
    return walkTree(this);
  }
}

/**
 * A reader for `dev`; when the filesystem needs recovery (and
 * opts.replayJournal is not false), a reader of the journal-replayed view.
 */
export function openExt4Reader(dev: BlockDevice, opts: Ext4OpenOptions = {}): Ext4Reader {
  const sink = new WarningSink(opts.warn);
  if (opts.replayJournal === false) {
    const r = new Ext4Reader(dev, opts, sink);
    if (r.info.needsRecovery) r.info.recovery = 'not replayed (replayJournal: false)';
    return r;
  }
  // the unreplayed filesystem's own warnings only count when nothing is replayed
  const raw = new WarningSink();
  const r = new Ext4Reader(dev, opts, raw);
  const passOn = () => raw.forwardTo(sink);
  if (!r.info.needsRecovery) {
    passOn();
    return r;
  }
  if (!hasInternalJournal(r.info)) {
    sink.add(
      'the filesystem needs recovery but has no internal journal (an external journal device, or none): ' +
        'not replayed; this view shows the blocks as they are on disk',
    );
    passOn();
    r.info.recovery = 'not replayed (no internal journal); e2fsck needed';
    return r;
  }
  const f = r.info.featureBits;
  const out = recoverJournal(r, r.info.journalInode, {
    fastCommit: (f.compat & COMPAT.FAST_COMMIT) !== 0,
    journalUuidNull: /^[0-]*$/.test(r.info.journalUuid),
    inodeSize: r.inodeSize,
  });
  for (const m of out.warnings) sink.add(m);
  if (!out.dev) {
    passOn();
    r.info.recovery = out.recovery;
    if (out.transactions) r.info.journalReplay = { transactions: out.transactions, blocks: 0 };
    return r;
  }
  const replayed = new Ext4Reader(out.dev, opts, sink);
  replayed.info.journalReplay = { transactions: out.transactions, blocks: out.blocks };
  replayed.info.recovery = out.recovery;
  return replayed;
}

/** Open an ext2/3/4 filesystem and read its tree (contents stay lazy). */
export function openExt4(dev: BlockDevice, opts: Ext4OpenOptions = {}): Ext4Volume {
  const reader = openExt4Reader(dev, opts);
  return { tree: reader.tree(), info: reader.info, reader, warnings: reader.warnings };
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
