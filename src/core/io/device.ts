/**
 * The block-device interface every format reads and writes through.
 * Synchronous on purpose: format code (ext4, FAT, partition tables) does many
 * small metadata reads/writes and stays simple; host files use readSync /
 * writeSync, which are fast. Long-running writers are async at a higher level
 * (file content streams in from `Content.stream()`).
 */
import { FormatError } from '../errors.js';

export interface BlockDevice {
  /** Size in bytes. */
  readonly size: number;
  /** Read exactly `length` bytes at `offset`. Throws FormatError E_IO_RANGE past the end. */
  readAt(offset: number, length: number): Uint8Array;
  /**
   * Optional: read exactly `target.length` bytes at `offset` into `target`
   * (no allocation; same range rules as readAt). Readers that fill a buffer
   * of their own (readContent, readInto of file contents) prefer it.
   */
  readInto?(offset: number, target: Uint8Array): void;
  /** Write `data` at `offset`. Throws RangeError past the end. */
  writeAt(offset: number, data: Uint8Array): void;
  /**
   * Optional, for devices that write behind the caller (another thread
   * writes while the caller goes on): a buffer of `length` bytes that the
   * caller fills and hands back with writeLent, so the device writes it
   * without a copy. Undefined when it has none to lend (none that large, or
   * not now): the caller writes from its own buffer with writeAt.
   */
  lend?(length: number): Uint8Array | undefined;
  /** Write the first `length` bytes of a lent buffer at `offset` (0: none); the buffer is the device's again. */
  writeLent?(offset: number, buf: Uint8Array, length: number): void;
  /** Persist buffered writes (no-op for memory). */
  flush(): void;
}

export function checkRange(dev: { size: number }, offset: number, length: number, what = 'read'): void {
  if (
    !Number.isSafeInteger(offset) ||
    !Number.isSafeInteger(length) ||
    offset < 0 ||
    length < 0 ||
    offset + length > dev.size
  ) {
    throw new FormatError(
      'E_IO_RANGE',
      `${what} of ${length} bytes at offset ${offset} is outside the device (size ${dev.size})`,
      { offset, expected: dev.size, actual: offset + length },
    );
  }
}

/** readAt for a device whose reads go through its own readInto: a new buffer of `length` bytes, filled. */
export function readAtInto(
  dev: { size: number; readInto(offset: number, target: Uint8Array): void },
  offset: number,
  length: number,
): Uint8Array {
  checkRange(dev, offset, length);
  const out = new Uint8Array(length);
  dev.readInto(offset, out);
  return out;
}

/**
 * Cut a read of `out.length` bytes at `offset` at multiples of `unit` (a
 * cluster, a block, a grain): `fn` gets each unit's index, the offset in it
 * and the part of `out` it covers, in order.
 */
export function forEachUnit(
  offset: number,
  out: Uint8Array,
  unit: number,
  fn: (u: number, inUnit: number, part: Uint8Array) => void,
): void {
  let i = 0;
  while (i < out.length) {
    const pos = offset + i;
    const u = Math.floor(pos / unit);
    const inUnit = pos - u * unit;
    const n = Math.min(unit - inUnit, out.length - i);
    fn(u, inUnit, out.subarray(i, i + n));
    i += n;
  }
}

/** A device backed by memory. */
export class MemoryDevice implements BlockDevice {
  readonly bytes: Uint8Array;
  constructor(sizeOrBytes: number | Uint8Array) {
    this.bytes = typeof sizeOrBytes === 'number' ? new Uint8Array(sizeOrBytes) : sizeOrBytes;
  }
  get size(): number {
    return this.bytes.length;
  }
  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.bytes.slice(offset, offset + length);
  }
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    target.set(this.bytes.subarray(offset, offset + target.length));
  }
  writeAt(offset: number, data: Uint8Array): void {
    if (offset < 0 || offset + data.length > this.bytes.length)
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside device of ${this.bytes.length}`);
    this.bytes.set(data, offset);
  }
  flush(): void {}
}

/** A window onto part of another device (a partition inside a disk). */
export class SubDevice implements BlockDevice {
  constructor(
    readonly parent: BlockDevice,
    readonly offset: number,
    readonly size: number,
  ) {
    if (offset < 0 || size < 0 || offset + size > parent.size) {
      throw new FormatError(
        'E_IO_RANGE',
        `window [${offset}, ${offset + size}) lies outside the device (size ${parent.size})`,
        { offset, expected: parent.size, actual: offset + size },
      );
    }
  }
  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    return this.parent.readAt(this.offset + offset, length);
  }
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    if (this.parent.readInto) this.parent.readInto(this.offset + offset, target);
    else target.set(this.parent.readAt(this.offset + offset, target.length));
  }
  writeAt(offset: number, data: Uint8Array): void {
    if (offset < 0 || offset + data.length > this.size)
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside window of ${this.size}`);
    this.parent.writeAt(this.offset + offset, data);
  }
  flush(): void {
    this.parent.flush();
  }
}

/** True when every byte of `b[start, end)` is zero. */
export function isZero(b: Uint8Array, start = 0, end = b.length): boolean {
  let i = start;
  // data that is not zero mostly shows it in its first bytes: no word view for it
  const head = Math.min(end, i + 16);
  for (; i < head; i++) if (b[i] !== 0) return false;
  // word-at-a-time when aligned
  if (((b.byteOffset + i) & 3) === 0) {
    const n = (end - i) >>> 2;
    if (n > 0) {
      const w = new Uint32Array(b.buffer, b.byteOffset + i, n);
      for (let k = 0; k < n; k++) if (w[k] !== 0) return false;
      i += n << 2;
    }
  }
  for (; i < end; i++) if (b[i] !== 0) return false;
  return true;
}
