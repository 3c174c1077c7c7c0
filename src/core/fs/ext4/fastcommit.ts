/**
 * The scan pass over a journal's fast-commit area, which jbd2 runs after
 * its own scan pass. It decides whether fast commits are replayed on top of
 * the journal: they count when the area starts with a HEAD record for the
 * transaction after the last committed one and a TAIL record with that
 * transaction id and a matching CRC closes them. This reader does not apply
 * fast commits; the caller reports that they exist.
 *
 * Two rule sets, because they disagree: the kernel's ext4_fc_replay_scan
 * (fs/ext4/fast_commit.c) checks every record's length and takes a HEAD of
 * another transaction as the end of the area; e2fsprogs' port
 * (e2fsck/journal.c) checks no lengths and fails on such a HEAD, which
 * makes e2fsck's whole journal recovery fail. Where e2fsck would read
 * outside the block, its result is undefined and the scan says so.
 */
import { crc32cUpdate } from '../../binary/crc.js';
import {
  EXT4_FC_SUPPORTED_FEATURES,
  EXT4_FC_TAG,
  GOOD_OLD_INODE_SIZE,
  ext4FcHead,
  ext4FcTail,
  ext4FcTl,
} from './structs.js';

export type FastCommitRules = 'kernel' | 'e2fsck';

export type FastCommitScan =
  /** Nothing to replay. */
  | { kind: 'none' }
  /** `tags` records of valid fast commits for transaction `tid`: recovery replays them. */
  | { kind: 'pending'; tid: number; tags: number }
  /** The scan fails (errno name), and with it the whole journal recovery. */
  | { kind: 'error'; errno: string; detail: string }
  /** e2fsck would read past a block: its result is not defined. */
  | { kind: 'undefined'; detail: string };

/** Per block: jbd2's JBD2_FC_REPLAY_STOP / CONTINUE, an error, or undefined behaviour. */
const STOP = 0;
const CONTINUE = 1;
type BlockResult = typeof STOP | typeof CONTINUE | { errno: string; detail: string } | { undefined: string };

/** Value sizes: struct ext4_fc_add_range, ext4_fc_del_range, ext4_fc_dentry_info, ext4_fc_inode (fixed parts). */
const ADD_RANGE_SIZE = 16;
const DEL_RANGE_SIZE = 12;
const DENTRY_INFO_SIZE = 8;
const FC_INODE_SIZE = 4;
const NAME_MAX = 255;
const TAIL_CRC_OFFSET = ext4FcTail.offsetOf('fc_crc');

interface Scan {
  rules: FastCommitRules;
  inodeSize: number;
  expectedTid: number;
  expectedOff: number;
  curTag: number;
  numTags: number;
  crc: number;
}

/** The kernel's ext4_fc_value_len_isvalid(). */
function lengthOk(tag: number, len: number, inodeSize: number): boolean {
  switch (tag) {
    case EXT4_FC_TAG.ADD_RANGE:
      return len === ADD_RANGE_SIZE;
    case EXT4_FC_TAG.DEL_RANGE:
      return len === DEL_RANGE_SIZE;
    case EXT4_FC_TAG.CREAT:
    case EXT4_FC_TAG.LINK:
    case EXT4_FC_TAG.UNLINK:
      return len - DENTRY_INFO_SIZE >= 1 && len - DENTRY_INFO_SIZE <= NAME_MAX;
    case EXT4_FC_TAG.INODE:
      return len - FC_INODE_SIZE >= GOOD_OLD_INODE_SIZE && len - FC_INODE_SIZE <= inodeSize;
    case EXT4_FC_TAG.PAD:
      return true;
    case EXT4_FC_TAG.TAIL:
      return len >= ext4FcTail.size;
    case EXT4_FC_TAG.HEAD:
      return len === ext4FcHead.size;
    default:
      return false;
  }
}

/** Bytes e2fsck reads from a record's value (it copies fixed structs whatever fc_len says). */
function e2fsckReads(tag: number, len: number): number {
  if (tag === EXT4_FC_TAG.ADD_RANGE) return Math.max(len, ADD_RANGE_SIZE);
  if (tag === EXT4_FC_TAG.TAIL) return ext4FcTail.size;
  if (tag === EXT4_FC_TAG.HEAD) return Math.max(len, ext4FcHead.size);
  return len;
}

