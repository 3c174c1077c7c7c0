/**
 * The pieces every container writer shares: a sparse map from virtual units
 * (clusters, grains, blocks) to where they lie in the container, extent
 * lists, and the scan that reads a source device's data extents and yields
 * its non-zero units in order.
 */
import { UsageError } from '../errors.js';
import { isZero, type BlockDevice } from '../io/device.js';
import type { Progress } from '../progress.js';
import type { AsyncReadable, ContainerTarget, Extent } from './types.js';

const PAGE = 4096;

/**
 * Virtual unit -> host byte offset (0 = not stored), with an optional 16-bit
 * companion per unit (qcow2 keeps the compressed length there). Pages of
 * 4096 units are allocated on first use: 32 KiB per 4096 stored units.
 */
export class UnitMap {
  private readonly pages: Array<Float64Array | undefined> = [];
  private readonly aux: Array<Uint16Array | undefined> = [];
  count = 0;
  constructor(readonly units: number) {}

  get(u: number): number {
    const p = this.pages[Math.floor(u / PAGE)];
    return p ? p[u % PAGE]! : 0;
  }

  getAux(u: number): number {
    const p = this.aux[Math.floor(u / PAGE)];
    return p ? p[u % PAGE]! : 0;
  }

  set(u: number, host: number, aux = 0): void {
    const k = Math.floor(u / PAGE);
    const p = (this.pages[k] ??= new Float64Array(PAGE));
    if (p[u % PAGE] === 0) this.count++;
    p[u % PAGE] = host;
    if (aux) (this.aux[k] ??= new Uint16Array(PAGE))[u % PAGE] = aux;
  }

  /** Stored units in ascending unit order. */
  *entries(from = 0, to = this.units): Generator<[unit: number, host: number]> {
    for (let k = Math.floor(from / PAGE); k * PAGE < to; k++) {
      const p = this.pages[k];
      if (!p) continue;
      const lo = Math.max(from, k * PAGE);
      const hi = Math.min(to, (k + 1) * PAGE);
      for (let u = lo; u < hi; u++) if (p[u % PAGE] !== 0) yield [u, p[u % PAGE]!];
    }
  }

  /** Is any unit in [from, to) stored? */
  any(from: number, to: number): boolean {
    for (const _ of this.entries(from, to)) return true;
    return false;
  }

  /** The virtual byte ranges of stored units, merged, clipped to `size`. */
  extents(unitSize: number, size: number): Extent[] {
    const out: Extent[] = [];
    for (const [u] of this.entries()) {
      const offset = u * unitSize;
      const length = Math.min(unitSize, size - offset);
      const last = out[out.length - 1];
      if (last && last.offset + last.length === offset) last.length += length;
      else out.push({ offset, length });
    }
    return out;
  }
}

/** Sort, clip to [0, size) and merge a caller's extent list; undefined means the whole device. */
export function normalizeExtents(extents: readonly Extent[] | undefined, size: number): Extent[] {
  if (!extents) return size > 0 ? [{ offset: 0, length: size }] : [];
  for (const e of extents) {
    if (!Number.isSafeInteger(e.offset) || !Number.isSafeInteger(e.length) || e.offset < 0 || e.length < 0) {
      throw new UsageError(
        'E_USAGE_EXTENT',
        `extent {offset: ${e.offset}, length: ${e.length}} is not a pair of non-negative byte counts`,
        { offset: e.offset },
      );
    }
  }
  const sorted = extents
    .filter((e) => e.length > 0 && e.offset < size)
    .map((e) => ({ offset: e.offset, length: Math.min(e.length, size - e.offset) }));
  sorted.sort((a, b) => a.offset - b.offset);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last && e.offset <= last.offset + last.length)
      last.length = Math.max(last.length, e.offset + e.length - last.offset);
    else out.push({ ...e });
  }
  return out;
}

