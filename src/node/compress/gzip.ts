/**
 * gzip (RFC 1952) with both cores, the way pigz does it: the input is cut
 * into blocks; each block is compressed independently as raw deflate and
 * ended byte-aligned (a sync flush, or an empty stored block) so the pieces
 * concatenate into ONE deflate stream in ONE gzip member (the kernel's
 * initramfs unpacker needs that); the last block finishes it. Up to twice
 * `threads` blocks are in flight and `threads` runs compress at once, while
 * the main thread reads input, computes the CRC and finds the runs to store.
 *
 * Two engines, chosen per run from its bytes: machine code and other binary
 * data go to libdeflate (WebAssembly, libdeflate.ts) in a pool of worker
 * threads (gzip-pool.ts), which matches such data 1.5-2% better than Node's
 * zlib for less CPU; text and highly repetitive data go to node:zlib on
 * libuv's threads, primed with the previous 32 KiB as dictionary, which
 * libdeflate cannot do and where zlib is smaller and faster. See
 * docs/gzip.md for the measurements.
 *
 * Output is deterministic: it depends only on the input, level, block size
 * and detectIncompressible (not on `threads` or timing). The header stores
 * mtime 0 and no name.
 */
import { availableParallelism } from 'node:os';
import * as zlib from 'node:zlib';
import { crc32 as crc32Js } from '../../core/binary/crc.js';
import { ToolError, UsageError } from '../../core/errors.js';
import { checkGzipLevel, concatChunks, type ByteSource, type GzipOptions } from '../../core/compress/gzip.js';
import { storedSize, writeStored } from '../../core/compress/deflate-stored.js';
import type { DeflatePool } from './gzip-pool.js';

const DICT = 32 * 1024;
const DEFAULT_BLOCK = 1024 * 1024;
/**
 * zlib's memLevel for the compressed runs (default 8). It sets how many
 * symbols a Huffman block holds, 2^(memLevel+6), and the hash table size.
 * 4096 symbols instead of 16384 let the codes follow machine code's
 * changing statistics: 0.7% smaller on /usr/lib/x86_64-linux-gnu for a few
 * percent more CPU; 5 and 9 are larger again (docs/benchmarks.md, issue 16).
 */
const MEM_LEVEL = 6;

const nativeCrc = (zlib as unknown as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;
/** CRC-32 (gzip's) continuing from `prev`. node:zlib's native crc32 when available (Node >= 20.15). */
export const gzipCrc32: (data: Uint8Array, prev: number) => number = nativeCrc
  ? (d, p) => nativeCrc(d, p)
  : (d, p) => crc32Js(d, p);

function deflateRaw(data: Uint8Array, o: zlib.ZlibOptions): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    zlib.deflateRaw(data, o, (err, out) =>
      err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length)),
    );
  });
}

const PIECE = 4096;
const SAMPLE_STEP = 4;
/** The edges of a stored run are trimmed in steps of 512 bytes, each measured over all its bytes; random data measures ~7.64 there. */
const EDGE = 512;
const EDGE_ENTROPY = 7.2;
/** Bits per byte (order-0, over every 4th byte of a 4 KiB piece) at or above which a piece looks random; random data measures ~7.82, text 3-5, machine code 5-6.5. */
const HIGH_ENTROPY = 7.5;
/** A run of random-looking pieces shorter than this is compressed with its neighbours rather than stored. */
const MIN_STORED = 16 * 1024;
const PROBE = 1024;
const PROBE_SPACING = 64 * 1024;

const NLOGN = new Float64Array(Math.max(PIECE / SAMPLE_STEP, EDGE) + 1);
for (let n = 1; n < NLOGN.length; n++) NLOGN[n] = n * Math.log2(n);
const hist = new Uint32Array(256);

/** Order-0 entropy in bits per byte of every `step`-th byte of data[start, end). */
function sampledEntropy(data: Uint8Array, start: number, end: number, step: number): number {
  hist.fill(0);
  let n = 0;
  for (let i = start; i < end; i += step) {
    hist[data[i]!]!++;
    n++;
  }
  let sum = 0;
  for (let k = 0; k < 256; k++) sum += NLOGN[hist[k]!]!;
  return n === 0 ? 0 : Math.log2(n) - sum / n;
}