/** One record at `cur` (value at `val`): update the scan, return what jbd2's loop does next. */
function record(s: Scan, b: Uint8Array, cur: number, tag: number, len: number): BlockResult {
  const val = cur + ext4FcTl.size;
  const orFail = (errno: string, detail: string): BlockResult => (s.numTags ? STOP : { errno, detail });
  switch (tag) {
    case EXT4_FC_TAG.ADD_RANGE:
    case EXT4_FC_TAG.DEL_RANGE:
    case EXT4_FC_TAG.LINK:
    case EXT4_FC_TAG.UNLINK:
    case EXT4_FC_TAG.CREAT:
    case EXT4_FC_TAG.INODE:
    case EXT4_FC_TAG.PAD:
      s.curTag++;
      s.crc = crc32cUpdate(s.crc, b, cur, val + len);
      return CONTINUE;
    case EXT4_FC_TAG.TAIL: {
      s.curTag++;
      const t = ext4FcTail.decode(b, val);
      s.crc = crc32cUpdate(s.crc, b, cur, val + TAIL_CRC_OFFSET);
      const ok = t.fc_tid === s.expectedTid && t.fc_crc === s.crc;
      s.crc = 0;
      if (ok) s.numTags = s.curTag;
      return ok ? CONTINUE : orFail('EFSBADCRC', `the fast-commit tail of transaction ${t.fc_tid} fails its check`);
    }
    case EXT4_FC_TAG.HEAD: {
      const h = ext4FcHead.decode(b, val);
      if (h.fc_features & ~EXT4_FC_SUPPORTED_FEATURES)
        return { errno: 'EOPNOTSUPP', detail: `fast commits with unknown features 0x${h.fc_features.toString(16)}` };
      if (h.fc_tid !== s.expectedTid) {
        if (s.rules === 'kernel') return STOP;
        return { errno: 'EINVAL', detail: `fast commits of transaction ${h.fc_tid}, expected ${s.expectedTid}` };
      }
      s.curTag++;
      s.crc = crc32cUpdate(s.crc, b, cur, val + len);
      return CONTINUE;
    }
    default:
      return orFail('ECANCELED', `unknown fast-commit record type ${tag}`);
  }
}

/** One block of the area, `off` blocks from its start. */
function scanBlock(s: Scan, b: Uint8Array, off: number): BlockResult {
  const tl = ext4FcTl.size;
  if (s.expectedOff === 0) {
    Object.assign(s, { curTag: 0, numTags: 0, crc: 0 });
    if (ext4FcTl.decode(b).fc_tag !== EXT4_FC_TAG.HEAD) return STOP;
  }
  if (off !== s.expectedOff) return { errno: 'EFSCORRUPTED', detail: `fast-commit block ${off} out of order` };
  s.expectedOff++;
  // the kernel walks while a record header fits, e2fsck while cur < blocksize - 1
  const more = (cur: number) => (s.rules === 'kernel' ? cur <= b.length - tl : cur < b.length - 1);
  let ret: BlockResult = CONTINUE;
  for (let cur = 0; more(cur);) {
    const where = `byte ${cur} of fast-commit block ${off}`;
    if (cur + tl > b.length) return { undefined: `a record header at ${where}` };
    const { fc_tag: tag, fc_len: len } = ext4FcTl.decode(b, cur);
    const room = b.length - (cur + tl);
    if (s.rules === 'kernel' && (len > room || !lengthOk(tag, len, s.inodeSize)))
      return s.numTags ? STOP : { errno: 'ECANCELED', detail: `a bad fast-commit record at ${where}` };
    if (s.rules === 'e2fsck' && e2fsckReads(tag, len) > room)
      return { undefined: `the record at ${where} runs past it` };
    ret = record(s, b, cur, tag, len);
    if (ret !== CONTINUE) return ret;
    cur += tl + len;
  }
  return ret;
}

/**
 * Scan fast-commit blocks `first`..`last` (inclusive, as jbd2 loops; a block
 * read() cannot give ends the scan with an error) for transaction
 * `expectedTid`, under the kernel's or e2fsck's rules.
 */
export function scanFastCommits(
  read: (j: number) => Uint8Array | undefined,
  area: { first: number; last: number },
  expectedTid: number,
  rules: FastCommitRules,
  inodeSize: number,
): FastCommitScan {
  const s: Scan = { rules, inodeSize, expectedTid, expectedOff: 0, curTag: 0, numTags: 0, crc: 0 };
  for (let j = area.first; j <= area.last; j++) {
    const b = read(j);
    if (!b) return { kind: 'error', errno: 'EFSCORRUPTED', detail: `fast-commit block ${j} lies past the journal` };
    const r = scanBlock(s, b, j - area.first);
    if (typeof r === 'object')
      return 'undefined' in r ? { kind: 'undefined', detail: r.undefined } : { kind: 'error', ...r };
    if (r === STOP) break;
  }
  return s.numTags ? { kind: 'pending', tid: expectedTid, tags: s.numTags } : { kind: 'none' };
}
