/**
 * Where the page keeps an image while it is written, without one contiguous
 * buffer of the image's size (a 1 GiB ArrayBuffer is exactly what a
 * browser tab may refuse):
 *
 * - SparseDevice: a fixed-size BlockDevice (ext2/4, FAT) whose pieces are
 *   allocated on first write; unwritten pieces read as zeros and leave the
 *   worker as one shared zero Blob.
 * - BlobSpool: an append-only sink (cpio.gz, tar, squashfs, a decompressed
 *   tarball) that turns each full piece into a Blob at once, so the browser
 *   may page it out; only the head stays patchable (squashfs rewrites its
 *   superblock last).
 *
 * Both end as a Blob made of parts, never one buffer. Pure apart from Blob.
 */
import { checkRange, isZero, type BlockDevice } from '../../../src/core/io/device.js';
import { CapacityError, UsageError } from '../../../src/core/errors.js';

/** Bytes backed by a plain ArrayBuffer (what Blob parts may be). */
type Bytes = Uint8Array<ArrayBuffer>;

/** Default piece: 4 MiB (large enough that a 1 GiB image is 256 parts, small enough to allocate anywhere). */
export const PIECE = 4 << 20;

function checkPiece(pieceSize: number): void {
  if (!Number.isInteger(pieceSize) || pieceSize < 512 || (pieceSize & (pieceSize - 1)) !== 0)
    throw new UsageError('E_USAGE_PIECE', `piece size must be a power of two of at least 512, got ${pieceSize}`, {
      field: 'pieceSize',
      actual: pieceSize,
    });
}

/** A fixed-size device kept as sparse pieces in memory. */
export class SparseDevice implements BlockDevice {
  private pieces: Array<Bytes | undefined>;
  private released = false;
  /** Bytes of pieces allocated so far (what the image costs in memory). */
  allocated = 0;

  constructor(
    readonly size: number,
    readonly pieceSize = PIECE,
  ) {
    checkPiece(pieceSize);
    if (!Number.isSafeInteger(size) || size < 0)
      throw new UsageError('E_USAGE_SIZE', `device size must be a whole number of bytes, got ${size}`, {
        field: 'size',
        actual: size,
      });
    this.pieces = new Array<Bytes | undefined>(Math.ceil(size / pieceSize));
  }

  private live(): void {
    if (this.released)
      throw new UsageError('E_USAGE_RELEASED', 'the image was already handed over as a Blob; it cannot be used again');
  }

  /** Visit [offset, offset+length) piece by piece: fn(piece index, offset in piece, offset in range, length). */
  private each(offset: number, length: number, fn: (i: number, at: number, done: number, n: number) => void): void {
    let done = 0;
    while (done < length) {
      const pos = offset + done;
      const i = Math.floor(pos / this.pieceSize);
      const at = pos - i * this.pieceSize;
      const n = Math.min(length - done, this.pieceSize - at);
      fn(i, at, done, n);
      done += n;
    }
  }

