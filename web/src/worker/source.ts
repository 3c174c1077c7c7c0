/**
 * Random access to a File or Blob for code that reads synchronously (the
 * tar reader, every filesystem reader): a dedicated worker can read any
 * slice of a Blob at once with FileReaderSync, so a 1 GiB tarball or image
 * is read in place, never loaded whole. Small reads (tar headers, inodes,
 * directory blocks) go through a few cached 1 MiB windows; large ones
 * (file contents) are read directly.
 */
import { checkRange, type BlockDevice } from '../../../src/core/io/device.js';
import { UsageError } from '../../../src/core/errors.js';

/** Reads bytes [start, end) of the underlying object; must return exactly end - start bytes. */
export type RangeReader = (start: number, end: number) => Uint8Array;

export const WINDOW = 1 << 20;
const WINDOWS = 8;

/** A read-only BlockDevice (and TarSource) over a range reader, with a small LRU of windows. */
export class RandomSource implements BlockDevice {
  private cache = new Map<number, Uint8Array>();
  /** Reads that reached the underlying reader (for tests and the benchmark). */
  reads = 0;

  constructor(
    readonly size: number,
    private readonly read: RangeReader,
  ) {}

  private window(index: number): Uint8Array {
    let w = this.cache.get(index);
    if (w) {
      this.cache.delete(index);
    } else {
      const start = index * WINDOW;
      w = this.fetch(start, Math.min(this.size, start + WINDOW));
      if (this.cache.size >= WINDOWS) this.cache.delete(this.cache.keys().next().value!);
    }
    this.cache.set(index, w);
    return w;
  }

  private fetch(start: number, end: number): Uint8Array {
    this.reads++;
    const b = this.read(start, end);
    if (b.length !== end - start)
      throw new UsageError(
        'E_USAGE_SOURCE_CHANGED',
        `the file changed while it was read (${b.length} bytes at ${start})`,
        {
          offset: start,
          expected: end - start,
          actual: b.length,
        },
      );
    return b;
  }

  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    if (target.length >= WINDOW) {
      target.set(this.fetch(offset, offset + target.length));
      return;
    }
    let done = 0;
    while (done < target.length) {
      const pos = offset + done;
      const i = Math.floor(pos / WINDOW);
      const at = pos - i * WINDOW;
      const n = Math.min(target.length - done, WINDOW - at);
      target.set(this.window(i).subarray(at, at + n), done);
      done += n;
    }
  }

  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }

  writeAt(): void {
    throw new UsageError('E_USAGE_READ_ONLY', 'this image is opened read-only');
  }

  flush(): void {}
}
