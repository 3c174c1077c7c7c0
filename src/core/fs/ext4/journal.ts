/**
 * The internal jbd2 journal as recovery sees it: the journal inode mapped
 * block by block, and its superblock checked the way e2fsck loads it
 * (e2fsck_get_journal, e2fsck_journal_load; the kernel's
 * journal_get_superblock and load_superblock agree except where noted).
 * A journal that cannot be loaded is not an error here: `openJournal`
 * says why, and the caller reports that nothing was replayed.
 */
import type { BlockDevice } from '../../io/device.js';
import { jbd2CsumSeed, jbd2SuperblockCsum } from './csum.js';
import type { Ext4Inode } from './readinode.js';
import { findRun, type Run } from './readmap.js';
import {
  INODE_FLAGS,
  JBD2_BLOCKTYPE,
  JBD2_COMPAT,
  JBD2_CRC32C_CHKSUM,
  JBD2_DEFAULT_FAST_COMMIT_BLOCKS,
  JBD2_INCOMPAT,
  JBD2_KNOWN_INCOMPAT,
  JBD2_KNOWN_ROCOMPAT,
  JBD2_MAGIC,
  JBD2_MIN_JOURNAL_BLOCKS,
  jbd2Superblock,
} from './structs.js';

/** What opening the journal needs from the filesystem reader. */
export interface JournalSource {
  readonly blockSize: number;
  readonly dev: BlockDevice;
  inode(ino: number): Ext4Inode;
  runs(inode: Ext4Inode): Run[];
}

/** A loaded journal: its geometry as jbd2's journal_t holds it, and block access. */
export interface Journal {
  blockSize: number;
  /** Journal block `j` (jread), or undefined where jread fails: past j_total_len or unmapped. */
  read(j: number): Uint8Array | undefined;
  /** Physical filesystem block of journal block `j` (only for blocks read() returned). */
  phys(j: number): number;
  /** j_total_len: journal blocks (s_maxlen, no more than the inode holds). */
  totalLen: number;
  /** j_first, j_last: the log runs over [first, last) and wraps. */
  first: number;
  last: number;
  /** Fast commits (journal feature fast_commit): j_fc_first..j_fc_last (inclusive, as jbd2 loops). */
  fastCommit: { first: number; last: number } | undefined;
  /** s_sequence and s_start: where recovery starts (s_start 0: nothing to recover). */
  sequence: number;
  start: number;
  compat: number;
  incompat: number;
  /** j_csum_seed (csum v2/v3). */
  csumSeed: number;
}

export type OpenedJournal = { journal: Journal } | { problem: string };

const bad = (problem: string): OpenedJournal => ({ problem });

/** The journal inode's block map, checked as e2fsck checks it before using the journal. */
function mapInode(src: JournalSource, ino: number): { phys: (j: number) => number; blocks: number } | string {
  let ji: Ext4Inode;
  let runs: Run[];
  try {
    ji = src.inode(ino);
    if (ji.linksCount === 0 || ji.type !== 'file' || ji.flags & INODE_FLAGS.ENCRYPT)
      return `journal inode ${ino} is not a regular file in use`;
    runs = src.runs(ji);
  } catch (e) {
    return `journal inode ${ino} cannot be read (${(e as Error).message})`;
  }
  const blocks = Math.floor(ji.size / src.blockSize);
  if (blocks < JBD2_MIN_JOURNAL_BLOCKS) return `journal inode ${ino} is too small (${blocks} blocks)`;
  // every block up to i_size must be mapped (e2fsck's block iteration stops at the first hole)
  let next = 0;
  for (const r of runs) {
    if (r.logical !== next) break;
    next = r.logical + r.length;
  }
  if (next < blocks) return `journal inode ${ino} has a hole at block ${next}`;
  const phys = (j: number) => {
    const r = runs[findRun(runs, j)]!;
    return r.physical + (j - r.logical);
  };
  return { phys, blocks };
}

/**
 * Map journal inode `ino` and load its superblock. `fsJournalUuidNull`: the
 * filesystem's s_journal_uuid is all zeros (e2fsck then drops the v2
 * fields of a journal that claims several users).
 */