type Run = { start: number; end: number; store: boolean };

/**
 * Split a block into runs to compress and runs to store. Deflate at level 6
 * spends as long on random or already-compressed data (xz'd modules,
 * firmware, images) as on text, only to emit stored blocks. Each 4 KiB
 * piece's byte entropy is estimated from a quarter of its bytes (~0.55 s
 * per GB on one core); runs of random-looking pieces have their partly
 * text edges trimmed in 512-byte steps, and those still at least 16 KiB
 * long are candidates for storing. Entropy cannot see repeats (a random
 * 1 KiB unit repeated compresses well yet has random byte statistics), so
 * each candidate is confirmed by deflating 1 KiB samples, one per 64 KiB
 * (at least two), together at level 1: it is stored only if they shrink by
 * less than 1%. Repeats longer than 1 KiB that the samples miss are stored
 * rather than compressed. Measurements are in docs/gzip.md.
 */
async function classify(block: Uint8Array): Promise<Run[]> {
  // pass 1 (main thread): candidate runs of random-looking pieces
  const candidates: Array<{ start: number; end: number }> = [];
  let highStart = -1;
  const close = (end: number) => {
    let start = highStart;
    highStart = -1;
    if (start < 0) return;
    // the first and last pieces may be partly text: leave that part to be compressed
    while (start < end && sampledEntropy(block, start, start + EDGE, 1) < EDGE_ENTROPY) start += EDGE;
    while (end > start && sampledEntropy(block, end - EDGE, end, 1) < EDGE_ENTROPY) end -= EDGE;
    if (end - start >= MIN_STORED) candidates.push({ start, end });
  };
  for (let at = 0; at < block.length; at += PIECE) {
    const end = Math.min(block.length, at + PIECE);
    if (end - at === PIECE && sampledEntropy(block, at, end, SAMPLE_STEP) >= HIGH_ENTROPY) {
      if (highStart < 0) highStart = at;
    } else close(at);
  }
  close(block.length);
  // pass 2 (zlib's threads): keep the candidates whose samples do not shrink
  const stored = await Promise.all(candidates.map((c) => shrinks(block, c.start, c.end).then((s) => !s)));
  const runs: Run[] = [];
  let pos = 0;
  candidates.forEach((c, i) => {
    if (!stored[i]) return;
    if (c.start > pos) runs.push({ start: pos, end: c.start, store: false });
    runs.push({ start: c.start, end: c.end, store: true });
    pos = c.end;
  });
  if (pos < block.length || runs.length === 0) runs.push({ start: pos, end: block.length, store: false });
  return runs;
}

/** Whether 1 KiB samples of data[start, end), one per 64 KiB (at least two), shrink by 1% or more at level 1. */
async function shrinks(data: Uint8Array, start: number, end: number): Promise<boolean> {
  const n = Math.max(2, Math.floor((end - start) / PROBE_SPACING));
  const probe = new Uint8Array(n * PROBE);
  for (let k = 0; k < n; k++) {
    const at = start + Math.floor(((2 * k + 1) * (end - start - PROBE)) / (2 * n));
    probe.set(data.subarray(at, at + PROBE), k * PROBE);
  }
  // zlib's default window and hash memory: a 4 KiB window with memLevel 2
  // ran at 14 MB/s on random data against 63 MB/s with the defaults
  const out = await deflateRaw(probe, { level: 1 });
  return out.length < probe.length * 0.99;
}

/** WebAssembly can be off (node --jitless): then zlib compresses everything. */
const HAS_WASM = typeof (globalThis as { WebAssembly?: unknown }).WebAssembly === 'object';
/** One byte in TEXT_STEP is looked at to tell text from binary data. */
const TEXT_STEP = 61;
/** Binary when at least this share of those bytes is neither printable ASCII nor tab, newline or carriage return. */
const BINARY_SHARE = 0.1;
/** Runs shorter than this stay with zlib (its dictionary matters more there). */
const LIBDEFLATE_MIN = 64 * 1024;
/** A run is repetitive when its middle 32 KiB shrink at least REPETITIVE_RATIO times at level 1. */
const REPEAT_PROBE = 32 * 1024;
const REPETITIVE_RATIO = 8;

