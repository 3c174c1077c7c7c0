/** Sequential output for writers that lay data out front to back (FAT file data, ISO 9660). */
import type { BlockDevice } from './device.js';

/**
 * Buffers writes to increasing offsets into large device writes; small gaps
 * (cluster or block slack) are zero-filled, larger ones are left unwritten
 * (a fresh device reads them as zeros). `reserve` hands out a region of the
 * buffer to fill in place, so file contents are read straight into it.
 */
export class SequentialWriter {
  private buf: Uint8Array;
  private start = -1;
  private len = 0;
  constructor(
    private dev: BlockDevice,
    cap = 8 << 20,
  ) {
    this.buf = new Uint8Array(cap);
  }
  write(off: number, data: Uint8Array): void {
    const end = this.start + this.len;
    if (this.start >= 0 && off >= end && off - end < 1 << 20 && off + data.length - this.start <= this.buf.length) {
      this.buf.fill(0, this.len, off - this.start);
      this.buf.set(data, off - this.start);
      this.len = off + data.length - this.start;
      return;
    }
    this.flush();
    if (data.length >= this.buf.length / 2) {
      this.dev.writeAt(off, data);
      return;
    }
    this.start = off;
    this.buf.set(data, 0);
    this.len = data.length;
  }
  /** Largest region reserve() hands out. */
  get maxReserve(): number {
    return this.buf.length >>> 1;
  }
  /** A region of the buffer that will be written at `off` (the caller fills all of it); len <= maxReserve. */
  reserve(off: number, len: number): Uint8Array {
    const end = this.start + this.len;
    if (!(this.start >= 0 && off >= end && off - end < 1 << 20 && off + len - this.start <= this.buf.length)) {
      this.flush();
      this.start = off;
    }
    this.buf.fill(0, this.len, off - this.start);
    this.len = off + len - this.start;
    return this.buf.subarray(off - this.start, this.len);
  }
  flush(): void {
    if (this.start >= 0 && this.len > 0) this.dev.writeAt(this.start, this.buf.subarray(0, this.len));
    this.start = -1;
    this.len = 0;
  }
}
