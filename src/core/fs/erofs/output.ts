/**
 * Sequential output onto a BlockDevice through a 1 MiB buffer: the EROFS
 * writer produces the image front to back, block after block, so a host file
 * sees few large writes. File data is read straight into the buffer.
 */
import type { BlockDevice } from '../../io/device.js';

const BUFFER = 1 << 20;

export class SeqWriter {
  private readonly buf = new Uint8Array(BUFFER);
  private fill = 0;
  /** Bytes handed to the device so far. */
  private flushed = 0;

  constructor(private readonly dev: BlockDevice) {}

  /** Bytes written so far (buffered ones included). */
  get pos(): number {
    return this.flushed + this.fill;
  }

  write(bytes: Uint8Array): void {
    if (bytes.length >= BUFFER / 2) {
      this.flush();
      this.dev.writeAt(this.flushed, bytes);
      this.flushed += bytes.length;
      return;
    }
    if (this.fill + bytes.length > BUFFER) this.flush();
    this.buf.set(bytes, this.fill);
    this.fill += bytes.length;
  }

  /** Append `n` zero bytes. */
  zeros(n: number): void {
    while (n > 0) {
      const room = this.room(n);
      room.fill(0);
      this.advance(room.length);
      n -= room.length;
    }
  }

  /** Up to `n` bytes of buffer space to fill in place; follow with advance(). */
  room(n: number): Uint8Array {
    if (this.fill === BUFFER) this.flush();
    return this.buf.subarray(this.fill, this.fill + Math.min(n, BUFFER - this.fill));
  }

  advance(n: number): void {
    this.fill += n;
  }

  flush(): void {
    if (this.fill === 0) return;
    this.dev.writeAt(this.flushed, this.buf.subarray(0, this.fill));
    this.flushed += this.fill;
    this.fill = 0;
  }
}