  readInto(offset: number, target: Uint8Array): void {
    this.live();
    checkRange(this, offset, target.length);
    this.each(offset, target.length, (i, at, done, n) => {
      const p = this.pieces[i];
      if (p) target.set(p.subarray(at, at + n), done);
      else target.fill(0, done, done + n);
    });
  }

  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }

  writeAt(offset: number, data: Uint8Array): void {
    this.live();
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.size)
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside device of ${this.size}`);
    this.each(offset, data.length, (i, at, done, n) => {
      let p = this.pieces[i];
      if (!p) {
        if (isZero(data, done, done + n)) return; // a hole stays a hole
        p = this.pieces[i] = new Uint8Array(Math.min(this.pieceSize, this.size - i * this.pieceSize));
        this.allocated += p.length;
      }
      p.set(data.subarray(done, done + n), at);
    });
  }

  flush(): void {}

  /**
   * The whole device as a Blob. Pieces are handed to the Blob one at a time
   * and dropped here, so memory is not doubled; the device is unusable after.
   */
  toBlob(type = 'application/octet-stream'): Blob {
    this.live();
    this.released = true;
    const parts: Blob[] = [];
    let zero: Blob | undefined;
    for (let i = 0; i < this.pieces.length; i++) {
      const len = Math.min(this.pieceSize, this.size - i * this.pieceSize);
      const p = this.pieces[i];
      this.pieces[i] = undefined;
      if (p) parts.push(new Blob([p]));
      else {
        zero ??= new Blob([new Uint8Array(this.pieceSize)]);
        parts.push(len === this.pieceSize ? zero : zero.slice(0, len));
      }
    }
    this.allocated = 0;
    return new Blob(parts, { type });
  }
}

/** An append-only byte sink that seals full pieces into Blobs as it goes. */
export class BlobSpool {
  private sealed: Blob[] = [];
  private sealedBytes = 0;
  /** The first piece stays in memory until finish(), so the head can be patched. */
  private head: Bytes | undefined;
  private cur: Bytes;
  private curLen = 0;
  private finished = false;

  constructor(
    readonly pieceSize = PIECE,
    /** Refuse to grow past this many bytes (default: no limit). */
    readonly limit = Number.MAX_SAFE_INTEGER,
  ) {
    checkPiece(pieceSize);
    this.cur = new Uint8Array(pieceSize);
  }

  /** Bytes in memory (the head and the piece being filled); the rest is in sealed Blobs. */
  get held(): number {
    return (this.head ? this.head.length : 0) + this.cur.length;
  }

  get length(): number {
    return (this.head ? this.head.length : 0) + this.sealedBytes + this.curLen;
  }

  write(chunk: Uint8Array): void {
    if (this.finished) throw new UsageError('E_USAGE_RELEASED', 'the spool was already finished');
    if (this.length + chunk.length > this.limit)
      throw new CapacityError(
        'E_SPACE_SPOOL',
        `the output grew past ${this.limit} bytes; choose a larger size or a smaller tree`,
        { expected: this.length + chunk.length, actual: this.limit },
      );
    let o = 0;
    while (o < chunk.length) {
      const n = Math.min(chunk.length - o, this.pieceSize - this.curLen);
      this.cur.set(chunk.subarray(o, o + n), this.curLen);
      this.curLen += n;
      o += n;
      if (this.curLen === this.pieceSize) this.seal();
    }
  }

  private seal(): void {
    if (!this.head) this.head = this.cur;
    else {
      this.sealed.push(new Blob([this.cur]));
      this.sealedBytes += this.curLen;
    }
    this.cur = new Uint8Array(this.pieceSize);
    this.curLen = 0;
  }

  /** Overwrite bytes already written; only inside the first piece or the one being filled. */
  patch(offset: number, bytes: Uint8Array): void {
    const end = offset + bytes.length;
    const headLen = this.head ? this.head.length : 0;
    if (offset >= 0 && end <= headLen) this.head!.set(bytes, offset);
    else if (offset >= headLen + this.sealedBytes && end <= this.length)
      this.cur.set(bytes, offset - headLen - this.sealedBytes);
    else
      throw new UsageError(
        'E_USAGE_PATCH',
        `cannot patch ${bytes.length} bytes at ${offset}: that part of the output was already handed to a Blob`,
        { offset },
      );
  }

  /** Everything written, as one Blob; the spool is unusable after. */
  finish(type = 'application/octet-stream'): Blob {
    this.finished = true;
    const parts: Array<Blob | Bytes> = [];
    if (this.head) parts.push(this.head);
    parts.push(...this.sealed);
    if (this.curLen) parts.push(this.cur.subarray(0, this.curLen));
    const blob = new Blob(parts, { type });
    this.head = undefined;
    this.sealed = [];
    this.cur = new Uint8Array(0);
    return blob;
  }
}
