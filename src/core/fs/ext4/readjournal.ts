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
 */
import { FormatError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import type { Ext4Inode } from './read.js';
import type { Run } from './readmap.js';
import { findRun } from './readmap.js';
import { JBD2_MAGIC } from './structs.js';

const T_DESCRIPTOR = 1;
const T_COMMIT = 2;
const T_SB_V1 = 3;
const T_SB_V2 = 4;
const T_REVOKE = 5;
const F_ESCAPE = 1;
const F_SAME_UUID = 2;
const F_LAST_TAG = 8;
const INCOMPAT_REVOKE = 0x1;
const INCOMPAT_64BIT = 0x2;
const INCOMPAT_CSUM_V2 = 0x8;
const INCOMPAT_CSUM_V3 = 0x10;
const INCOMPAT_FAST_COMMIT = 0x20;

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

/** Replay the journal of inode `journalIno` into an overlay; undefined when there is nothing to replay. */
export function journalOverlay(src: JournalSource, journalIno: number): JournalReplay | undefined {
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
  const sb = read(0);
  const sv = new DataView(sb.buffer, sb.byteOffset, sb.byteLength);
  if (sv.getUint32(0) !== JBD2_MAGIC)
    throw jerr(`bad journal superblock magic 0x${sv.getUint32(0).toString(16)}`, { field: 'h_magic' });
  const sbType = sv.getUint32(4);
  if (sbType !== T_SB_V1 && sbType !== T_SB_V2)
    throw jerr(`unknown journal superblock type ${sbType}`, { field: 'h_blocktype', actual: sbType });
  if (sv.getUint32(12) !== bs)
    throw jerr(`journal block size ${sv.getUint32(12)} differs from the filesystem's ${bs}`, { field: 's_blocksize' });
  const incompat = sbType === T_SB_V2 ? sv.getUint32(0x28) : 0;
  let maxlen = Math.min(sv.getUint32(16), jBlocks);
  if (incompat & INCOMPAT_FAST_COMMIT) maxlen = Math.max(0, maxlen - (sv.getUint32(0x54) || 256));
  const first = sv.getUint32(20);
  let seq = sv.getUint32(24);
  const start = sv.getUint32(28);
  if (start === 0) return undefined;
  if (first < 1 || first >= maxlen || start < first || start >= maxlen)
    throw jerr(`log start ${start} / first ${first} outside the journal (${maxlen} blocks)`, { field: 's_start' });
  const is64 = (incompat & INCOMPAT_64BIT) !== 0;
  const csum3 = (incompat & INCOMPAT_CSUM_V3) !== 0;
  const csum2 = (incompat & INCOMPAT_CSUM_V2) !== 0;
  const tagBytes = csum3 ? 16 : 12 + (csum2 ? 2 : 0) - (is64 ? 0 : 4);
  const tail = csum2 || csum3 ? 4 : 0;
  const wrap = (j: number) => (j >= maxlen ? first + ((j - maxlen) % (maxlen - first)) : j);

  const checkFsBlock = (b: number) => {
    if (!(b >= 0 && b < src.blocksCount)) throw jerr(`journalled block ${b} lies outside the filesystem`, { block: b });
  };
  type Tag = { block: number; j: number; escape: boolean };
  const committed: Array<{ seq: number; tags: Tag[] }> = [];
  const revoked = new Map<number, number>();
  let pending: Tag[] = [];
  let pendingRevokes: number[] = [];
  let j = start;
  for (let steps = 0; steps < maxlen; steps++) {
    const b = read(j);
    const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (v.getUint32(0) !== JBD2_MAGIC || v.getUint32(8) !== seq) break;
    const type = v.getUint32(4);
    if (type === T_DESCRIPTOR) {
      let off = 12;
      let next = wrap(j + 1);
      while (off + tagBytes <= bs - tail) {
        const lo = v.getUint32(off);
        const flags = csum3 ? v.getUint32(off + 4) : v.getUint16(off + 6);
        const hi = is64 ? v.getUint32(off + 8) : 0;
        off += tagBytes;
        if (!(flags & F_SAME_UUID)) off += 16;
        const block = hi * 0x100000000 + lo;
        checkFsBlock(block);
        pending.push({ block, j: next, escape: (flags & F_ESCAPE) !== 0 });
        next = wrap(next + 1);
        steps++;
        if (flags & F_LAST_TAG) break;
      }
      j = next;
    } else if (type === T_COMMIT) {
      committed.push({ seq, tags: pending });
      for (const r of pendingRevokes) revoked.set(r, seq);
      pending = [];
      pendingRevokes = [];
      seq = (seq + 1) >>> 0;
      j = wrap(j + 1);
    } else if (type === T_REVOKE && incompat & INCOMPAT_REVOKE) {
      const count = Math.min(v.getUint32(12), bs - tail);
      const w = is64 ? 8 : 4;
      for (let o = 16; o + w <= count; o += w)
        pendingRevokes.push(is64 ? v.getUint32(o) * 0x100000000 + v.getUint32(o + 4) : v.getUint32(o));
      j = wrap(j + 1);
    } else break;
  }
  const overlay = new Map<number, Slot>();
  for (const t of committed) {
    for (const tag of t.tags) {
      const rv = revoked.get(tag.block);
      if (rv !== undefined && ((rv - t.seq) | 0) >= 0) continue;
      overlay.set(tag.block, { phys: phys(tag.j), escape: tag.escape });
    }
  }
  if (committed.length === 0) return undefined;
  return { dev: new OverlayDevice(src.dev, bs, overlay), transactions: committed.length, blocks: overlay.size };
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
      if (slot.escape) new DataView(data.buffer, data.byteOffset).setUint32(0, JBD2_MAGIC);
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
