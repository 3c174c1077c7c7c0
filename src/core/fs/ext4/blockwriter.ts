/**
 * Buffered block output for the writer: consecutive blocks are gathered
 * into large sequential device writes (8 MiB by default), and file data can
 * be read straight into the buffer (reserve/commit) without a copy.
 */
import type { BlockDevice } from '../../io/device.js';

/** Buffers contiguous block writes into large sequential device writes. */
export class BlockWriter {
  private buf: Uint8Array;
  private start = -1;
  private n = 0;
  bytes = 0;
  constructor(
    private dev: BlockDevice,
    private B: number,
    private base: number,
    cap = 8 << 20,
  ) {
    this.buf = new Uint8Array(Math.max(B, cap - (cap % B)));
  }
  /** Queue one block (data shorter than a block is zero-padded). */
  put(blk: number, data: Uint8Array, start = 0, end = data.length): void {
    const B = this.B;
    if (this.start < 0 || blk !== this.start + this.n || (this.n + 1) * B > this.buf.length) {
      this.flush();
      this.start = blk;
    }
    const off = this.n * B;
    const len = end - start;
    this.buf.set(len === data.length && start === 0 ? data : data.subarray(start, end), off);
    if (len < B) this.buf.fill(0, off + len, off + B);
    this.n++;
  }
  /**
   * Room for `k` blocks that continue the queued run at block `blk`
   * (flushing first when they would not), to be filled in place in `buffer`
   * and then `commit`ted: their byte offset there, or -1 when k blocks
   * exceed the buffer.
   */
  reserve(blk: number, k: number): number {
    const B = this.B;
    if (k * B > this.buf.length) return -1;
    if (this.start < 0 || blk !== this.start + this.n || (this.n + k) * B > this.buf.length) {
      this.flush();
      this.start = blk;
    }
    return this.n * B;
  }
  /** The buffer `reserve` gives offsets into. */
  get buffer(): Uint8Array {
    return this.buf;
  }
  commit(k: number): void {
    this.n += k;
  }
  flush(): void {
    if (this.n === 0) return;
    const len = this.n * this.B;
    this.dev.writeAt(this.base + this.start * this.B, this.buf.subarray(0, len));
    this.bytes += len;
    this.n = 0;
    this.start = -1;
  }
}
