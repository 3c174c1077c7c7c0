/**
 * gzip (RFC 1952) with both cores, the way pigz does it: the input is cut
 * into blocks; each block is compressed independently as raw deflate,
 * primed with the previous block's last 32 KiB as the dictionary, and ended
 * with a sync flush (an empty stored block) so the pieces concatenate into
 * ONE deflate stream; the last block finishes it. Blocks are compressed by
 * node:zlib's asynchronous API, which runs on libuv's worker threads, so up
 * to `threads` blocks compress in parallel while the main thread reads
 * input and computes the CRC. See docs/gzip.md for the measurements behind
 * the choice of node:zlib over fflate.
 *
 * Output is deterministic: it depends only on the input, level and block
 * size (not on `threads` or timing). The header stores mtime 0 and no name.
 */
import { availableParallelism } from 'node:os';
import { Readable } from 'node:stream';
import * as zlib from 'node:zlib';
import { crc32 as crc32Js } from '../binary/crc.js';
import { FormatError, TinyImageError, UsageError } from '../errors.js';

export interface GzipOptions {
  /** Compression level 1..9 (default 6, like gzip). 0 stores. */
  level?: number;
  /** Blocks compressed in parallel (default os.availableParallelism()). 1 = one at a time. */
  threads?: number;
  /** Input block size in bytes (default 1 MiB, at least 64 KiB). Part of the output's identity. */
  blockSize?: number;
  /** Store blocks that look incompressible instead of searching them for matches (default true; see incompressibleSegments). */
  detectIncompressible?: boolean;
}

const DICT = 32 * 1024;
const DEFAULT_BLOCK = 1024 * 1024;

const nativeCrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
/** CRC-32 (gzip's) continuing from `prev`. node:zlib's native crc32 when available (Node >= 20.15). */
export const gzipCrc32: (data: Uint8Array, prev: number) => number = nativeCrc
  ? (d, p) => nativeCrc(d, p)
  : (d, p) => crc32Js(d, p);

function deflateRaw(data: Uint8Array, o: zlib.ZlibOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(data, o, (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length))));
  });
}

const SEGMENT = 64 * 1024;
const PROBE = 1024;
const PROBES = 4;

/**
 * Which 64 KiB segments of a block look incompressible (already-compressed
 * or random data): four evenly spaced 1 KiB probes, taken together, shrink
 * by less than 1% at level 1. The probes cost ~6% of a level-1 pass, while
 * deflate at level 6 spends as long on random data as on text only to emit
 * stored blocks. Compressible bytes between the probes of a segment judged
 * incompressible lose their gain (measured: +0.9% output on the benchmark
 * tree, for about half the CPU time); see docs/gzip.md.
 */
async function incompressibleSegments(block: Uint8Array): Promise<boolean[]> {
  const flags: boolean[] = [];
  const probe = new Uint8Array(PROBES * PROBE);
  for (let start = 0; start < block.length; start += SEGMENT) {
    const len = Math.min(SEGMENT, block.length - start);
    if (len < SEGMENT) { flags.push(false); continue; }
    for (let k = 0; k < PROBES; k++) {
      const at = start + Math.floor(((2 * k + 1) * (len - PROBE)) / (2 * PROBES));
      probe.set(block.subarray(at, at + PROBE), k * PROBE);
    }
    // a window just covering the 4 KiB probe and little hash memory: with the
    // defaults each probe's zlib stream allocated ~256 KiB, and that allocation
    // (system time) cost more than the compression itself
    const out = await deflateRaw(probe, { level: 1, windowBits: 12, memLevel: 2 });
    flags.push(out.length >= probe.length * 0.99);
  }
  return flags;
}

/**
 * One block as raw deflate that ends byte-aligned (sync flush) unless `last`.
 * Runs of incompressible segments are stored (level 0), the rest is
 * compressed at `level` primed with the preceding 32 KiB.
 */
async function deflateBlock(block: Uint8Array, dict: Uint8Array | undefined, level: number, last: boolean, detect: boolean): Promise<Uint8Array> {
  const runs: Array<{ start: number; end: number; store: boolean }> = [];
  if (level > 0 && detect && block.length >= 2 * SEGMENT) {
    const flags = await incompressibleSegments(block);
    flags.forEach((store, i) => {
      const start = i * SEGMENT;
      const end = Math.min(block.length, start + SEGMENT);
      const prev = runs[runs.length - 1];
      if (prev && prev.store === store) prev.end = end;
      else runs.push({ start, end, store });
    });
  } else {
    runs.push({ start: 0, end: block.length, store: level === 0 });
  }
  // one zlib call at a time per block, so `threads` bounds the threads in use
  const outs: Uint8Array[] = [];
  for (const [i, r] of runs.entries()) {
    const finish = last && i === runs.length - 1;
    const o: zlib.ZlibOptions = { level: r.store ? 0 : level, finishFlush: finish ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH };
    if (!r.store) {
      const d = r.start === 0 ? dict : block.subarray(Math.max(0, r.start - DICT), r.start);
      if (d && d.length) o.dictionary = d;
    }
    outs.push(await deflateRaw(block.subarray(r.start, r.end), o));
  }
  return outs.length === 1 ? outs[0]! : concat(outs);
}

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}

