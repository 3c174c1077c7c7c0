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
import { checksumError, dirLeafCsum, dxCsum } from './readcsum.js';
import { DIR_TAIL_FT, DIR_TAIL_SIZE, DX_NODE_COUNT_OFFSET } from './structs.js';

export interface RawDirEntry {
  name: string;
  ino: number;
  /** file_type byte (0 when the filetype feature is off). */
  fileType: number;
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
    if (o + 8 > end)
      throw dirError(ctx, `record header at offset ${o - start} runs past the end`, { ...where, offset: o - start });
    const ino = v.getUint32(o, true);
    let recLen = v.getUint16(o + 4, true);
    if (ctx.blockSize === 65536 && (recLen === 65535 || recLen === 0)) recLen = 65536;
    const nameLen = buf[o + 6]!;
    if (recLen < 12 || (recLen & 3) !== 0 || o + recLen > end)
      throw dirError(ctx, `bad rec_len ${recLen} at offset ${o - start}`, {
        ...where,
        field: 'rec_len',
        offset: o - start,
        actual: recLen,
      });
    if (nameLen + 8 > recLen)
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
      const nb = buf.subarray(o + 8, o + 8 + nameLen);
      const isDot = (nameLen === 1 && nb[0] === 0x2e) || (nameLen === 2 && nb[0] === 0x2e && nb[1] === 0x2e);
      if (!isDot) {
        if (nb.includes(0x2f) || nb.includes(0))
          throw dirError(ctx, `entry at offset ${o - start} has '/' or NUL in its name`, {
            ...where,
            field: 'name',
            offset: o - start,
          });
        out.push({ name: dec.decode(nb), ino, fileType: buf[o + 7]! });
      }
    }
    o += recLen;
  }
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
  const firstIno = v.getUint32(0, true);
  let firstRec = v.getUint16(4, true);
  if (bs === 65536 && (firstRec === 65535 || firstRec === 0)) firstRec = 65536;
  const isDxRoot = ctx.indexed && lblk === 0;
  const isDxNode = ctx.indexed && lblk > 0 && firstIno === 0 && firstRec === bs && buf[6] === 0;
  if (isDxRoot || isDxNode) {
    if (ctx.csumSeed !== undefined) {
      const countOffset = isDxRoot ? 0x18 + buf[0x1d]! : DX_NODE_COUNT_OFFSET;
      if (countOffset + 8 > bs)
        throw dirError(ctx, `htree root info length ${buf[0x1d]} is too large`, {
          ...where,
          structure: 'dx_root',
          field: 'info_length',
        });
      const limit = v.getUint16(countOffset, true);
      const count = v.getUint16(countOffset + 2, true);
      const tail = countOffset + limit * 8;
      if (count > limit || tail + 8 > bs)
        throw dirError(ctx, `htree node count ${count} / limit ${limit} do not fit the block`, {
          ...where,
          structure: isDxRoot ? 'dx_root' : 'dx_node',
          field: 'count',
          actual: count,
        });
      const stored = v.getUint32(tail + 4, true);
      const actual = dxCsum(ctx.csumSeed, buf, countOffset, count, tail);
      if (stored !== actual)
        throw checksumError(isDxRoot ? 'htree root' : 'htree node', { inode: ctx.ino, block, lblk }, stored, actual);
    }
    // The root's '.' and '..' tile the block; interior nodes hold no entries.
    if (isDxRoot) parseDirRecords(buf, 0, bs, ctx, where, out);
    return;
  }
  let end = bs;
  if (ctx.csumSeed !== undefined) {
    const t = bs - DIR_TAIL_SIZE;
    if (
      v.getUint32(t, true) !== 0 ||
      v.getUint16(t + 4, true) !== DIR_TAIL_SIZE ||
      buf[t + 6] !== 0 ||
      buf[t + 7] !== DIR_TAIL_FT
    ) {
      throw dirError(ctx, `block ${block} (logical ${lblk}) has no checksum tail`, {
        ...where,
        structure: 'ext4_dir_entry_tail',
      });
    }
    const stored = v.getUint32(t + 8, true);
    const actual = dirLeafCsum(ctx.csumSeed, buf);
    if (stored !== actual) throw checksumError('directory block', { inode: ctx.ino, block, lblk }, stored, actual);
    end = t;
  }
  parseDirRecords(buf, 0, end, ctx, where, out);
}

/** Inline-data directory: i_block (parent inode, then records) and the system.data continuation. */
export function parseInlineDir(
  iBlock: Uint8Array,
  extra: Uint8Array | undefined,
  ctx: DirParseContext,
  out: RawDirEntry[],
): void {
  parseDirRecords(iBlock, 4, 60, ctx, { where: 'inline i_block' }, out);
  if (extra && extra.length > 0) parseDirRecords(extra, 0, extra.length, ctx, { where: 'inline system.data' }, out);
}
