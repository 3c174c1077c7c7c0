/**
 * The scan pass over a journal's fast-commit area, as e2fsck runs it
 * (ext4_fc_replay_scan in e2fsck/journal.c) after jbd2's scan pass. It
 * decides whether e2fsck will replay fast commits on top of the journal:
 * they count when the area starts with a HEAD record for the transaction
 * after the last committed one and a TAIL record with that transaction id
 * and a matching CRC closes them. This reader does not apply fast commits;
 * the caller reports that they exist.
 *
 * Where e2fsck's scan fails, its whole journal recovery fails (nothing is
 * replayed). Where e2fsck would read outside the block (record lengths
 * running past it), its behaviour is undefined and the scan says so.
 */
import { crc32cUpdate } from '../../binary/crc.js';
import { EXT4_FC_SUPPORTED_FEATURES, EXT4_FC_TAG, ext4FcHead, ext4FcTail, ext4FcTl } from './structs.js';

export type FastCommitScan =
  /** Nothing e2fsck would replay. */
  | { kind: 'none' }
  /** `tags` records of valid fast commits for transaction `tid`: e2fsck replays them. */
  | { kind: 'pending'; tid: number; tags: number }
  /** e2fsck's scan fails (errno name), so does its whole recovery. */
  | { kind: 'error'; errno: string; detail: string }
  /** e2fsck would read past a block: its result is not defined. */
  | { kind: 'undefined'; detail: string };

/** Values returned per block (jbd2's JBD2_FC_REPLAY_STOP / CONTINUE) or an error. */
const STOP = 0;
const CONTINUE = 1;
type BlockResult = typeof STOP | typeof CONTINUE | { errno: string; detail: string } | { undefined: string };

/** struct ext4_fc_add_range: fc_ino and a 12-byte extent; e2fsck copies the whole value. */
const ADD_RANGE_SIZE = 16;
const TAIL_CRC_OFFSET = ext4FcTail.offsetOf('fc_crc');

interface State {
  expectedOff: number;
  curTag: number;
  numTags: number;
  crc: number;
}

/** One block of the area (`off` blocks from its start), updating `st` as e2fsck's scan does. */
function scanBlock(b: Uint8Array, off: number, st: State, expectedTid: number): BlockResult {
  if (st.expectedOff === 0) {
    Object.assign(st, { curTag: 0, numTags: 0, crc: 0 });
    if (ext4FcTl.decode(b).fc_tag !== EXT4_FC_TAG.HEAD) return STOP;
  }
  if (off !== st.expectedOff) return { errno: 'EFSCORRUPTED', detail: `fast-commit block ${off} out of order` };
  st.expectedOff++;
  const tl = ext4FcTl.size;
  let ret: BlockResult = CONTINUE;
  // e2fsck walks while cur < blocksize - 1
  for (let cur = 0; cur < b.length - 1;) {
    if (cur + tl > b.length) return { undefined: `a record header at byte ${cur} of fast-commit block ${off}` };
    const { fc_tag: tag, fc_len: len } = ext4FcTl.decode(b, cur);
    const val = cur + tl;
    const need = (n: number, what: string): BlockResult | undefined =>
      val + n > b.length ? { undefined: `${what} at byte ${cur} of fast-commit block ${off} runs past it` } : undefined;
    switch (tag) {
      case EXT4_FC_TAG.ADD_RANGE:
      case EXT4_FC_TAG.DEL_RANGE:
      case EXT4_FC_TAG.LINK:
      case EXT4_FC_TAG.UNLINK:
      case EXT4_FC_TAG.CREAT:
      case EXT4_FC_TAG.INODE:
      case EXT4_FC_TAG.PAD: {
        const over = need(Math.max(len, tag === EXT4_FC_TAG.ADD_RANGE ? ADD_RANGE_SIZE : 0), 'a record');
        if (over) return over;
        ret = CONTINUE;
        st.curTag++;
        st.crc = crc32cUpdate(st.crc, b, cur, val + len);
        break;
      }
      case EXT4_FC_TAG.TAIL: {
        const over = need(ext4FcTail.size, 'a tail record');
        if (over) return over;
        st.curTag++;
        const t = ext4FcTail.decode(b, val);
        st.crc = crc32cUpdate(st.crc, b, cur, val + TAIL_CRC_OFFSET);
        if (t.fc_tid === expectedTid && t.fc_crc === st.crc) st.numTags = st.curTag;
        else
          ret = st.numTags
            ? STOP
            : { errno: 'EFSBADCRC', detail: `fast-commit tail for transaction ${t.fc_tid} fails its check` };
        st.crc = 0;
        break;
      }
      case EXT4_FC_TAG.HEAD: {
        const over = need(ext4FcHead.size, 'a head record');
        if (over) return over;
        const h = ext4FcHead.decode(b, val);
        if (h.fc_features & ~EXT4_FC_SUPPORTED_FEATURES) {
          ret = { errno: 'EOPNOTSUPP', detail: `fast commits with unknown features 0x${h.fc_features.toString(16)}` };
          break;
        }
        if (h.fc_tid !== expectedTid) {
          ret = { errno: 'EINVAL', detail: `fast commits of transaction ${h.fc_tid}, expected ${expectedTid}` };
          break;
        }
        const overLen = need(len, 'a head record');
        if (overLen) return overLen;
        st.curTag++;
        st.crc = crc32cUpdate(st.crc, b, cur, val + len);
        break;
      }
      default:
        ret = st.numTags ? STOP : { errno: 'ECANCELED', detail: `unknown fast-commit record ${tag}` };
    }
    if (ret !== CONTINUE) return ret;
    cur = val + len;
  }
  return ret;
}

/**
 * Scan fast-commit blocks `first`..`last` (inclusive, as jbd2 loops; a block
 * read() cannot give ends the scan with an error) for transaction `expectedTid`.
 */
export function scanFastCommits(
  read: (j: number) => Uint8Array | undefined,
  first: number,
  last: number,
  expectedTid: number,
): FastCommitScan {
  const st: State = { expectedOff: 0, curTag: 0, numTags: 0, crc: 0 };
  for (let j = first; j <= last; j++) {
    const b = read(j);
    if (!b) return { kind: 'error', errno: 'EFSCORRUPTED', detail: `fast-commit block ${j} lies past the journal` };
    const r = scanBlock(b, j - first, st, expectedTid);
    if (typeof r === 'object')
      return 'undefined' in r ? { kind: 'undefined', detail: r.undefined } : { kind: 'error', ...r };
    if (r === STOP) break;
  }
  return st.numTags ? { kind: 'pending', tid: expectedTid, tags: st.numTags } : { kind: 'none' };
}
