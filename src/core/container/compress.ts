/**
 * Compression for containers: qcow2 clusters are raw deflate (RFC 1951),
 * VMDK streamOptimized grains are zlib streams (RFC 1950). The core takes a
 * small `Compressor`; the default runs fflate in this thread, the Node side
 * (file-node.ts) runs node:zlib on libuv's thread pool so both cores
 * work. `orderedMap` keeps `parallelism` units in flight and hands results
 * back in input order, so the output never depends on timing. fflate is
 * imported when the default compressor first runs; the readers' inflate is
 * decompress.ts.
 */

export type Codec = 'deflate-raw' | 'zlib';

export interface Compressor {
  /** How many `compress` calls are worth running at once (1 for a synchronous engine). */
  readonly parallelism: number;
  compress(data: Uint8Array, codec: Codec, level: number): Uint8Array | Promise<Uint8Array>;
}

type Level = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
const clampLevel = (l: number): Level => Math.max(0, Math.min(9, Math.round(l))) as Level;

/** fflate, in this thread: pure, works anywhere. */
export const fflateCompressor: Compressor = {
  parallelism: 1,
  async compress(data, codec, level) {
    const { deflateSync, zlibSync } = await import('fflate');
    const o = { level: clampLevel(level) };
    return codec === 'zlib' ? zlibSync(data, o) : deflateSync(data, o);
  },
};

const SAMPLES = 1 << 14;
/** Sampled order-0 entropy at or above which a unit is not worth compressing (random data measures ~7.99). */
export const INCOMPRESSIBLE_BITS = 7.9;

/**
 * Does `data` look like random or already-compressed bytes? Order-0 byte
 * entropy over up to 16,384 evenly spaced bytes (~20 µs for 64 KiB).
 * Deflate gains well under 1% on such data yet costs as much time as on
 * text, so the writers store these units without trying (qcow2) or as
 * stored deflate blocks (VMDK stream). Entropy cannot see long repeats: a
 * unit made of one random kilobyte repeated is stored too.
 */
export function looksIncompressible(data: Uint8Array): boolean {
  const step = Math.max(1, Math.floor(data.length / SAMPLES));
  const counts = new Uint32Array(256);
  let n = 0;
  for (let i = 0; i < data.length; i += step, n++) counts[data[i]!]!++;
  if (n < 256) return false;
  let sum = 0;
  // 256 logarithms per unit: a precomputed table of them cost ~6 MB of memory at start-up
  for (let b = 0; b < 256; b++) sum += counts[b]! * Math.log2(counts[b]! || 1);
  const bits = Math.log2(n) - sum / n;
  return bits >= INCOMPRESSIBLE_BITS;
}

/**
 * Map `items` through `fn` with up to `parallelism` calls in flight, yielding
 * results in input order. `fn` may be synchronous.
 */
export async function* orderedMap<T, R>(
  items: Iterable<T> | AsyncIterable<T>,
  fn: (item: T) => R | Promise<R>,
  parallelism: number,
): AsyncGenerator<R> {
  const queue: Array<Promise<R>> = [];
  const depth = Math.max(1, parallelism) * 2;
  for await (const item of items) {
    const p = Promise.resolve().then(() => fn(item));
    p.catch(() => {}); // awaited below, in order; this only keeps an early failure from being reported as unhandled
    queue.push(p);
    if (queue.length >= depth) yield await queue.shift()!;
  }
  while (queue.length) yield await queue.shift()!;
}
