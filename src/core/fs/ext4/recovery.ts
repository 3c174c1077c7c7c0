/**
 * jbd2 journal recovery, pass for pass as e2fsprogs' e2fsck/recovery.c
 * runs it (the kernel's fs/jbd2/recovery.c is the same code), except that
 * nothing is written: the replay pass records which journal block holds
 * the copy of each filesystem block that recovery would write.
 *
 * - PASS_SCAN finds the end of the log: transactions from s_sequence at
 *   s_start while blocks carry the magic and the expected sequence. It
 *   checks descriptor and revoke block tails, commit blocks (csum v2/v3)
 *   and the v1 crc32_be transaction checksum. A bad commit ends the log
 *   before that transaction (and records it as failed unless the journal
 *   has async_commit); a bad descriptor or revoke block is taken as stale
 *   when the commit time goes backwards, else recovery fails.
 * - PASS_REVOKE collects revoke records of the transactions found.
 * - PASS_REPLAY lays every tagged block of those transactions over the
 *   filesystem unless revoked by the same or a later transaction; a copy
 *   whose tag checksum fails is skipped and recovery reports an error.
 *
 * Every loop is bounded by the journal's length (a log that would make
 * jbd2 go round forever is reported as an error).
 */
import { crc32BeUpdate } from '../../binary/crc.js';
import { jbd2CommitCsum, jbd2CommitCsumPartial, jbd2TagCsum, jbd2TailCsum } from './csum.js';
import { scanFastCommits, type FastCommitRules, type FastCommitScan } from './fastcommit.js';
import type { Journal } from './journal.js';
import {
  JBD2_BLOCKTYPE,
  JBD2_COMPAT,
  JBD2_CRC32_CHKSUM,
  JBD2_CRC32_CHKSUM_SIZE,
  JBD2_INCOMPAT,
  JBD2_MAGIC,
  JBD2_TAG_FLAG,
  JBD2_UUID_SIZE,
  jbd2BlockTail,
  jbd2Commit,
  jbd2Header,
  jbd2Revoke32,
  jbd2Revoke64,
  jbd2RevokeHeader,
  jbd2Tag,
  jbd2Tag3,
  jbd2TagSize,
} from './structs.js';

/** What jbd2_journal_recover() returns when it fails, and why. */
export interface RecoveryError {
  errno: string;
  pass: 'scan' | 'revoke' | 'replay';
  detail: string;
}

/** Where the copy of a filesystem block that recovery writes lives in the journal. */
export interface ReplaySlot {
  j: number;
  /** The copy had the jbd2 magic escaped: its first four bytes get the magic back. */
  escape: boolean;
}

export interface RecoveryResult {
  /** Transactions start .. end-1 were recovered (end: info->end_transaction). */
  start: number;
  end: number;
  /** Filesystem block -> its last replayed copy. Empty when a pass before the replay failed. */
  replayed: Map<number, ReplaySlot>;
  /** Filesystem blocks whose journal copy failed its tag checksum (not replayed). */
  badCopies: number[];
  /** e2fsck's j_failed_commit: the transaction whose commit failed its checksum (0: none). */
  failedCommit: number;
  /**
   * That commit block passes the checksum of its header alone: newer kernels
   * take it for one written only in part, accept it and replay on.
   */
  failedCommitPartial: boolean;
  /** The transaction whose commit failed with async_commit (taken as never committed; 0: none). */
  uncommitted: number;
  /** The first failure, as recovery returns it (recovery still replays what it can in the replay pass). */
  error: RecoveryError | undefined;
  fastCommits: FastCommitScan | undefined;
}

type Pass = RecoveryError['pass'];
/**
 * What one block of the log does to the walk: go on (also where jbd2
 * `break`s out of its switch, which only leaves the switch), end the log
 * (`goto done`), or fail the pass (`goto failed`).
 */
type Step = 'next' | 'done' | { fail: string; errno: string };

interface Tag {
  block: number;
  flags: number;
  /** Offset of the tag in its descriptor block. */
  off: number;
}

const U32 = 0x100000000;
const COMMIT_SEC = jbd2Commit.offsetOf('h_commit_sec');
const COMMIT_CHKSUM = jbd2Commit.offsetOf('h_chksum');
const COMMIT_CHKSUM_TYPE = jbd2Commit.offsetOf('h_chksum_type');
const COMMIT_CHKSUM_SIZE = jbd2Commit.offsetOf('h_chksum_size');
const TAG3_CSUM = jbd2Tag3.offsetOf('t_checksum');
const TAG_CSUM = jbd2Tag.offsetOf('t_checksum');
const TAG_FLAGS = jbd2Tag.offsetOf('t_flags');
const TAG_HIGH = jbd2Tag.offsetOf('t_blocknr_high');
/** tid_geq(): sequence numbers compare modulo 2^32. */
const tidGeq = (x: number, y: number) => ((x - y) | 0) >= 0;
const tidGt = (x: number, y: number) => ((x - y) | 0) > 0;