export function openJournal(src: JournalSource, ino: number, fsJournalUuidNull: boolean): OpenedJournal {
  const bs = src.blockSize;
  const m = mapInode(src, ino);
  if (typeof m === 'string') return bad(m);
  const raw = src.dev.readAt(m.phys(0) * bs, bs);
  const sb = jbd2Superblock.decode(raw);
  if (sb.h_magic !== JBD2_MAGIC) return bad('the journal superblock has no jbd2 magic');
  let compat = sb.s_feature_compat;
  let incompat = sb.s_feature_incompat;
  let rocompat = sb.s_feature_ro_compat;
  const type = sb.h_blocktype;
  // v1 journals have no features; a v2 one shared by several filesystems is only replayed when unclaimed
  const v1Fields = type === JBD2_BLOCKTYPE.SUPERBLOCK_V1 || (sb.s_nr_users > 1 && fsJournalUuidNull);
  if (type === JBD2_BLOCKTYPE.SUPERBLOCK_V2 && sb.s_nr_users > 1 && !fsJournalUuidNull)
    return bad(`the journal is shared by ${sb.s_nr_users} filesystems`);
  if (type !== JBD2_BLOCKTYPE.SUPERBLOCK_V1 && type !== JBD2_BLOCKTYPE.SUPERBLOCK_V2)
    return bad(`the journal superblock has block type ${type}, not a journal superblock`);
  if (v1Fields) compat = incompat = rocompat = 0;
  if (incompat & ~JBD2_KNOWN_INCOMPAT || rocompat & ~JBD2_KNOWN_ROCOMPAT)
    return bad(`the journal has unknown features (incompat 0x${incompat.toString(16)})`);
  const csum2 = (incompat & JBD2_INCOMPAT.CSUM_V2) !== 0;
  const csum3 = (incompat & JBD2_INCOMPAT.CSUM_V3) !== 0;
  if (csum2 && csum3) return bad('the journal claims checksum v2 and v3 at once');
  if ((csum2 || csum3) && compat & JBD2_COMPAT.CHECKSUM) return bad('the journal claims checksum v1 and v2/v3 at once');
  if (csum2 || csum3) {
    if (sb.s_checksum_type !== JBD2_CRC32C_CHKSUM)
      return bad(`the journal superblock has checksum type ${sb.s_checksum_type}`);
    const actual = jbd2SuperblockCsum(raw);
    if (actual !== sb.s_checksum)
      return bad(
        `the journal superblock checksum is wrong ` +
          `(stored 0x${sb.s_checksum.toString(16)}, computed 0x${actual.toString(16)})`,
      );
  }
  if (sb.s_blocksize !== bs) return bad(`the journal block size ${sb.s_blocksize} differs from the filesystem's ${bs}`);
  if (sb.s_maxlen > m.blocks)
    return bad(`the journal superblock claims ${sb.s_maxlen} blocks but the inode holds ${m.blocks}`);
  const totalLen = sb.s_maxlen;
  // e2fsck does not check s_first; the kernel refuses 0 and anything past the journal, and so do we
  if (sb.s_first === 0 || sb.s_first >= totalLen) return bad(`the journal's first log block ${sb.s_first} is invalid`);
  let last = totalLen;
  let fastCommit: Journal['fastCommit'];
  if (incompat & JBD2_INCOMPAT.FAST_COMMIT) {
    const fcBlocks = sb.s_num_fc_blks || JBD2_DEFAULT_FAST_COMMIT_BLOCKS;
    if (totalLen - fcBlocks < JBD2_MIN_JOURNAL_BLOCKS)
      return bad(`the journal's ${fcBlocks} fast-commit blocks leave too small a log`);
    last = totalLen - fcBlocks;
    fastCommit = { first: last + 1, last: totalLen };
  }
  if (sb.s_first >= last) return bad(`the journal's first log block ${sb.s_first} is invalid`);
  const read = (j: number) => (j >= 0 && j < totalLen ? src.dev.readAt(m.phys(j) * bs, bs) : undefined);
  return {
    journal: {
      blockSize: bs,
      read,
      phys: m.phys,
      totalLen,
      first: sb.s_first,
      last,
      fastCommit,
      sequence: sb.s_sequence,
      start: sb.s_start,
      compat,
      incompat,
      csumSeed: csum2 || csum3 ? jbd2CsumSeed(sb.s_uuid) : 0,
    },
  };
}
