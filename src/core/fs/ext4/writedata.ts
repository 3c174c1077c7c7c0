/**
 * Writer, step four: file data. Streams every regular file's content into
 * freshly allocated blocks (all-zero blocks become holes) through the block
 * writer; with random-access contents, whole chunks are read straight into
 * the write buffer when their blocks are contiguous. File contents are never
 * held in memory beyond one chunk.
 */
import { HostIOError } from '../../errors.js';
import { isZero } from '../../io/device.js';
import type { Progress } from '../../progress.js';
import type { Content } from '../../tree/types.js';
import type { BlockWriter } from './blockwriter.js';
import { addBlock, addRange } from './map.js';
import type { Allocator } from './writealloc.js';
import type { Rec } from './writeplan.js';

/** Bytes read from a content at once. */
export const DATA_CHUNK = 8 << 20;

export interface DataWriter {
  B: number;
  al: Allocator;
  w: BlockWriter;
  progress: Progress;
  /** A reused read buffer of DATA_CHUNK bytes: no allocation per file. */
  scratch: Uint8Array;
  /** Bytes of data written so far (holes excluded). */
  dataBytes: number;
}

function sizeError(r: Rec, got: number, pos: number, want: number): HostIOError {
  return new HostIOError(
    'E_IO_CONTENT_SIZE',
    `${r.path}: content returned ${got} bytes at ${pos}, expected ${want} (file changed while writing?)`,
    { path: r.path },
  );
}

let ZEROS = new Uint8Array(0);
/** A block of zeros (shared, never written). */
function zeros(B: number): Uint8Array {
  if (ZEROS.length < B) ZEROS = new Uint8Array(B);
  return ZEROS;
}

/** Write one chunk that starts at block-aligned file offset `pos`, block by block, skipping zero blocks. */
function take(dw: DataWriter, r: Rec, pos: number, data: Uint8Array): void {
  const B = dw.B;
  for (let o = 0; o < data.length; o += B) {
    const end = Math.min(data.length, o + B);
    if (isZero(data, o, end)) continue;
    const blk = dw.al.alloc();
    addBlock(r.runs!, (pos + o) / B, blk);
    dw.w.put(blk, data, o, end);
    dw.dataBytes += end - o;
  }
  dw.progress.tick(data.length);
}

/**
 * The fast path: read `want` bytes at `pos` straight into the write buffer
 * when the next free blocks are contiguous and none of them is all zeros.
 * Returns false when the buffer had no room (nothing was read).
 */
function readIntoBuffer(dw: DataWriter, r: Rec, c: Content, pos: number, want: number): boolean {
  const B = dw.B;
  const k = Math.ceil(want / B);
  const first = dw.al.peekRun(k);
  const at = first >= 0 ? dw.w.reserve(first, k) : -1;
  if (at < 0) return false;
  const buf = dw.w.buffer;
  const got = c.readInto!(pos, buf.subarray(at, at + want));
  if (got !== want) throw sizeError(r, got, pos, want);
  const pad = k * B - want;
  // the last block's tail: a copy from zeros costs less than fill() (a runtime call) on every small file
  if (pad > 0) buf.set(zeros(B).subarray(0, pad), at + want);
  let zero = false;
  for (let o = at; o < at + want && !zero; o += B) zero = isZero(buf, o, Math.min(at + want, o + B));
  if (zero) {
    dw.scratch.set(buf.subarray(at, at + want));
    take(dw, r, pos, dw.scratch.subarray(0, want));
    return true;
  }
  dw.al.takeRun(first, k);
  addRange(r.runs!, pos / B, first, k);
  dw.w.commit(k);
  dw.dataBytes += want;
  dw.progress.tick(want);
  return true;
}

/** The block-aligned spans of a file that hold data (its data ranges, merged), or the whole file. */
function dataSpans(c: Content, B: number): Array<[number, number]> {
  const size = c.size;
  const ranges = c.dataRanges?.();
  if (!ranges) return [[0, size]];
  const spans: Array<[number, number]> = [];
  for (const [s, e] of ranges) {
    const a = Math.floor(s / B) * B;
    const b = Math.min(size, Math.ceil(e / B) * B);
    if (b <= a) continue;
    const lastSpan = spans[spans.length - 1];
    if (lastSpan && a <= lastSpan[1]) lastSpan[1] = Math.max(lastSpan[1], b);
    else spans.push([a, b]);
  }
  return spans;
}

/** Copy bytes [a, b) of a content with readInto or readAt, chunk by chunk. */
function copySpan(dw: DataWriter, r: Rec, c: Content, a: number, b: number): void {
  for (let pos = a; pos < b; pos += DATA_CHUNK) {
    const want = Math.min(DATA_CHUNK, b - pos);
    if (c.readInto && readIntoBuffer(dw, r, c, pos, want)) continue;
    const data = c.readInto
      ? dw.scratch.subarray(0, c.readInto(pos, dw.scratch.subarray(0, want)))
      : c.readAt!(pos, want);
    if (data.length !== want) throw sizeError(r, data.length, pos, want);
    take(dw, r, pos, data);
  }
}

/** Copy a content with readInto or readAt over its data spans (the whole file without data ranges: no array). */
function copyRandomAccess(dw: DataWriter, r: Rec, c: Content): void {
  if (!c.dataRanges) return copySpan(dw, r, c, 0, c.size);
  for (const [a, b] of dataSpans(c, dw.B)) copySpan(dw, r, c, a, b);
}

/** Copy a content that can only be streamed; chunks are cut at block boundaries. */
async function copyStream(dw: DataWriter, r: Rec, c: Content): Promise<void> {
  const B = dw.B;
  const size = c.size;
  let pos = 0;
  let carry: Uint8Array | undefined;
  for await (const chunk0 of c.stream()) {
    let chunk = chunk0;
    if (pos + (carry?.length ?? 0) + chunk.length > size)
      throw new HostIOError('E_IO_CONTENT_SIZE', `${r.path}: content yielded more than its declared ${size} bytes`, {
        path: r.path,
      });
    if (carry) {
      const m = new Uint8Array(carry.length + chunk.length);
      m.set(carry);
      m.set(chunk, carry.length);
      chunk = m;
      carry = undefined;
    }
    const whole = chunk.length - (chunk.length % B);
    if (whole) take(dw, r, pos, chunk.subarray(0, whole));
    pos += whole;
    if (whole < chunk.length) carry = chunk.slice(whole);
  }
  if (carry) {
    take(dw, r, pos, carry);
    pos += carry.length;
  }
  if (pos !== size)
    throw new HostIOError('E_IO_CONTENT_SIZE', `${r.path}: content yielded ${pos} bytes, declared ${size}`, {
      path: r.path,
    });
}

/**
 * Write the data of a regular file; its runs go to r.runs. Synchronous for
 * contents with random access (no promise per file); a promise otherwise.
 */
export function writeFileData(dw: DataWriter, r: Rec, c: Content): Promise<void> | undefined {
  r.runs = [];
  if (c.size === 0) return undefined;
  // most files: one chunk read straight into the block buffer (what copyRandomAccess would do, without its layers)
  if (c.readInto && !c.dataRanges && c.size <= DATA_CHUNK && readIntoBuffer(dw, r, c, 0, c.size)) return undefined;
  if (c.readInto || c.readAt) {
    copyRandomAccess(dw, r, c);
    return undefined;
  }
  return copyStream(dw, r, c);
}