/**
 * Whether libdeflate should compress data[start, end): binary (machine code,
 * data tables) and not highly repetitive. On Python sources and headers
 * libdeflate is 0.5-1% larger than zlib, on 40x-compressible data 13%
 * larger (no dictionary) and twice as slow; on machine code 1.5-4% smaller
 * and faster. Only the bytes decide, so the output stays deterministic.
 */
async function suitsLibdeflate(data: Uint8Array, start: number, end: number): Promise<boolean> {
  if (end - start < LIBDEFLATE_MIN || !HAS_WASM) return false;
  let binary = 0;
  let n = 0;
  for (let i = start; i < end; i += TEXT_STEP) {
    const b = data[i]!;
    n++;
    if (b >= 0x7f || (b < 0x20 && b !== 0x09 && b !== 0x0a && b !== 0x0d)) binary++;
  }
  if (binary < n * BINARY_SHARE) return false;
  const mid = start + ((end - start - REPEAT_PROBE) >> 1);
  const probe = await deflateRaw(data.subarray(mid, mid + REPEAT_PROBE), { level: 1 });
  return probe.length * REPETITIVE_RATIO > REPEAT_PROBE;
}

/** At most `n` holders at once; the others wait in order. */
class Slots {
  private waiting: Array<() => void> = [];
  constructor(private free: number) {}
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((go) => this.waiting.push(go));
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    }
  }
}

/** Compresses one run into a piece with libdeflate (libdeflateRaw, on a worker or the calling thread). */
type Compress = (data: Uint8Array, level: number, last: boolean) => Promise<Uint8Array>;

/**
 * One block as raw deflate that ends byte-aligned (sync flush) unless `last`.
 * Runs that look incompressible are stored, the rest is compressed at
 * `level` primed with the preceding 32 KiB. The output is assembled in one
 * buffer: every byte of the block is copied once.
 */
async function deflateBlock(
  block: Uint8Array,
  dict: Uint8Array | undefined,
  level: number,
  last: boolean,
  detect: boolean,
  viaLibdeflate: Compress,
  slots: Slots,
): Promise<Uint8Array> {
  const runs: Run[] =
    level > 0 && detect ? await classify(block) : [{ start: 0, end: block.length, store: level === 0 }];
  // a block compresses its runs one after another, each holding one of the `threads` slots
  const parts: Array<Uint8Array | undefined> = [];
  let size = 0;
  for (const [i, r] of runs.entries()) {
    if (r.store) {
      parts.push(undefined);
      size += storedSize(r.end - r.start);
      continue;
    }
    const finish = last && i === runs.length - 1;
    if (level > 0 && (await suitsLibdeflate(block, r.start, r.end))) {
      const data = block.subarray(r.start, r.end);
      const out = await slots.run(() => viaLibdeflate(data, level, finish));
      parts.push(out);
      size += out.length;
      continue;
    }
    const o: zlib.ZlibOptions = {
      level,
      memLevel: MEM_LEVEL,
      finishFlush: finish ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    // the preceding 32 KiB as dictionary, unless they are all stored (random)
    // data, where matches are unlikely and priming costs ~0.1 ms per run
    const prev = runs[i - 1];
    const d =
      r.start === 0
        ? dict
        : prev?.store && prev.end - prev.start >= DICT
          ? undefined
          : block.subarray(Math.max(0, r.start - DICT), r.start);
    if (d && d.length) o.dictionary = d;
    const out = await slots.run(() => deflateRaw(block.subarray(r.start, r.end), o));
    parts.push(out);
    size += out.length;
  }
  if (parts.length === 1 && parts[0]) return parts[0];
  const out = new Uint8Array(size);
  let o = 0;
  runs.forEach((r, i) => {
    const part = parts[i];
    if (part) {
      out.set(part, o);
      o += part.length;
    } else o = writeStored(out, o, block.subarray(r.start, r.end), last && i === runs.length - 1);
  });
  return out;
}

function gzipHeader(level: number): Uint8Array {
  // ID1 ID2 CM=8 FLG=0 MTIME=0 XFL OS=3 (Unix)
  return new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, level >= 9 ? 2 : level === 1 ? 4 : 0, 3]);
}

