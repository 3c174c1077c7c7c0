/**
 * Read-only jbd2 journal replay for the ext4 reader. When a filesystem has
 * needs_recovery (it was not unmounted cleanly), the committed transactions
 * of its internal journal hold newer copies of metadata (and data=journal
 * data) blocks. Instead of writing them back, `recoverJournal` returns a
 * BlockDevice that serves those blocks from the journal: the reader then
 * sees what e2fsck's journal recovery (`e2fsck -E journal_only`) leaves on
 * disk, and the image is untouched.
 *
 * journal.ts loads the journal as e2fsck does, recovery.ts runs jbd2's
 * three passes, fastcommit.ts scans the fast-commit area (by e2fsck's rules,
 * and by the kernel's to say where the kernel would differ). This
 * file turns their findings into the replayed view, the one-line
 * `recovery` summary and the warnings: wherever e2fsck would go on to check
 * the whole filesystem, the kernel would refuse to mount it, or the reader
 * cannot replay something (fast commits), a warning says so.
 */
import { FormatError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { openJournal, type Journal, type JournalSource } from './journal.js';
import { Recovery, type RecoveryResult, type ReplaySlot } from './recovery.js';
import { JBD2_MAGIC, jbd2Header } from './structs.js';

export type { JournalSource } from './journal.js';

export interface JournalOutcome {
  /** The filesystem with the replayed blocks laid over it (undefined: nothing replayed). */
  dev?: BlockDevice;
  transactions: number;
  blocks: number;
  /** One line for inspect: what was replayed, and whether e2fsck is needed. */
  recovery: string;
  warnings: string[];
}

const KERNEL = 'the kernel will not mount it until e2fsck has run';
const AS_ON_DISK = 'this view shows the blocks as they are on disk';

function notReplayed(why: string, fsck: string): JournalOutcome {
  return {
    transactions: 0,
    blocks: 0,
    recovery: 'not replayed; e2fsck needed',
    warnings: [`journal not replayed: ${why}; ${fsck}; ${AS_ON_DISK}`],
  };
}

/** Warnings for what recovery found beyond a plain replay; true when e2fsck is needed. */
function findings(res: RecoveryResult, warnings: string[]): boolean {
  let fsck = false;
  if (res.failedCommit) {
    const kernel = res.failedCommitPartial
      ? 'newer kernels take the commit block for one written only in part and replay on'
      : KERNEL;
    warnings.push(
      `journal transaction ${res.failedCommit} is corrupt (its commit block fails its checksum): ` +
        `replay stopped before it, as e2fsck does; e2fsck then checks the whole filesystem, and ${kernel}`,
    );
    fsck = true;
  }
  if (res.uncommitted)
    warnings.push(
      `journal transaction ${res.uncommitted} fails its commit checksum; with async_commit it counts as never ` +
        `committed, so replay stopped before it (as e2fsck and the kernel do)`,
    );
  if (res.error) {
    const what = res.badCopies.length
      ? `${res.badCopies.length} journalled block(s) fail their checksums and were not replayed ` +
        `(first: block ${res.badCopies[0]})`
      : res.error.detail;
    warnings.push(
      `journal replayed as e2fsck replays it, but ${what}; e2fsck reports a journal error and checks the whole ` +
        `filesystem, and ${KERNEL}`,
    );
    fsck = true;
  }
  const fc = res.fastCommits;
  if (fc?.kind === 'pending') {
    warnings.push(
      `the journal holds fast commits for transaction ${fc.tid} (${fc.tags} records) that this reader does not ` +
        `replay: files they changed show their earlier state; run e2fsck (or mount the filesystem) to apply them`,
    );
    fsck = true;
  } else if (fc?.kind === 'undefined') {
    warnings.push(
      `the journal's fast-commit area is damaged (${fc.detail}); what e2fsck makes of it is undefined and this ` +
        `reader does not replay it: run e2fsck`,
    );
    fsck = true;
  }
  return fsck;
}

/** The replayed blocks that lie in the filesystem (a copy naming a block past its end is ignored, with a warning). */
function inside(res: RecoveryResult, blocksCount: number, warnings: string[]): Map<number, ReplaySlot> {
  const out = new Map<number, ReplaySlot>();
  const outside: number[] = [];
  for (const [block, slot] of res.replayed) {
    if (block < blocksCount) out.set(block, slot);
    else outside.push(block);
  }
  if (outside.length)
    warnings.push(
      `the journal holds ${outside.length} block(s) for places outside the filesystem ` +
        `(first: block ${outside[0]}); ignored`,
    );
  return out;
}

/** What the kernel's recovery makes of a fast-commit journal, in words ("replays 2 transaction(s)"). */
function kernelView(jr: Journal, inodeSize: number): { text: string; end: number; ok: boolean; fc: string } {
  // the kernel wraps the log before the fast-commit area and scans that area with its own rules
  const k = new Recovery(jr, jr.last, 'kernel', inodeSize).scan();
  const fc = k.fastCommits?.kind ?? 'none';
  if (k.error) return { text: `the kernel's recovery fails (${k.error.detail})`, end: k.end, ok: false, fc };
  const n = (k.end - jr.sequence) >>> 0;
  const withFc = fc === 'pending' ? ' and its fast commits' : '';
  return { text: `the kernel replays ${n} transaction(s)${withFc} and mounts it`, end: k.end, ok: true, fc };
}

/**
 * Recover the journal of inode `journalIno` into an overlay of `src.dev`,
 * as e2fsck does. `fs.fastCommit`: the filesystem has the fast_commit
 * feature; `fs.journalUuidNull`: its s_journal_uuid is zero.
 */
export function recoverJournal(
  src: JournalSource & { readonly blocksCount: number },
  journalIno: number,
  fs: { fastCommit: boolean; journalUuidNull: boolean; inodeSize: number },
): JournalOutcome {
  const opened = openJournal(src, journalIno, fs.journalUuidNull);
  if ('problem' in opened)
    return notReplayed(opened.problem, `e2fsck must repair or discard the journal and ${KERNEL}`);
  const jr = opened.journal;
  if (jr.start === 0)
    return { transactions: 0, blocks: 0, recovery: 'nothing to replay (empty journal)', warnings: [] };
  // e2fsprogs wraps a fast-commit journal's log at its very end, and scans fast commits only with fast_commit
  const wrapAt = jr.fastCommit?.last ?? jr.last;
  const res = new Recovery(jr, wrapAt, fs.fastCommit ? 'e2fsck' : undefined, fs.inodeSize).run();
  // the kernel differs from e2fsprogs on fast-commit journals only
  const kernel = jr.fastCommit ? kernelView(jr, fs.inodeSize) : undefined;
  if (res.error && res.error.pass !== 'replay') {
    const then = kernel?.ok ? `${kernel.text}: mount it before running e2fsck to keep what it replays` : KERNEL;
    return notReplayed(
      res.error.detail,
      `e2fsck's recovery fails the same way and replays nothing, then checks the whole filesystem; ${then}`,
    );
  }
  const warnings: string[] = [];
  let fsck = findings(res, warnings);
  if (kernel && (kernel.end !== res.end || !kernel.ok || kernel.fc !== (res.fastCommits?.kind ?? 'none'))) {
    warnings.push(
      `e2fsck and the kernel disagree on this fast-commit journal: ${kernel.text}; replayed as e2fsck does`,
    );
    fsck = true;
  }
  const overlay = inside(res, src.blocksCount, warnings);
  const transactions = (res.end - res.start) >>> 0;
  const summary = `replayed ${transactions} transaction(s) (${overlay.size} blocks)${fsck ? '; e2fsck needed' : ''}`;
  return {
    ...(overlay.size ? { dev: new OverlayDevice(src.dev, src.blockSize, overlay, jr) } : {}),
    transactions,
    blocks: overlay.size,
    recovery: summary,
    warnings,
  };
}

/** A read-only device serving some whole blocks from the journal on the same device. */
class OverlayDevice implements BlockDevice {
  private readonly sorted: number[];
  constructor(
    private readonly base: BlockDevice,
    private readonly bs: number,
    private readonly map: Map<number, ReplaySlot>,
    private readonly jr: Journal,
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
      const data = this.base.readAt(this.jr.phys(slot.j) * this.bs, this.bs);
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
