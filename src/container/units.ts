/**
 * The pieces every container writer shares: a sparse map from virtual units
 * (clusters, grains, blocks) to where they lie in the container, extent
 * lists, and the scan that reads a source device's data extents and yields
 * its non-zero units in order.
 */
import { UsageError } from '../errors.js';
import { isZero, type BlockDevice } from '../io/device.js';
import type { Progress } from '../progress.js';
import type { ContainerTarget, Extent } from './types.js';

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
      throw new UsageError('E_USAGE_EXTENT', `extent {offset: ${e.offset}, length: ${e.length}} is not a pair of non-negative byte counts`, { offset: e.offset });
    }
  }
  const sorted = extents.filter((e) => e.length > 0 && e.offset < size).map((e) => ({ offset: e.offset, length: Math.min(e.length, size - e.offset) }));
  sorted.sort((a, b) => a.offset - b.offset);
  const out: Extent[] = [];
  for (const e of sorted) {
    const last = out[out.length - 1];
    if (last && e.offset <= last.offset + last.length) last.length = Math.max(last.length, e.offset + e.length - last.offset);
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
  /** Whole units (the device's last unit zero-padded). Valid only until the scan continues. */
  data: Uint8Array;
}

export interface ScanOptions {
  /** Largest read, in bytes (default 4 MiB). */
  batch?: number;
  progress?: Progress;
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

/**
 * Read the units of `src` that the extents touch and yield the runs of
 * consecutive units that are not all zeros, in ascending order. The yielded
 * bytes live in a buffer reused by the next step: copy what must outlive it.
 */
export function* dataRuns(src: BlockDevice, extents: readonly Extent[], unitSize: number, o: ScanOptions = {}): Generator<DataRun> {
  const per = Math.max(1, Math.floor((o.batch ?? 4 << 20) / unitSize));
  const buf = new Uint8Array(per * unitSize);
  for (const [first, end] of unitRanges(extents, unitSize)) {
    for (let u = first; u < end; u += per) {
      const n = Math.min(per, end - u);
      const view = buf.subarray(0, n * unitSize);
      readFrom(src, u * unitSize, view);
      o.progress?.tick(Math.max(0, Math.min(view.length, src.size - u * unitSize)));
      let runStart = -1;
      for (let i = 0; i <= n; i++) {
        const zero = i === n || isZero(view, i * unitSize, (i + 1) * unitSize);
        if (!zero && runStart < 0) runStart = i;
        if (zero && runStart >= 0) {
          yield { unit: u + runStart, data: view.subarray(runStart * unitSize, i * unitSize) };
          runStart = -1;
        }
      }
    }
  }
}

/** Write only the parts of `data` that are not zeros, in `grain`-sized pieces (the rest stays a hole). */
export function writeNonZero(target: ContainerTarget, offset: number, data: Uint8Array, grain = 4096): void {
  let runStart = -1;
  for (let i = 0; i <= data.length; i += grain) {
    const zero = i >= data.length || isZero(data, i, Math.min(data.length, i + grain));
    if (!zero && runStart < 0) runStart = i;
    if (zero && runStart >= 0) {
      target.writeAt(offset + runStart, data.subarray(runStart, Math.min(i, data.length)));
      runStart = -1;
    }
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