/** Unit ranges [first, end) covering the extents, merged. */
export function unitRanges(extents: readonly Extent[], unitSize: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const e of extents) {
    const a = Math.floor(e.offset / unitSize);
    const b = Math.ceil((e.offset + e.length) / unitSize);
    const last = out[out.length - 1];
    if (last && a <= last[1]) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

export interface DataRun {
  /** First unit of the run. */
  unit: number;
  /**
   * Whole units (the device's last unit zero-padded), in a buffer the scan
   * reuses: valid until the scan continues, or, with a WriteQueue, until the
   * writes queued under `tag` have settled.
   */
  data: Uint8Array;
  /** The scan buffer holding `data` (a WriteQueue tag). */
  tag: number;
}

export interface ScanOptions {
  /** Largest read, in bytes (default 4 MiB). */
  batch?: number;
  /** Scan buffers when reading ahead or writing asynchronously (default 6, at least 3): batches in flight. */
  buffers?: number;
  progress?: Progress;
  /** The queue the yielded data is written through: buffers rotate, and are refilled once their writes settled. */
  queue?: WriteQueue;
}

/**
 * Data writes of a streaming writer: through `writeAtAsync` when the target
 * has it (several in flight, overlapping the reads of the next data), else
 * synchronous. Writes are grouped by tag (the scan buffer they come from) so
 * a buffer is refilled only once its writes have settled; `drain` before
 * writing the tables. A failed write rejects `settle`/`drain`.
 */
export class WriteQueue {
  private readonly pending = new Map<number, Array<Promise<void>>>();
  constructor(private readonly target: ContainerTarget) {}

  get async(): boolean {
    return this.target.writeAtAsync !== undefined;
  }

  /** Write `data` at `offset`; with an async target it must stay untouched until `settle(tag)`. */
  write(offset: number, data: Uint8Array, tag = -1): void {
    if (!this.target.writeAtAsync) {
      this.target.writeAt(offset, data);
      return;
    }
    const p = this.target.writeAtAsync(offset, data);
    p.catch(() => {}); // awaited by settle/drain, which rethrow
    const list = this.pending.get(tag);
    if (list) list.push(p);
    else this.pending.set(tag, [p]);
  }

  async settle(tag: number): Promise<void> {
    const list = this.pending.get(tag);
    if (!list) return;
    this.pending.delete(tag);
    await Promise.all(list);
  }

  async drain(): Promise<void> {
    const all = [...this.pending.values()].flat();
    this.pending.clear();
    await Promise.all(all);
  }
}

/** Fill `buf` from `src` at `offset`; bytes past the device end are zeros. */
export function readFrom(src: BlockDevice, offset: number, buf: Uint8Array): void {
  const n = Math.max(0, Math.min(buf.length, src.size - offset));
  if (n > 0) {
    const part = n === buf.length ? buf : buf.subarray(0, n);
    if (src.readInto) src.readInto(offset, part);
    else part.set(src.readAt(offset, n));
  }
  if (n < buf.length) buf.fill(0, n);
}

/** Fill `buf` from `src` at `offset` on the source's own threads; bytes past the device end are zeros. */
async function readFromAsync(src: BlockDevice & AsyncReadable, offset: number, buf: Uint8Array): Promise<void> {
  const n = Math.max(0, Math.min(buf.length, src.size - offset));
  if (n < buf.length) buf.fill(0, n);
  if (n > 0) await src.readIntoAsync(offset, n === buf.length ? buf : buf.subarray(0, n));
}

const canReadAsync = (src: BlockDevice): src is BlockDevice & AsyncReadable =>
  typeof (src as Partial<AsyncReadable>).readIntoAsync === 'function';

export interface Batch {
  /** First unit read. */
  unit: number;
  /** The units' bytes (the device's last unit zero-padded); reused like DataRun.data. */
  data: Uint8Array;
  tag: number;
}

/**
 * Read the units the extents touch, in ascending order, in batches of up to
 * `batch` bytes. A source that reads asynchronously is read ahead, several
 * batches in flight, while the consumer's writes of earlier batches proceed;
 * a buffer is refilled only when the writes queued under its tag settled.
 */
export async function* scanBatches(
  src: BlockDevice,
  extents: readonly Extent[],
  unitSize: number,
  o: ScanOptions = {},
): AsyncGenerator<Batch> {
  const per = Math.max(1, Math.floor((o.batch ?? 4 << 20) / unitSize));
  const ahead = canReadAsync(src);
  const K = ahead || o.queue?.async ? Math.max(3, o.buffers ?? 6) : 1;
  // batches being read ahead: never the buffer the consumer holds, never one still being written
  const depth = ahead ? K - 2 : 0;
  const bufs = Array.from({ length: K }, () => new Uint8Array(per * unitSize));
  const ranges = (function* () {
    for (const [first, end] of unitRanges(extents, unitSize))
      for (let u = first; u < end; u += per) yield [u, Math.min(per, end - u)] as const;
  })();
  const pending: Array<{ batch: Batch; done: Promise<void> }> = [];
  let seq = 0;
  const issue = async (): Promise<boolean> => {
    const next = ranges.next();
    if (next.done) return false;
    const [u, n] = next.value;
    const tag = seq++ % K;
    await o.queue?.settle(tag);
    const data = bufs[tag]!.subarray(0, n * unitSize);
    const done = ahead ? readFromAsync(src, u * unitSize, data) : Promise.resolve(readFrom(src, u * unitSize, data));
    done.catch(() => {}); // awaited below
    pending.push({ batch: { unit: u, data, tag }, done });
    return true;
  };
  for (;;) {
    while (pending.length <= depth && (await issue()));
    const b = pending.shift();
    if (!b) return;
    await b.done;
    o.progress?.tick(Math.max(0, Math.min(b.batch.data.length, src.size - b.batch.unit * unitSize)));
    yield b.batch;
  }
}

/**
 * The runs of consecutive units that are not all zeros, in ascending order,
 * of the units the extents touch. The bytes live in a scan buffer (see
 * DataRun): copy what must outlive it.
 */
export async function* dataRuns(
  src: BlockDevice,
  extents: readonly Extent[],
  unitSize: number,
  o: ScanOptions = {},
): AsyncGenerator<DataRun> {
  for await (const { unit, data, tag } of scanBatches(src, extents, unitSize, o)) {
    const n = data.length / unitSize;
    let runStart = -1;
    for (let i = 0; i <= n; i++) {
      const zero = i === n || isZero(data, i * unitSize, (i + 1) * unitSize);
      if (!zero && runStart < 0) runStart = i;
      if (zero && runStart >= 0) {
        yield { unit: unit + runStart, data: data.subarray(runStart * unitSize, i * unitSize), tag };
        runStart = -1;
      }
    }
  }
}

/** Write only the parts of `data` that are not zeros, in `grain`-sized pieces (the rest stays a hole). */
export function writeNonZero(queue: WriteQueue, offset: number, data: Uint8Array, tag: number, grain = 4096): void {
  let runStart = -1;
  for (let i = 0; i <= data.length; i += grain) {
    const zero = i >= data.length || isZero(data, i, Math.min(data.length, i + grain));
    if (!zero && runStart < 0) runStart = i;
    if (zero && runStart >= 0) {
      queue.write(offset + runStart, data.subarray(runStart, Math.min(i, data.length)), tag);
      runStart = -1;
    }
  }
}

/** Container writers take whole sectors: a positive multiple of 512 bytes. */
export function checkVirtualSize(size: number, format: string): void {
  if (!Number.isSafeInteger(size) || size <= 0 || size % 512 !== 0) {
    throw new UsageError(
      'E_USAGE_SIZE',
      `${format}: the virtual disk size must be a positive multiple of 512 bytes, got ${size}`,
      { field: 'size', actual: size },
    );
  }
}

export const alignUp = (n: number, a: number): number => Math.ceil(n / a) * a;
export const isPowerOfTwo = (n: number): boolean => Number.isSafeInteger(n) && n > 0 && (n & (n - 1)) === 0;

/** A growable in-memory target (tests, small images). */
export class MemoryTarget implements ContainerTarget {
  private buf = new Uint8Array(64 * 1024);
  size = 0;
  writeAt(offset: number, data: Uint8Array): void {
    const end = offset + data.length;
    if (end > this.buf.length) {
      const next = new Uint8Array(Math.max(end, this.buf.length * 2));
      next.set(this.buf.subarray(0, this.size));
      this.buf = next;
    }
    this.buf.set(data, offset);
    this.size = Math.max(this.size, end);
  }
  readInto(offset: number, target: Uint8Array): void {
    const n = Math.max(0, Math.min(target.length, this.size - offset));
    if (n > 0) target.set(this.buf.subarray(offset, offset + n));
    target.fill(0, Math.max(0, n));
  }
  setSize(size: number): void {
    if (size > this.size) this.writeAt(size - 1, new Uint8Array(1));
  }
  /** The bytes written so far (a view). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.size);
  }
}