function view(b: Uint8Array): DataView {
  return new DataView(b.buffer, b.byteOffset, b.byteLength);
}

/** Per-pass state of do_one_pass(). */
interface Walk {
  pass: Pass;
  nextCommitId: number;
  nextLog: number;
  crc32Sum: number;
  /** need_check_commit_time: a descriptor or revoke block failed its checksum (which one, for messages). */
  needCheckCommitTime: string | undefined;
  lastCommitTime: bigint;
  descrCsumSize: number;
  /** The first error the pass reports at its end (replay goes on after a bad copy). */
  success: RecoveryError | undefined;
}

/** One recovery of one journal: the three passes share the log geometry, revoke table and results. */
export class Recovery {
  private readonly bs: number;
  private readonly is64: boolean;
  private readonly csumV23: boolean;
  private readonly tagBytes: number;
  private end = 0;
  private failedCommit = 0;
  private failedCommitPartial = false;
  private uncommitted = 0;
  /** Blocks named by any tag (revoke records of other blocks cannot matter and are not kept). */
  private readonly tagged = new Set<number>();
  private readonly revoked = new Map<number, number>();
  private readonly replayed = new Map<number, ReplaySlot>();
  private readonly badCopies: number[] = [];
  private fastCommits: FastCommitScan | undefined;

  /**
   * `wrapAt`: where the log wraps (e2fsprogs: j_fc_last when the journal has
   * fast commits, the kernel: j_last). `fastCommits`: whose rules scan the
   * fast-commit area (undefined: it is not scanned; e2fsck scans it only
   * when the filesystem has fast_commit, the kernel always).
   */
  constructor(
    private readonly jr: Journal,
    private readonly wrapAt: number,
    private readonly fastCommitRules: FastCommitRules | undefined,
    private readonly inodeSize: number,
  ) {
    this.bs = jr.blockSize;
    this.is64 = (jr.incompat & JBD2_INCOMPAT.BIT64) !== 0;
    this.csumV23 = (jr.incompat & (JBD2_INCOMPAT.CSUM_V2 | JBD2_INCOMPAT.CSUM_V3)) !== 0;
    this.tagBytes = jbd2TagSize(jr.incompat);
  }

  /** jbd2_journal_recover(): scan, revoke, replay (s_start is not 0). */
  run(): RecoveryResult {
    let error = this.pass('scan');
    if (!error) error = this.pass('revoke');
    if (!error) error = this.pass('replay');
    return {
      start: this.jr.sequence,
      end: this.end,
      replayed: this.replayed,
      badCopies: this.badCopies,
      failedCommit: this.failedCommit,
      failedCommitPartial: this.failedCommitPartial,
      uncommitted: this.uncommitted,
      error,
      fastCommits: this.fastCommits,
    };
  }

  /** The scan pass alone: where the log ends, and whether the scan fails. */
  scan(): { end: number; error: RecoveryError | undefined; fastCommits: FastCommitScan | undefined } {
    const error = this.pass('scan');
    return { end: this.end, error, fastCommits: this.fastCommits };
  }

  private wrap(j: number): number {
    return j >= this.wrapAt ? j - (this.wrapAt - this.jr.first) : j;
  }

  /** do_one_pass(). */
  private pass(pass: Pass): RecoveryError | undefined {
    const w: Walk = {
      pass,
      nextCommitId: this.jr.sequence,
      nextLog: this.jr.start,
      crc32Sum: 0xffffffff,
      needCheckCommitTime: undefined,
      lastCommitTime: 0n,
      descrCsumSize: 0,
      success: undefined,
    };
    // a log is read once per pass; more reads mean it goes round (jbd2 itself would never stop)
    for (let reads = 0; ; reads++) {
      if (pass !== 'scan' && tidGeq(w.nextCommitId, this.end)) break;
      if (reads > this.jr.totalLen)
        return { errno: 'ELOOP', pass, detail: `the log goes round the journal without ending` };
      const at = w.nextLog;
      const b = this.jr.read(at);
      if (!b) return { errno: 'EFSCORRUPTED', pass, detail: `the log runs to block ${at}, past the journal` };
      w.nextLog = this.wrap(w.nextLog + 1);
      const h = jbd2Header.decode(b);
      if (h.h_magic !== JBD2_MAGIC || h.h_sequence !== w.nextCommitId) break;
      const step = this.block(w, b, h.h_blocktype, at);
      if (step === 'next') continue;
      if (step === 'done') break;
      return { errno: step.errno, pass, detail: step.fail };
    }
    return this.passDone(w);
  }

