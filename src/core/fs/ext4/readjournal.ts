/**
 * Read-only jbd2 journal replay for the ext4 reader. When a filesystem has
 * needs_recovery (it was not unmounted cleanly), the committed transactions
 * in the internal journal hold newer copies of metadata (and data=journal
 * data) blocks. Instead of writing them back, `journalOverlay` returns a
 * BlockDevice that serves those blocks from the journal: the reader then
 * sees what the kernel would see after recovery, and the image is untouched.
 *
 * Recovery follows jbd2's passes: scan committed transactions from s_start
 * with sequence s_sequence (stopping at the first block without the magic,
 * with the wrong sequence, or a transaction without its commit block);
 * collect revoke records (a block revoked in transaction T is not replayed
 * from transactions <= T); the last copy of each block wins. Every count and
 * block number is bounded by the journal and filesystem sizes.
 * Fast-commit blocks and journal checksums are not interpreted.
 *
 * Every journal structure is decoded through the jbd2 tables in structs.ts:
 * the superblock here, the log (descriptor, commit and revoke blocks) in
 * scanLog, which is where checksum checks and the stop rules of e2fsprogs'
 * recovery belong.
 */
import { FormatError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import type { Ext4Inode } from './readinode.js';
import type { Run } from './readmap.js';
import { findRun } from './readmap.js';
import {
  JBD2_BLOCKTYPE,
  JBD2_DEFAULT_FAST_COMMIT_BLOCKS,
  JBD2_INCOMPAT,
  JBD2_MAGIC,
  JBD2_TAG_FLAG,
  JBD2_UUID_SIZE,
  jbd2BlockTail,
  jbd2Header,
  jbd2Revoke32,
  jbd2Revoke64,
  jbd2RevokeHeader,
  jbd2Superblock,
  jbd2Tag,
  jbd2Tag3,
  jbd2Tag32,
  jbd2TagSize,
} from './structs.js';

/** What the reader needs for a replay. */
export interface JournalSource {
  readonly blockSize: number;
  readonly blocksCount: number;
  readonly dev: BlockDevice;
  inode(ino: number): Ext4Inode;
  runs(inode: Ext4Inode): Run[];
}

export interface JournalReplay {
  /** Device with the journalled blocks laid over the filesystem's. */
  dev: BlockDevice;
  transactions: number;
  blocks: number;
}

function jerr(msg: string, data: Record<string, unknown> = {}): FormatError {
  return new FormatError('E_FORMAT_JOURNAL', `ext4 journal: ${msg}`, { format: 'ext4', structure: 'journal', ...data });
}

interface Slot {
  phys: number;
  escape: boolean;
}

/** The journal inode as a log: its blocks by journal block number, and the superblock's view of the log. */
interface Journal {
  /** Physical block of journal block `j`. */
  phys(j: number): number;
  /** Journal block `j`. */
  read(j: number): Uint8Array;
  incompat: number;
  /** Log blocks run from `first` to `maxlen` (exclusive) and wrap around. */
  first: number;
  maxlen: number;
  /** Where recovery starts and the sequence the first transaction must have (start 0: the log is empty). */
  start: number;
  sequence: number;
}

/** Map the journal inode and check its superblock. */
function openJournal(src: JournalSource, journalIno: number): Journal {
  const bs = src.blockSize;
  const ji = src.inode(journalIno);
  if (ji.type !== 'file') throw jerr(`journal inode ${journalIno} is not a regular file`, { inode: journalIno });
  const runs = src.runs(ji);
  const jBlocks = Math.floor(ji.size / bs);
  const phys = (j: number): number => {
    const r = runs[findRun(runs, j)];
    if (!r || r.logical > j || r.unwritten)
      throw jerr(`journal block ${j} is not mapped`, { inode: journalIno, lblk: j });
    return r.physical + (j - r.logical);
  };
  const read = (j: number) => src.dev.readAt(phys(j) * bs, bs);
  const sb = jbd2Superblock.decode(read(0));
  if (sb.h_magic !== JBD2_MAGIC)
    throw jerr(`bad journal superblock magic 0x${sb.h_magic.toString(16)}`, { field: 'h_magic' });
  const sbType = sb.h_blocktype;
  if (sbType !== JBD2_BLOCKTYPE.SUPERBLOCK_V1 && sbType !== JBD2_BLOCKTYPE.SUPERBLOCK_V2)
    throw jerr(`unknown journal superblock type ${sbType}`, { field: 'h_blocktype', actual: sbType });
  if (sb.s_blocksize !== bs)
    throw jerr(`journal block size ${sb.s_blocksize} differs from the filesystem's ${bs}`, { field: 's_blocksize' });
  const incompat = sbType === JBD2_BLOCKTYPE.SUPERBLOCK_V2 ? sb.s_feature_incompat : 0;
  let maxlen = Math.min(sb.s_maxlen, jBlocks);
  if (incompat & JBD2_INCOMPAT.FAST_COMMIT)
    maxlen = Math.max(0, maxlen - (sb.s_num_fc_blks || JBD2_DEFAULT_FAST_COMMIT_BLOCKS));
  return { phys, read, incompat, first: sb.s_first, maxlen, start: sb.s_start, sequence: sb.s_sequence };
}

type Tag = { block: number; j: number; escape: boolean };

/** What a pass over the log found: the committed transactions and the last transaction revoking each block. */
interface Log {
  committed: Array<{ seq: number; tags: Tag[] }>;
  revoked: Map<number, number>;
}

/**
 * Scan the log from its start: descriptor blocks (tags naming the
 * filesystem block each following journal block replaces), revoke blocks,
 * and commit blocks closing a transaction. Stops at the first block without
 * the magic or with the wrong sequence; a transaction without its commit
 * block is dropped.
 */
function scanLog(jr: Journal, src: JournalSource): Log {
  const bs = src.blockSize;
  const { incompat, first, maxlen } = jr;
  const is64 = (incompat & JBD2_INCOMPAT.BIT64) !== 0;
  const csum3 = (incompat & JBD2_INCOMPAT.CSUM_V3) !== 0;
  const csum2 = (incompat & JBD2_INCOMPAT.CSUM_V2) !== 0;
  const tagBytes = jbd2TagSize(incompat);
  const tail = csum2 || csum3 ? jbd2BlockTail.size : 0;
  const wrap = (j: number) => (j >= maxlen ? first + ((j - maxlen) % (maxlen - first)) : j);
  const checkFsBlock = (b: number) => {
    if (!(b >= 0 && b < src.blocksCount)) throw jerr(`journalled block ${b} lies outside the filesystem`, { block: b });
  };
  const log: Log = { committed: [], revoked: new Map() };
  let seq = jr.sequence;
  let pending: Tag[] = [];
  let pendingRevokes: number[] = [];
  let j = jr.start;
  for (let steps = 0; steps < maxlen; steps++) {
    const b = jr.read(j);
    const h = jbd2Header.decode(b);
    if (h.h_magic !== JBD2_MAGIC || h.h_sequence !== seq) break;
    if (h.h_blocktype === JBD2_BLOCKTYPE.DESCRIPTOR) {
      let off = jbd2Header.size;
      let next = wrap(j + 1);
      while (off + tagBytes <= bs - tail) {
        const { block, flags } = readTag(b, off, csum3, is64);
        off += tagBytes;
        if (!(flags & JBD2_TAG_FLAG.SAME_UUID)) off += JBD2_UUID_SIZE;
        checkFsBlock(block);
        pending.push({ block, j: next, escape: (flags & JBD2_TAG_FLAG.ESCAPE) !== 0 });
        next = wrap(next + 1);
        steps++;
        if (flags & JBD2_TAG_FLAG.LAST_TAG) break;
      }
      j = next;
    } else if (h.h_blocktype === JBD2_BLOCKTYPE.COMMIT) {
      log.committed.push({ seq, tags: pending });
      for (const r of pendingRevokes) log.revoked.set(r, seq);
      pending = [];
      pendingRevokes = [];
      seq = (seq + 1) >>> 0;
      j = wrap(j + 1);
    } else if (h.h_blocktype === JBD2_BLOCKTYPE.REVOKE && incompat & JBD2_INCOMPAT.REVOKE) {
      for (const r of revokeRecords(b, is64, bs - tail)) pendingRevokes.push(r);
      j = wrap(j + 1);
    } else break;
  }
  return log;
}

/** One descriptor-block tag: the filesystem block it names and its flags. */
function readTag(b: Uint8Array, off: number, csum3: boolean, is64: boolean): { block: number; flags: number } {
  if (csum3) {
    const t = jbd2Tag3.decode(b, off);
    return { block: (is64 ? t.t_blocknr_high : 0) * 0x100000000 + t.t_blocknr, flags: t.t_flags };
  }
  if (is64) {
    const t = jbd2Tag.decode(b, off);
    return { block: t.t_blocknr_high * 0x100000000 + t.t_blocknr, flags: t.t_flags };
  }
  const t = jbd2Tag32.decode(b, off);
  return { block: t.t_blocknr, flags: t.t_flags };
}

/** The block numbers a revoke block lists (r_count bytes of it are used, at most `limit`). */
function revokeRecords(b: Uint8Array, is64: boolean, limit: number): number[] {
  const count = Math.min(jbd2RevokeHeader.decode(b).r_count, limit);
  const size = is64 ? jbd2Revoke64.size : jbd2Revoke32.size;
  const out: number[] = [];
  for (let o = jbd2RevokeHeader.size; o + size <= count; o += size) {
    if (!is64) out.push(jbd2Revoke32.decode(b, o).r_blocknr);
    else {
      const r = jbd2Revoke64.decode(b, o);
      out.push(r.r_blocknr_high * 0x100000000 + r.r_blocknr);
    }
  }
  return out;
}

/** Replay the journal of inode `journalIno` into an overlay; undefined when there is nothing to replay. */
export function journalOverlay(src: JournalSource, journalIno: number): JournalReplay | undefined {
  const jr = openJournal(src, journalIno);
  const { first, maxlen, start } = jr;
  if (start === 0) return undefined;
  if (first < 1 || first >= maxlen || start < first || start >= maxlen)
    throw jerr(`log start ${start} / first ${first} outside the journal (${maxlen} blocks)`, { field: 's_start' });
  const { committed, revoked } = scanLog(jr, src);
  const overlay = new Map<number, Slot>();
  for (const t of committed) {
    for (const tag of t.tags) {
      const rv = revoked.get(tag.block);
      if (rv !== undefined && ((rv - t.seq) | 0) >= 0) continue;
      overlay.set(tag.block, { phys: jr.phys(tag.j), escape: tag.escape });
    }
  }
  if (committed.length === 0) return undefined;
  return {
    dev: new OverlayDevice(src.dev, src.blockSize, overlay),
    transactions: committed.length,
    blocks: overlay.size,
  };
}

/** A read-only device serving some whole blocks from elsewhere on the same device. */
class OverlayDevice implements BlockDevice {
  private readonly sorted: number[];
  constructor(
    private readonly base: BlockDevice,
    private readonly bs: number,
    private readonly map: Map<number, Slot>,
  ) {
    this.sorted = [...map.keys()].sort((a, b) => a - b);
  }
  get size(): number {
    return this.base.size;
  }
  readAt(offset: number, length: number): Uint8Array {
    const out = this.base.readAt(offset, length);
    if (length === 0 || this.sorted.length === 0) return out;
    const firstBlock = Math.floor(offset / this.bs);
    const lastBlock = Math.floor((offset + length - 1) / this.bs);
    let lo = 0;
    let hi = this.sorted.length;
    while (lo < hi) {
      const m = (lo + hi) >>> 1;
      if (this.sorted[m]! < firstBlock) lo = m + 1;
      else hi = m;
    }
    for (let i = lo; i < this.sorted.length && this.sorted[i]! <= lastBlock; i++) {
      const blk = this.sorted[i]!;
      const slot = this.map.get(blk)!;
      const data = this.base.readAt(slot.phys * this.bs, this.bs);
      if (slot.escape) jbd2Header.encode({ h_magic: JBD2_MAGIC }, data);
      const s = Math.max(offset, blk * this.bs);
      const e = Math.min(offset + length, (blk + 1) * this.bs);
      out.set(data.subarray(s - blk * this.bs, e - blk * this.bs), s - offset);
    }
    return out;
  }
  writeAt(): void {
    throw new FormatError('E_IO_READONLY', 'the journal replay view is read-only', { format: 'ext4' });
  }
  flush(): void {}
}
