/**
 * Reader, step four: file contents. A regular file's Content reads its
 * block map on first use and serves readAt/stream/dataRanges straight from
 * the device (holes and unwritten extents as zeros); inline-data files are
 * served from the inode.
 */
import type { BlockDevice } from '../../io/device.js';
import type { Content } from '../../tree/types.js';
import { findRun, inodeRuns, type MapSource, type Run } from './readmap.js';

const STREAM_CHUNK = 1 << 20;

/** Read [pos, end) of a run-mapped file: fresh buffer, holes and unwritten extents as zeros. */
export function readRuns(
  fs: { blockSize: number; dev: BlockDevice },
  runs: Run[],
  pos: number,
  end: number,
): Uint8Array {
  const bs = fs.blockSize;
  let i = findRun(runs, Math.floor(pos / bs));
  const first = runs[i];
  if (first && !first.unwritten && first.logical * bs <= pos && (first.logical + first.length) * bs >= end) {
    return fs.dev.readAt(first.physical * bs + (pos - first.logical * bs), end - pos);
  }
  const out = new Uint8Array(end - pos);
  for (; i < runs.length; i++) {
    const r = runs[i]!;
    const rs = r.logical * bs;
    if (rs >= end) break;
    if (r.unwritten) continue;
    const s = Math.max(pos, rs);
    const e = Math.min(end, (r.logical + r.length) * bs);
    if (s < e) out.set(fs.dev.readAt(r.physical * bs + (s - rs), e - s), s - pos);
  }
  return out;
}

/** The Content of an inline-data file (its bytes are already in memory). */
export function inlineContent(data: Uint8Array): Content {
  return {
    size: data.length,
    async *stream() {
      if (data.length) yield data.slice();
    },
    readAt: (p, l) => data.slice(p, Math.min(data.length, p + l)),
    dataRanges: () => (data.length ? [[0, data.length]] : []),
  };
}

/** What file contents need from the reader. */
export interface ContentSource extends MapSource {
  readonly dev: BlockDevice;
}

/** Lazy content of an extent- or block-mapped file. The block map is read on first use. */
export class Ext4Content implements Content {
  private map: Run[] | undefined;
  constructor(
    private readonly fs: ContentSource,
    private readonly ino: number,
    private readonly flags: number,
    private readonly iBlock: Uint8Array,
    private readonly seed: number,
    readonly size: number,
  ) {}

  private runs(): Run[] {
    this.map ??= inodeRuns(this.fs, this.ino, this.flags, this.iBlock, this.seed, this.size);
    return this.map;
  }

  readAt(position: number, length: number): Uint8Array {
    const end = Math.min(this.size, position + length);
    if (!(end > position) || position < 0) return new Uint8Array(0);
    return readRuns(this.fs, this.runs(), position, end);
  }

  async *stream(): AsyncGenerator<Uint8Array> {
    const runs = this.runs();
    const bs = this.fs.blockSize;
    const size = this.size;
    let pos = 0;
    let i = 0;
    while (pos < size) {
      while (i < runs.length && (runs[i]!.logical + runs[i]!.length) * bs <= pos) i++;
      const r = runs[i];
      const rs = r ? r.logical * bs : size;
      if (!r || r.unwritten || rs > pos) {
        // a hole (or unwritten extent) up to the next data
        const holeEnd = Math.min(size, !r ? size : r.unwritten ? (r.logical + r.length) * bs : rs, pos + STREAM_CHUNK);
        yield new Uint8Array(holeEnd - pos);
        pos = holeEnd;
        continue;
      }
      const e = Math.min(size, (r.logical + r.length) * bs, pos + STREAM_CHUNK);
      yield this.fs.dev.readAt(r.physical * bs + (pos - rs), e - pos);
      pos = e;
    }
  }

  dataRanges(): Array<[number, number]> {
    const bs = this.fs.blockSize;
    const out: Array<[number, number]> = [];
    for (const r of this.runs()) {
      if (r.unwritten) continue;
      const s = r.logical * bs;
      const e = Math.min(this.size, (r.logical + r.length) * bs);
      if (s >= e) continue;
      const last = out[out.length - 1];
      if (last && last[1] === s) last[1] = e;
      else out.push([s, e]);
    }
    return out;
  }
}
