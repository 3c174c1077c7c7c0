/**
 * Directory parsing for the ext4 reader: linear leaf blocks, htree (dx)
 * root and interior blocks (skipped for listing; their checksums are
 * verified), and inline-data directories. A reader never needs the hash
 * index to list a directory: every entry lives in a leaf block.
 *
 * Every record is validated before use (rec_len >= 12, 4-aligned, inside the
 * block; name_len + 8 <= rec_len; inode number in range; no '/' or NUL).
 */
import { FormatError } from '../../errors.js';
import { checksumError, dirBlockCsum, dxBlockCsum } from './csum.js';
import {
  DIR_TAIL_FT,
  DIR_TAIL_SIZE,
  DX_NODE_COUNT_OFFSET,
  DX_ROOT_INFO_OFFSET,
  MAX_REC_LEN,
  dirEntry,
  dirRecLen,
  dirTail,
  dxCountLimit,
  dxEntry,
  dxNode,
  dxRoot,
  dxTail,
  I_BLOCK_SIZE,
  inlineDirHeader,
} from './structs.js';

export interface RawDirEntry {
  name: string;
  ino: number;
  /** file_type byte (0 when the filetype feature is off). */
  fileType: number;
}

interface DirWhere {
  block: number;
  lblk: number;
}

export interface DirParseContext {
  /** The directory's inode. */
  ino: number;
  inodesCount: number;
  blockSize: number;
  /** Inode checksum seed when metadata_csum checks are on, else undefined. */
  csumSeed: number | undefined;
  /** The directory has INDEX_FL (htree). */
  indexed: boolean;
}

const dec = new TextDecoder('utf-8');
const DE_INODE = dirEntry.offsetOf('inode');
const DE_REC_LEN = dirEntry.offsetOf('rec_len');
const DE_NAME_LEN = dirEntry.offsetOf('name_len');
const DE_FILE_TYPE = dirEntry.offsetOf('file_type');
const DOT = 0x2e;
const SLASH = 0x2f;
/** The smallest record: a header and a name of up to 4 bytes. */
const MIN_REC_LEN = dirRecLen(1);
const REC_ALIGN = 4;
const BIG_BLOCK = MAX_REC_LEN + 1;

/** rec_len as the kernel reads it: a whole 64 KiB block is stored as 65535 or 0. */
function recLenFromDisk(v: DataView, o: number, blockSize: number): number {
  const len = v.getUint16(o + DE_REC_LEN, true);
  return blockSize === BIG_BLOCK && (len === MAX_REC_LEN || len === 0) ? BIG_BLOCK : len;
}

function dirError(ctx: DirParseContext, msg: string, data: Record<string, unknown>): FormatError {
  return new FormatError('E_FORMAT_DIRENT', `directory inode ${ctx.ino}: ${msg}`, {
    format: 'ext4',
    structure: 'ext4_dir_entry_2',
    inode: ctx.ino,
    ...data,
  });
}

/** Parse records tiling buf[start, end). Pushes live entries (not '.' / '..') to `out`. */
export function parseDirRecords(
  buf: Uint8Array,
  start: number,
  end: number,
  ctx: DirParseContext,
  where: Record<string, unknown>,
  out: RawDirEntry[],
): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  let o = start;
  while (o < end) {
    if (o + dirEntry.size > end)
      throw dirError(ctx, `record header at offset ${o - start} runs past the end`, { ...where, offset: o - start });
    const ino = v.getUint32(o + DE_INODE, true);
    const recLen = recLenFromDisk(v, o, ctx.blockSize);
    const nameLen = buf[o + DE_NAME_LEN]!;
    if (recLen < MIN_REC_LEN || recLen % REC_ALIGN !== 0 || o + recLen > end)
      throw dirError(ctx, `bad rec_len ${recLen} at offset ${o - start}`, {
        ...where,
        field: 'rec_len',
        offset: o - start,
        actual: recLen,
      });
    if (nameLen + dirEntry.size > recLen)
      throw dirError(ctx, `name_len ${nameLen} does not fit in rec_len ${recLen} at offset ${o - start}`, {
        ...where,
        field: 'name_len',
        offset: o - start,
        actual: nameLen,
      });
    if (ino !== 0) {
      if (ino > ctx.inodesCount)
        throw dirError(
          ctx,
          `entry at offset ${o - start} points at inode ${ino}, past the last inode ${ctx.inodesCount}`,
          { ...where, field: 'inode', offset: o - start, actual: ino },
        );
      if (nameLen === 0)
        throw dirError(ctx, `entry at offset ${o - start} has an empty name`, {
          ...where,
          field: 'name_len',
          offset: o - start,
        });
      const nb = buf.subarray(o + dirEntry.size, o + dirEntry.size + nameLen);
      const isDot = (nameLen === 1 && nb[0] === DOT) || (nameLen === 2 && nb[0] === DOT && nb[1] === DOT);
      if (!isDot) {
        if (nb.includes(SLASH) || nb.includes(0))
          throw dirError(ctx, `entry at offset ${o - start} has '/' or NUL in its name`, {
            ...where,
            field: 'name',
            offset: o - start,
          });
        out.push({ name: dec.decode(nb), ino, fileType: buf[o + DE_FILE_TYPE]! });
      }
    }
    o += recLen;
  }
}

