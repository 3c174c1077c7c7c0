/**
 * Lazy contents of tar members: a window of the source (regular files) or
 * a sparse file's data segments laid out over zeros. Small objects with
 * prototype methods (three or four fields per file, no closures), since a
 * tree holds one per file.
 */
import type { Content } from '../../tree/types.js';
import type { TarSource } from './read.js';

const CHUNK = 1 << 20;

function readSource(src: TarSource, at: number, target: Uint8Array): void {
  if (src.readInto) src.readInto(at, target);
  else target.set(src.readAt(at, target.length));
}

/** What both kinds of member content share: whole reads and the stream, on top of readInto (no fields). */
abstract class TarContent implements Content {
  abstract readonly size: number;
  abstract readInto(pos: number, target: Uint8Array): number;
  readAt(pos: number, length: number): Uint8Array {
    const out = new Uint8Array(Math.max(0, Math.min(length, this.size - pos)));
    this.readInto(pos, out);
    return out;
  }
  async *stream(): AsyncGenerator<Uint8Array> {
    for (let p = 0; p < this.size; p += CHUNK) yield this.readAt(p, CHUNK);
  }
}

/** Bytes [offset, offset + size) of the source. */
export class TarFileContent extends TarContent {
  constructor(
    private readonly src: TarSource,
    readonly offset: number,
    readonly size: number,
  ) {
    super();
  }
  readInto(pos: number, target: Uint8Array): number {
    const n = Math.max(0, Math.min(target.length, this.size - pos));
    if (n > 0) readSource(this.src, this.offset + pos, n === target.length ? target : target.subarray(0, n));
    return n;
  }
}

/**
 * A sparse file: `segs` are [file offset, length] pairs (sorted, disjoint),
 * stored one after another from `offset` in the source; the rest reads as zeros.
 */
export class TarSparseContent extends TarContent {
  /** Source offset of each segment's data. */
  private readonly stored: number[];
  constructor(
    private readonly src: TarSource,
    offset: number,
    readonly size: number,
    private readonly segs: ReadonlyArray<readonly [number, number]>,
  ) {
    super();
    this.stored = [];
    let at = offset;
    for (const [, n] of segs) {
      this.stored.push(at);
      at += n;
    }
  }
  dataRanges(): Array<[number, number]> {
    return this.segs.map(([o, n]) => [o, o + n] as [number, number]);
  }
  readInto(pos: number, target: Uint8Array): number {
    const n = Math.max(0, Math.min(target.length, this.size - pos));
    const end = pos + n;
    target.fill(0, 0, n);
    // first segment that ends after pos
    let lo = 0,
      hi = this.segs.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const [o, l] = this.segs[mid]!;
      if (o + l <= pos) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.segs.length; i++) {
      const [o, l] = this.segs[i]!;
      if (o >= end) break;
      const s = Math.max(pos, o),
        e = Math.min(end, o + l);
      if (s < e) readSource(this.src, this.stored[i]! + (s - o), target.subarray(s - pos, e - pos));
    }
    return n;
  }
}

/** A window of a source as a source (a member of an outer tar, a layer inside a docker-archive). */
export function windowSource(src: TarSource, offset: number, size: number): TarSource {
  return {
    size,
    readAt: (o, n) => src.readAt(offset + o, n),
    readInto: (o, t) => readSource(src, offset + o, t),
  };
}
