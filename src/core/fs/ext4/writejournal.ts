/**
 * Writer, step six: the journal (ext3/ext4 has_journal). An empty jbd2 log
 * in inode 8: contiguous blocks, a version 2 journal superblock in the first
 * (csum v3 with metadata_csum, like mke2fs), the rest left unwritten.
 */
import type { Timespec } from '../../tree/types.js';
import { jbd2SuperblockCsum } from './csum.js';
import { addBlock } from './map.js';
import {
  JBD2_BLOCKTYPE,
  JBD2_CRC32C_CHKSUM,
  JBD2_INCOMPAT,
  JBD2_MAGIC,
  JOURNAL_INO,
  jbd2Superblock,
} from './structs.js';
import { mapInode, type WriteCtx } from './writeinodes.js';
import { Rec } from './writeplan.js';

/** The journal superblock of an empty log of `blocks` blocks. */
function journalSuperblock(ctx: WriteCtx, blocks: number): Uint8Array {
  const { cfg } = ctx;
  const metaCsum = cfg.has('metadata_csum');
  const jsb = jbd2Superblock.encode({
    h_magic: JBD2_MAGIC,
    h_blocktype: JBD2_BLOCKTYPE.SUPERBLOCK_V2,
    h_sequence: 0,
    s_blocksize: cfg.blockSize,
    s_maxlen: blocks,
    s_first: 1,
    s_sequence: 1,
    s_start: 0,
    s_errno: 0,
    s_feature_compat: 0,
    s_feature_incompat: metaCsum ? JBD2_INCOMPAT.CSUM_V3 : 0,
    s_feature_ro_compat: 0,
    s_uuid: cfg.uuid,
    s_nr_users: 1,
    s_max_transaction: 0,
    s_max_trans_data: 0,
    s_checksum_type: metaCsum ? JBD2_CRC32C_CHKSUM : 0,
  });
  if (metaCsum) jbd2Superblock.encode({ s_checksum: jbd2SuperblockCsum(jsb) }, jsb);
  return jsb;
}

/** Allocate and write the journal; its inode record. */
export function writeJournal(ctx: WriteCtx): Rec {
  const { cfg, g } = ctx;
  const t: Timespec = { sec: cfg.epoch, nsec: 0 };
  const journal = new Rec(
    JOURNAL_INO,
    'file',
    undefined,
    { mode: 0o600, uid: 0, gid: 0, atime: t, mtime: t, ctime: t },
    '<journal>',
  );
  journal.links = 1;
  journal.size = g.journalBlocks * cfg.blockSize;
  journal.runs = [];
  for (let i = 0; i < g.journalBlocks; i++) addBlock(journal.runs, i, ctx.al.alloc());
  ctx.w.put(journal.runs[0]!.pblk, journalSuperblock(ctx, g.journalBlocks));
  mapInode(ctx, journal);
  return journal;
}