  /** The `done:` part of do_one_pass(): the end of the log, fast commits, deferred errors. */
  private passDone(w: Walk): RecoveryError | undefined {
    if (w.pass === 'scan') {
      if (!this.end) this.end = w.nextCommitId;
    } else if (this.end !== w.nextCommitId) {
      w.success ??= {
        errno: 'EIO',
        pass: w.pass,
        detail: `pass ended at transaction ${w.nextCommitId}, expected ${this.end}`,
      };
    }
    if (this.jr.fastCommit && this.fastCommitRules && w.pass === 'scan') {
      const rules = this.fastCommitRules;
      this.fastCommits = scanFastCommits(this.jr.read, this.jr.fastCommit, this.end, rules, this.inodeSize);
      if (this.fastCommits.kind === 'error')
        w.success = { errno: this.fastCommits.errno, pass: 'scan', detail: this.fastCommits.detail };
    }
    return w.success;
  }

  /** One block of the log with the expected sequence. */
  private block(w: Walk, b: Uint8Array, type: number, at: number): Step {
    switch (type) {
      case JBD2_BLOCKTYPE.DESCRIPTOR:
        return this.descriptor(w, b, at);
      case JBD2_BLOCKTYPE.COMMIT:
        return this.commit(w, b);
      case JBD2_BLOCKTYPE.REVOKE:
        if (w.pass === 'scan' && !this.tailOk(b)) w.needCheckCommitTime ??= `the revoke block at journal block ${at}`;
        if (w.pass !== 'revoke') return 'next';
        return this.revokeRecords(b, w.nextCommitId, at);
      default:
        return 'done';
    }
  }

  /** jbd2_descriptor_block_csum_verify() (true without csum v2/v3). */
  private tailOk(b: Uint8Array): boolean {
    if (!this.csumV23) return true;
    const stored = jbd2BlockTail.decode(b, b.length - jbd2BlockTail.size).t_checksum;
    return stored === jbd2TailCsum(this.jr.csumSeed, b);
  }

  /** The tags of a descriptor block (count_tags() and the replay loop walk them alike). */
  private tags(b: Uint8Array): Tag[] {
    const out: Tag[] = [];
    const limit = this.bs - (this.csumV23 ? jbd2BlockTail.size : 0);
    const v = view(b);
    for (let off = jbd2Header.size; off + this.tagBytes <= limit;) {
      const flags = v.getUint16(off + TAG_FLAGS, false);
      const lo = v.getUint32(off, false);
      const hi = this.is64 ? v.getUint32(off + TAG_HIGH, false) : 0;
      out.push({ block: hi * U32 + lo, flags, off });
      off += this.tagBytes;
      if (!(flags & JBD2_TAG_FLAG.SAME_UUID)) off += JBD2_UUID_SIZE;
      if (flags & JBD2_TAG_FLAG.LAST_TAG) break;
    }
    return out;
  }

  private descriptor(w: Walk, b: Uint8Array, at: number): Step {
    if (this.csumV23) w.descrCsumSize = jbd2BlockTail.size;
    if (w.descrCsumSize > 0 && !this.tailOk(b)) {
      // the scan can meet stale blocks (lazy journal init): decided at the commit block
      if (w.pass !== 'scan')
        return {
          errno: 'EFSBADCRC',
          fail: `the descriptor block at journal block ${at} (transaction ${w.nextCommitId}) fails its checksum`,
        };
      w.needCheckCommitTime ??= `the descriptor block at journal block ${at}`;
    }
    const tags = this.tags(b);
    if (w.pass === 'scan') for (const t of tags) this.tagged.add(t.block);
    if (w.pass !== 'replay') {
      if (w.pass === 'scan' && this.jr.compat & JBD2_COMPAT.CHECKSUM && !w.needCheckCommitTime && !this.end) {
        this.v1Checksum(w, b, tags.length);
        return 'next';
      }
      w.nextLog = this.wrap(w.nextLog + tags.length);
      return 'next';
    }
    for (const tag of tags) {
      const j = w.nextLog;
      w.nextLog = this.wrap(w.nextLog + 1);
      const copy = this.jr.read(j);
      if (!copy) {
        // recover what we can, report the failure at the end
        w.success = { errno: 'EFSCORRUPTED', pass: 'replay', detail: `log block ${j} lies past the journal` };
        continue;
      }
      const rv = this.revoked.get(tag.block);
      if (rv !== undefined && !tidGt(w.nextCommitId, rv)) continue;
      if (!this.tagCsumOk(b, tag, copy, w.nextCommitId)) {
        w.success = {
          errno: 'EFSBADCRC',
          pass: 'replay',
          detail: `the journal copy of block ${tag.block} (transaction ${w.nextCommitId}) fails its checksum`,
        };
        this.badCopies.push(tag.block);
        continue;
      }
      this.replayed.set(tag.block, { j, escape: (tag.flags & JBD2_TAG_FLAG.ESCAPE) !== 0 });
    }
    return 'next';
  }

