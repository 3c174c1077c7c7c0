/**
 * Where a squashfs image goes. squashfs is written front to back: the data
 * blocks as files are read, then the tables; only the superblock at offset
 * 0 is written last, once every table start is known. So the writer needs
 * an append-only sink plus one patch at the start, which a pipe-like host
 * file, a growable buffer and a BlockDevice can all provide.
 */
import { CapacityError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';

export interface SquashfsOutput {
  /** Append `chunk` at the current end. Called in order; the writer does not reuse `chunk` afterwards. */
  write(chunk: Uint8Array): void | Promise<void>;
  /** Overwrite bytes already written (only the superblock at offset 0, once, at the end). */
  patch(offset: number, bytes: Uint8Array): void | Promise<void>;
}

/** Output into a growable in-memory buffer (tests, small images). */
export class MemoryOutput implements SquashfsOutput {
  private buf = new Uint8Array(1 << 16);
  length = 0;
  write(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.buf.length) {
      let n = this.buf.length * 2;
      while (n < this.length + chunk.length) n *= 2;
      const next = new Uint8Array(n);
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
    }
    this.buf.set(chunk, this.length);
    this.length += chunk.length;
  }
  patch(offset: number, bytes: Uint8Array): void {
    if (offset < 0 || offset + bytes.length > this.length)
      throw new RangeError(`patch of ${bytes.length} bytes at ${offset} past the end (${this.length})`);
    this.buf.set(bytes, offset);
  }
  /** The image written so far (a view, not a copy). */
  bytes(): Uint8Array {
    return this.buf.subarray(0, this.length);
  }
}

/** Output onto a BlockDevice from offset 0 (a partition window, a host file device). */
export class DeviceOutput implements SquashfsOutput {
  length = 0;
  constructor(private readonly dev: BlockDevice) {}
  write(chunk: Uint8Array): void {
    if (this.length + chunk.length > this.dev.size) {
      throw new CapacityError(
        'E_SPACE_SQUASHFS',
        `squashfs image does not fit: ${this.length + chunk.length} bytes needed, the device has ${this.dev.size}`,
        {
          format: 'squashfs',
          expected: this.length + chunk.length,
          actual: this.dev.size,
        },
      );
    }
    this.dev.writeAt(this.length, chunk);
    this.length += chunk.length;
  }
  patch(offset: number, bytes: Uint8Array): void {
    this.dev.writeAt(offset, bytes);
  }
}