function gzipHeader(level: number): Uint8Array {
  // ID1 ID2 CM=8 FLG=0 MTIME=0 XFL OS=3 (Unix)
  return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level >= 9 ? 2 : level === 1 ? 4 : 0, 3]);
}

function checkOptions(opts: GzipOptions): { level: number; threads: number; blockSize: number } {
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) throw new UsageError('E_USAGE_GZIP_LEVEL', `gzip level must be 0..9, got ${level}`, { field: 'level', actual: level });
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new UsageError('E_USAGE_GZIP_THREADS', `gzip threads must be a positive integer, got ${threads}`, { field: 'threads', actual: threads });
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK;
  if (!Number.isInteger(blockSize) || blockSize < 64 * 1024) throw new UsageError('E_USAGE_GZIP_BLOCK', `gzip block size must be at least 65536 bytes, got ${blockSize}`, { field: 'blockSize', actual: blockSize });
  return { level, threads, blockSize };
}

/** Compress a byte stream into one gzip member, in parallel blocks. */
export async function* gzipChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, opts: GzipOptions = {}): AsyncGenerator<Uint8Array> {
  const { level, threads, blockSize } = checkOptions(opts);
  const detect = opts.detectIncompressible ?? true;
  yield gzipHeader(level);
  let crc = 0;
  let total = 0;
  let block = new Uint8Array(blockSize);
  let fill = 0;
  let dict: Uint8Array | undefined;
  const pending: Array<Promise<Uint8Array>> = [];
  const submit = (last: boolean) => {
    const data = block.subarray(0, fill);
    const p = deflateBlock(data, dict, level, last, detect);
    p.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
    pending.push(p);
    dict = data.length >= DICT ? data.subarray(data.length - DICT) : undefined;
    // a block shorter than 32 KiB only happens last, so the dictionary is always a full window
    block = new Uint8Array(blockSize);
    fill = 0;
  };
  for await (const chunk of source) {
    crc = gzipCrc32(chunk, crc);
    total += chunk.length;
    let off = 0;
    while (off < chunk.length) {
      const n = Math.min(chunk.length - off, blockSize - fill);
      block.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === blockSize) {
        while (pending.length >= threads) yield await pending.shift()!;
        submit(false);
      }
    }
  }
  while (pending.length >= threads) yield await pending.shift()!;
  submit(true);
  while (pending.length) yield await pending.shift()!;
  const trailer = new Uint8Array(8);
  const v = new DataView(trailer.buffer);
  v.setUint32(0, crc >>> 0, true);
  v.setUint32(4, total % 0x100000000, true);
  yield trailer;
}

/** gzip a byte array (parallel, same output as gzipChunks). */
export async function gzipBytes(data: Uint8Array, opts: GzipOptions = {}): Promise<Uint8Array> {
  return concatChunks(gzipChunks([data], opts));
}

/**
 * Decompress a gzip stream (one or more concatenated members; NUL padding
 * after the last member is ignored). Corrupt or truncated input throws
 * FormatError E_FORMAT_GZIP.
 */
export async function* gunzipChunks(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array> | Uint8Array): AsyncGenerator<Uint8Array> {
  const input = Readable.from(source instanceof Uint8Array ? [source] : source);
  const gz = zlib.createGunzip();
  input.on('error', (e) => gz.destroy(e));
  input.pipe(gz);
  let out = 0;
  try {
    for await (const c of gz as AsyncIterable<Buffer>) {
      out += c.length;
      yield new Uint8Array(c.buffer, c.byteOffset, c.length);
    }
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    const fromZlib = typeof code === 'string' && (code.startsWith('Z_') || code.startsWith('ERR_ZLIB'));
    if (e instanceof TinyImageError || !fromZlib) throw e;
    throw new FormatError('E_FORMAT_GZIP', `gzip: ${(e as Error).message} (${out} bytes had been decompressed)`, { format: 'gzip', offset: out }, { cause: e });
  } finally {
    input.unpipe(gz);
    input.destroy();
    gz.destroy();
  }
}

export async function concatChunks(chunks: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) { parts.push(c); n += c.length; }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) { out.set(p, off); off += p.length; }
  return out;
}