function checkOptions(opts: GzipOptions): { level: number; threads: number; blockSize: number } {
  const level = checkGzipLevel(opts);
  const threads = opts.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1)
    throw new UsageError('E_USAGE_GZIP_THREADS', `gzip threads must be a positive integer, got ${threads}`, {
      field: 'threads',
      actual: threads,
    });
  const blockSize = opts.blockSize ?? DEFAULT_BLOCK;
  if (!Number.isInteger(blockSize) || blockSize < 64 * 1024)
    throw new UsageError('E_USAGE_GZIP_BLOCK', `gzip block size must be at least 65536 bytes, got ${blockSize}`, {
      field: 'blockSize',
      actual: blockSize,
    });
  return { level, threads, blockSize };
}

/**
 * Runs for libdeflate compressed on the calling thread before the workers
 * start. An input of one block needs no worker; the busybox initramfs (two
 * blocks) was built in 0.14-0.15 s with 1 here, 0.16 s with 2 and 0.15-0.17
 * s with none (0.11-0.13 s with zlib alone, 3% larger).
 */
const RUNS_HERE = 1;

/** libdeflate on the calling thread, loaded on first use. */
const compressHere: Compress = async (data, level, last) =>
  (await import('./libdeflate.js')).libdeflateRaw(data, level, last);

/** Compress a byte stream into one gzip member, in parallel blocks (registered as the core's gzip encoder by the Node entry point). */
export async function* parallelGzip(source: ByteSource, opts: GzipOptions = {}): AsyncGenerator<Uint8Array> {
  const { level, threads, blockSize } = checkOptions(opts);
  const detect = opts.detectIncompressible ?? true;
  yield gzipHeader(level);
  let crc = 0;
  let total = 0;
  let block = new Uint8Array(blockSize);
  let fill = 0;
  let dict: Uint8Array | undefined;
  const pending: Array<Promise<Uint8Array>> = [];
  // the first RUNS_HERE runs for libdeflate are compressed here, the rest by the pool, which starts
  // when the next one comes; once the stream is over (or abandoned) none starts
  let here = 0;
  let pool: Promise<DeflatePool> | undefined;
  let over = false;
  const viaLibdeflate: Compress = async (data, l, last) => {
    if (over) throw new ToolError('E_TOOL_GZIP_WORKER', 'gzip worker: the stream was closed');
    if (here < RUNS_HERE) {
      here++;
      return compressHere(data, l, last);
    }
    pool ??= import('./gzip-pool.js').then((m) => new m.DeflatePool(threads));
    return (await pool).run(data, l, last);
  };
  // blocks in flight: twice the threads, so that when a run is done the next one is ready to start
  // while the main thread reads on; `threads` of them compress at once, with either engine
  const ahead = 2 * threads;
  const slots = new Slots(threads);
  const submit = (last: boolean) => {
    const data = block.subarray(0, fill);
    const p = deflateBlock(data, dict, level, last, detect, viaLibdeflate, slots);
    p.catch(() => {}); // awaited in order below; avoid an unhandled rejection meanwhile
    pending.push(p);
    dict = data.length >= DICT ? data.subarray(data.length - DICT) : undefined;
    // a block shorter than 32 KiB only happens last, so the dictionary is always a full window
    block = new Uint8Array(blockSize);
    fill = 0;
  };
  try {
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
          while (pending.length >= ahead) yield await pending.shift()!;
          submit(false);
        }
      }
    }
    while (pending.length >= ahead) yield await pending.shift()!;
    submit(true);
    while (pending.length) yield await pending.shift()!;
  } finally {
    // also when the consumer stops early or a block fails
    over = true;
    if (pool)
      await pool.then(
        (p) => p.close(),
        () => {},
      );
  }
  const trailer = new Uint8Array(8);
  const v = new DataView(trailer.buffer);
  v.setUint32(0, crc >>> 0, true);
  v.setUint32(4, total % 0x100000000, true);
  yield trailer;
}

/** gzip a byte array in parallel blocks (same output as parallelGzip). */
export async function parallelGzipBytes(data: Uint8Array, opts: GzipOptions = {}): Promise<Uint8Array> {
  return concatChunks(parallelGzip([data], opts));
}
