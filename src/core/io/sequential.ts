/** Sequential output for writers that lay data out front to back (FAT file data, ISO 9660). */
import type { BlockDevice } from './device.js';

/**
 * Buffers writes to increasing offsets into large device writes; small gaps
 * (cluster or block slack) are zero-filled, larger ones are left unwritten
 * (a fresh device reads them as zeros). `reserve` hands out a region of the
 * buffer to fill in place, so file contents are read straight into it.
 */
export class SequentialWriter {
  /**
   * The buffer being filled: one the device lends (handed back at each
   * flush, written without a copy) when it has one, else our own.
   */
  private buf: Uint8Array | undefined;
  private lent = false;
  private own: Uint8Array | undefined;
  private start = -1;
  private len = 0;
  constructor(
    private dev: BlockDevice,
    private readonly cap = 8 << 20,
  ) {}
  private get buffer(): Uint8Array {
    if (this.buf) return this.buf;
    const lent = this.dev.writeLent ? this.dev.lend?.(this.cap) : undefined;
    this.lent = lent !== undefined;
    return (this.buf = lent ?? (this.own ??= new Uint8Array(this.cap)));
  }
  write(off: number, data: Uint8Array): void {
    const end = this.start + this.len;
    if (this.start >= 0 && off >= end && off - end < 1 << 20 && off + data.length - this.start <= this.cap) {
      const buf = this.buffer;
      buf.fill(0, this.len, off - this.start);
      buf.set(data, off - this.start);
      this.len = off + data.length - this.start;
      return;
    }
    this.flush();
    if (data.length >= this.cap / 2) {
      this.dev.writeAt(off, data);
      return;
    }
    this.start = off;
    this.buffer.set(data, 0);
    this.len = data.length;
  }
  /** Largest region reserve() hands out. */
  get maxReserve(): number {
    return this.cap >>> 1;
  }
  /** A region of the buffer that will be written at `off` (the caller fills all of it); len <= maxReserve. */
  reserve(off: number, len: number): Uint8Array {
    const end = this.start + this.len;
    if (!(this.start >= 0 && off >= end && off - end < 1 << 20 && off + len - this.start <= this.cap)) {
      this.flush();
      this.start = off;
    }
    const buf = this.buffer;
    buf.fill(0, this.len, off - this.start);
    this.len = off + len - this.start;
    return buf.subarray(off - this.start, this.len);
  }
  /** Write what is buffered (a lent buffer goes back to the device, which may still be writing it). */
  flush(): void {
    if (this.buf && this.lent) this.dev.writeLent!(Math.max(this.start, 0), this.buf, this.start >= 0 ? this.len : 0);
    else if (this.buf && this.start >= 0 && this.len > 0) this.dev.writeAt(this.start, this.buf.subarray(0, this.len));
    this.buf = undefined;
    this.start = -1;
    this.len = 0;
  }
}
