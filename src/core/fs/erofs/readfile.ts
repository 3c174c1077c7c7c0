/**
 * Where an inode's bytes are: flat (consecutive blocks), flat with the tail
 * beside the inode, or chunk-based (a block address per chunk, holes
 * unmapped). Every block an inode names is checked to lie in the image
 * before it is read; compressed inodes are refused when their data is read.
 */
import type { BlockDevice } from '../../io/device.js';
import type { Content } from '../../tree/types.js';
import type { Inode } from './readinode.js';
import { fail, type MetaReader, type Super } from './readsuper.js';
import {
  BLOCK_MAP_ENTRY_SIZE,
  CHUNK_FORMAT_BLKBITS_MASK,
  CHUNK_FORMAT_INDEXES,
  CHUNK_INDEX,
  LAYOUT,
  NULL_ADDR,
} from './structs.js';

/** Where the byte at a position is: a device offset (undefined in a hole) and how many bytes follow it there. */
export interface Piece {
  at: number | undefined;
  len: number;
}

export interface DataMap {
  size: number;
  piece(pos: number): Piece;
  /** Byte ranges holding data (the rest are holes). */
  ranges(): Array<[number, number]>;
}

const CHUNK_FORMAT_ALL = CHUNK_FORMAT_BLKBITS_MASK | CHUNK_FORMAT_INDEXES;

export function dataMap(m: MetaReader, s: Super, ino: Inode, path: string): DataMap {
  const size = ino.size;
  const bs = s.bs;
  const whole: Array<[number, number]> = size ? [[0, size]] : [];
  const checkBlocks = (addr: number, n: number, what: string) => {
    if (n > 0 && addr + n > s.blocks)
      throw fail('E_FORMAT_EROFS_DATA', `${path}: ${what} blocks ${addr}..${addr + n - 1} lie past the image's end`, {
        path,
        offset: addr * bs,
        actual: addr + n,
        expected: s.blocks,
      });
  };
  switch (ino.layout) {
    case LAYOUT.flatPlain: {
      checkBlocks(ino.u, Math.ceil(size / bs), 'data');
      return { size, piece: (pos) => ({ at: ino.u * bs + pos, len: size - pos }), ranges: () => whole };
    }
    case LAYOUT.flatInline: {
      const head = Math.max(0, Math.ceil(size / bs) - 1) * bs;
      const tailAt = ino.pos + ino.isize + ino.xsize;
      if (size > 0 && (tailAt % bs) + (size - head) > bs)
        throw fail('E_FORMAT_EROFS_DATA', `${path}: the inline tail of ${size - head} bytes crosses a block`, {
          path,
          offset: tailAt,
        });
      checkBlocks(ino.u, head / bs, 'data');
      m.read(tailAt, size - head, `${path} inline data`);
      return {
        size,
        piece: (pos) =>
          pos < head ? { at: ino.u * bs + pos, len: head - pos } : { at: tailAt + pos - head, len: size - pos },
        ranges: () => whole,
      };
    }
    case LAYOUT.chunkBased:
      return chunkMap(m, s, ino, path, checkBlocks);
    default:
      return {
        size,
        piece: () => {
          throw fail('E_FORMAT_EROFS_COMPRESSED', `${path}: compressed files are not read (only uncompressed EROFS)`, {
            path,
            actual: ino.layout,
          });
        },
        ranges: () => whole,
      };
  }
}

function chunkMap(
  m: MetaReader,
  s: Super,
  ino: Inode,
  path: string,
  checkBlocks: (addr: number, n: number, what: string) => void,
): DataMap {
  const size = ino.size;
  const bs = s.bs;
  const format = ino.u & 0xffff;
  const bits = format & CHUNK_FORMAT_BLKBITS_MASK;
  if (format & ~CHUNK_FORMAT_ALL || s.bits + bits > 40)
    throw fail('E_FORMAT_EROFS_INODE', `${path}: unknown chunk format 0x${format.toString(16)}`, {
      path,
      field: 'chunk_format',
      actual: format,
    });
  const chunk = bs * 2 ** bits;
  const unit = format & CHUNK_FORMAT_INDEXES ? CHUNK_INDEX.size : BLOCK_MAP_ENTRY_SIZE;
  const n = Math.ceil(size / chunk);
  const start = Math.ceil((ino.pos + ino.isize + ino.xsize) / unit) * unit;
  // the map must be inside the image: that bounds the chunk count before anything is allocated
  if (start + n * unit > s.limit)
    throw fail('E_FORMAT_EROFS_DATA', `${path}: a map of ${n} chunks runs past the image's end`, {
      path,
      offset: start,
      actual: n,
    });
  let addrs: Float64Array | undefined;
  const load = (): Float64Array => {
    if (addrs) return addrs;
    const raw = m.read(start, n * unit, `${path} chunk map`);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    const a = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      let addr: number;
      if (unit === BLOCK_MAP_ENTRY_SIZE) addr = v.getUint32(k * unit, true);
      else {
        const e = CHUNK_INDEX.decode(raw, k * unit);
        if (e.deviceId !== 0 && e.blkaddr !== NULL_ADDR)
          throw fail('E_FORMAT_EROFS_DATA', `${path}: chunk ${k} is on device ${e.deviceId}`, { path });
        addr = e.blkaddr;
      }
      if (addr !== NULL_ADDR) checkBlocks(addr, Math.ceil(Math.min(chunk, size - k * chunk) / bs), `chunk ${k}`);
      a[k] = addr === NULL_ADDR ? -1 : addr;
    }
    addrs = a;
    return a;
  };
  return {
    size,
    piece(pos) {
      const k = Math.floor(pos / chunk);
      const addr = load()[k]!;
      const len = Math.min(size, (k + 1) * chunk) - pos;
      return { at: addr < 0 ? undefined : addr * bs + (pos - k * chunk), len };
    },
    ranges() {
      const a = load();
      const out: Array<[number, number]> = [];
      for (let k = 0; k < n; k++) {
        if (a[k]! < 0) continue;
        const s0 = k * chunk;
        const e0 = Math.min(size, s0 + chunk);
        const last = out[out.length - 1];
        if (last && last[1] === s0) last[1] = e0;
        else out.push([s0, e0]);
      }
      return out;
    },
  };
}

const CHUNK = 1 << 20;

/** A lazy Content over a data map. */
export function mapContent(dev: BlockDevice, map: DataMap): Content {
  const size = map.size;
  const readInto = (pos: number, target: Uint8Array): number => {
    const end = Math.min(size, pos + target.length);
    let p = Math.max(0, pos);
    while (p < end) {
      const piece = map.piece(p);
      const n = Math.min(piece.len, end - p);
      const part = target.subarray(p - pos, p - pos + n);
      if (piece.at === undefined) part.fill(0);
      else if (dev.readInto) dev.readInto(piece.at, part);
      else part.set(dev.readAt(piece.at, n));
      p += n;
    }
    return Math.max(0, end - pos);
  };
  const readAt = (pos: number, len: number): Uint8Array => {
    const out = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
    readInto(pos, out);
    return out;
  };
  return {
    size,
    readInto,
    readAt,
    dataRanges: () => map.ranges(),
    async *stream() {
      for (let p = 0; p < size; p += CHUNK) yield readAt(p, CHUNK);
    },
  };
}