/** Verify the checksum of an htree root or interior node (its dx_tail). */
function checkDxBlock(buf: Uint8Array, isRoot: boolean, seed: number, ctx: DirParseContext, where: DirWhere): void {
  const bs = ctx.blockSize;
  const infoLength = buf[dxRoot.offsetOf('info_length')]!;
  const countOffset = isRoot ? DX_ROOT_INFO_OFFSET + infoLength : DX_NODE_COUNT_OFFSET;
  if (countOffset + dxCountLimit.size > bs)
    throw dirError(ctx, `htree root info length ${infoLength} is too large`, {
      ...where,
      structure: 'dx_root',
      field: 'info_length',
    });
  const { limit, count } = dxCountLimit.decode(buf, countOffset);
  const tail = countOffset + limit * dxEntry.size;
  if (count > limit || tail + dxTail.size > bs)
    throw dirError(ctx, `htree node count ${count} / limit ${limit} do not fit the block`, {
      ...where,
      structure: isRoot ? 'dx_root' : 'dx_node',
      field: 'count',
      actual: count,
    });
  const stored = dxTail.decode(buf, tail).dt_checksum;
  const actual = dxBlockCsum(seed, buf, countOffset, count, tail);
  if (stored !== actual)
    throw checksumError(isRoot ? 'htree root' : 'htree node', { inode: ctx.ino, ...where }, stored, actual);
}

/** Verify the checksum tail of a leaf block; returns where the records end. */
function checkLeafTail(buf: Uint8Array, seed: number, ctx: DirParseContext, where: DirWhere): number {
  const t = ctx.blockSize - DIR_TAIL_SIZE;
  const tail = dirTail.decode(buf, t);
  if (
    tail.det_reserved_zero1 !== 0 ||
    tail.det_rec_len !== DIR_TAIL_SIZE ||
    tail.det_reserved_zero2 !== 0 ||
    tail.det_reserved_ft !== DIR_TAIL_FT
  ) {
    throw dirError(ctx, `block ${where.block} (logical ${where.lblk}) has no checksum tail`, {
      ...where,
      structure: 'ext4_dir_entry_tail',
    });
  }
  const actual = dirBlockCsum(seed, buf, DIR_TAIL_SIZE);
  if (tail.det_checksum !== actual)
    throw checksumError('directory block', { inode: ctx.ino, ...where }, tail.det_checksum, actual);
  return t;
}

/**
 * One directory block at logical index `lblk` (physical `block`, for error
 * data). Verifies the leaf tail or dx checksum when ctx.csumSeed is set.
 */
export function parseDirBlock(
  buf: Uint8Array,
  lblk: number,
  block: number,
  ctx: DirParseContext,
  out: RawDirEntry[],
): void {
  const bs = ctx.blockSize;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const where = { block, lblk };
  const isDxRoot = ctx.indexed && lblk === 0;
  const isDxNode =
    ctx.indexed &&
    lblk > 0 &&
    v.getUint32(dxNode.offsetOf('fake_inode'), true) === 0 &&
    recLenFromDisk(v, 0, bs) === bs &&
    buf[dxNode.offsetOf('fake_name_len')] === 0;
  if (isDxRoot || isDxNode) {
    if (ctx.csumSeed !== undefined) checkDxBlock(buf, isDxRoot, ctx.csumSeed, ctx, where);
    // The root's '.' and '..' tile the block; interior nodes hold no entries.
    if (isDxRoot) parseDirRecords(buf, 0, bs, ctx, where, out);
    return;
  }
  const end = ctx.csumSeed !== undefined ? checkLeafTail(buf, ctx.csumSeed, ctx, where) : bs;
  parseDirRecords(buf, 0, end, ctx, where, out);
}

/** Inline-data directory: i_block (parent inode, then records) and the system.data continuation. */
export function parseInlineDir(
  iBlock: Uint8Array,
  extra: Uint8Array | undefined,
  ctx: DirParseContext,
  out: RawDirEntry[],
): void {
  parseDirRecords(iBlock, inlineDirHeader.size, I_BLOCK_SIZE, ctx, { where: 'inline i_block' }, out);
  if (extra && extra.length > 0) parseDirRecords(extra, 0, extra.length, ctx, { where: 'inline system.data' }, out);
}