  /** calc_chksums(): the v1 crc32_be over the descriptor and the blocks it describes. */
  private v1Checksum(w: Walk, b: Uint8Array, count: number): void {
    w.crc32Sum = crc32BeUpdate(w.crc32Sum, b);
    for (let i = 0; i < count; i++) {
      const j = w.nextLog;
      w.nextLog = this.wrap(w.nextLog + 1);
      const copy = this.jr.read(j);
      if (!copy) return;
      w.crc32Sum = crc32BeUpdate(w.crc32Sum, copy);
    }
  }

  /** jbd2_block_tag_csum_verify(). */
  private tagCsumOk(desc: Uint8Array, tag: Tag, copy: Uint8Array, sequence: number): boolean {
    if (!this.csumV23) return true;
    const c = jbd2TagCsum(this.jr.csumSeed, sequence, copy);
    const v = view(desc);
    if (this.jr.incompat & JBD2_INCOMPAT.CSUM_V3) return v.getUint32(tag.off + TAG3_CSUM, false) === c;
    return v.getUint16(tag.off + TAG_CSUM, false) === (c & 0xffff);
  }

  private commit(w: Walk, b: Uint8Array): Step {
    const v = view(b);
    const commitTime = (BigInt(v.getUint32(COMMIT_SEC, false)) << 32n) | BigInt(v.getUint32(COMMIT_SEC + 4, false));
    if (w.needCheckCommitTime) {
      // an earlier bad descriptor or revoke block: stale if time went backwards, else corruption
      if (commitTime >= w.lastCommitTime)
        return {
          errno: 'EFSBADCRC',
          fail: `${w.needCheckCommitTime} (transaction ${w.nextCommitId}) fails its checksum`,
        };
      return 'done';
    }
    let bad = false;
    if (w.pass === 'scan' && this.jr.compat & JBD2_COMPAT.CHECKSUM) {
      if (this.end) {
        this.failedCommit = this.end;
        return 'next';
      }
      const found = v.getUint32(COMMIT_CHKSUM, false);
      // (not jbd2Commit.decode: h_commit_sec may hold anything, debugfs stores it in host order)
      const type = b[COMMIT_CHKSUM_TYPE]!;
      const size = b[COMMIT_CHKSUM_SIZE]!;
      const ok =
        (w.crc32Sum === found && type === JBD2_CRC32_CHKSUM && size === JBD2_CRC32_CHKSUM_SIZE) ||
        (type === 0 && size === 0 && found === 0);
      if (ok) w.crc32Sum = 0xffffffff;
      else bad = true;
    }
    let partial = false;
    if (!bad && w.pass === 'scan' && this.csumV23) {
      const stored = v.getUint32(COMMIT_CHKSUM, false);
      bad = stored !== jbd2CommitCsum(this.jr.csumSeed, b);
      partial = bad && stored === jbd2CommitCsumPartial(this.jr.csumSeed, b);
    }
    if (bad) {
      if (commitTime < w.lastCommitTime) return 'done';
      this.end = w.nextCommitId;
      if (!(this.jr.incompat & JBD2_INCOMPAT.ASYNC_COMMIT)) {
        this.failedCommit = w.nextCommitId;
        this.failedCommitPartial = partial;
        return 'next';
      }
      this.uncommitted ||= w.nextCommitId;
    }
    if (w.pass === 'scan') w.lastCommitTime = commitTime;
    w.nextCommitId = (w.nextCommitId + 1) >>> 0;
    return 'next';
  }

  /** scan_revoke_records(): a block revoked by transaction `seq` is not replayed from transactions up to it. */
  private revokeRecords(b: Uint8Array, seq: number, at: number): Step {
    const count = jbd2RevokeHeader.decode(b).r_count;
    if (count > this.bs - (this.csumV23 ? jbd2BlockTail.size : 0))
      return { errno: 'EINVAL', fail: `the revoke block at journal block ${at} claims ${count} bytes of records` };
    const size = this.is64 ? jbd2Revoke64.size : jbd2Revoke32.size;
    for (let off = jbd2RevokeHeader.size; off + size <= count; off += size) {
      let block: number;
      if (this.is64) {
        const r = jbd2Revoke64.decode(b, off);
        block = r.r_blocknr_high * U32 + r.r_blocknr;
      } else block = jbd2Revoke32.decode(b, off).r_blocknr;
      if (!this.tagged.has(block)) continue;
      const old = this.revoked.get(block);
      if (old === undefined || tidGt(seq, old)) this.revoked.set(block, seq);
    }
    return 'next';
  }
}
