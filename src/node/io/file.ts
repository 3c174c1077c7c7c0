/**
 * Host-file block device. This and src/host are the only places format data
 * touches node:fs.
 *
 * Sparse output: a device created fresh (`FileDevice.create`) starts as one
 * big hole (ftruncate). Writes skip whole 4 KiB blocks that are all zeros and
 * have never been written, so free space and zero-filled metadata stay holes.
 *
 * Write-behind (`create(path, size, { writeBehind: true })`): writes are
 * queued to a worker thread (write-behind.ts) and done there in order while
 * the caller goes on; reads, flush and close wait for them first, and a
 * failed write throws from the caller's next call on the device.
 */
import { closeSync, fstatSync, ftruncateSync, openSync, readSync, writeSync, fsyncSync } from 'node:fs';
import { HostIOError } from '../../core/errors.js';
import { checkRange, isZero, type BlockDevice } from '../../core/io/device.js';
import { writeSkippingHoles } from './holes.js';
import { WriteBehind } from './write-behind.js';

const HOLE_BLOCK = 4096;
/**
 * Largest single write(2). Writers buffer up to 8 MiB, but on this project's
 * machine (Linux 6.18, ext4) writing 700 MB to a new file took 0.57-0.93 s in
 * 8 MiB writes against 0.15-0.17 s in 256 KiB writes (dd, same conditions),
 * and varied far more from run to run. Handing full buffers to libuv's
 * threads, to overlap writing with reading, measured slower (design/fat.md);
 * one worker thread fed through shared memory (write-behind.ts) is faster.
 */
export const MAX_WRITE = 256 * 1024;
/** Bytes a write-behind device writes synchronously before it starts its worker thread. */
export const WRITE_BEHIND_AFTER = 32 << 20;

/** The first `n` bytes of the file at `path` (fewer when the file is shorter). */
export function readHead(path: string, n: number): Uint8Array {
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(n);
    const got = readSync(fd, b, 0, n, 0);
    return b.subarray(0, got);
  } finally {
    closeSync(fd);
  }
}

/**
 * Fill `target` from `fd` at `offset`, looping over short reads; bytes past
 * the end of the file read as zeros.
 */
export function readFullyAt(fd: number, target: Uint8Array, offset: number): void {
  let done = 0;
  while (done < target.length) {
    const n = readSync(fd, target, done, target.length - done, offset + done);
    if (n === 0) break;
    done += n;
  }
  if (done < target.length) target.fill(0, done);
}

export class FileDevice implements BlockDevice {
  private closed = false;
  /** One bit per 4 KiB block: set once the block may hold data. Only for fresh devices. */
  private written: Uint8Array | undefined;
  /** Bytes written on this thread (the write-behind worker counts its own). */
  private syncBytes = 0;
  private behind: WriteBehind | undefined;
  /** With write-behind: the bytes written synchronously before the worker starts, and those so far. */
  private behindAfter: number | undefined;
  private offered = 0;

  private constructor(
    readonly path: string,
    private fd: number,
    readonly size: number,
    fresh: boolean,
    readonly readonly: boolean,
    writeBehindAfter?: number,
  ) {
    const bitmap = Math.ceil(size / HOLE_BLOCK / 8) + 1;
    const shared = writeBehindAfter !== undefined;
    if (fresh) this.written = new Uint8Array(shared ? new SharedArrayBuffer(bitmap) : new ArrayBuffer(bitmap));
    this.behindAfter = writeBehindAfter;
  }

  /** The write-behind worker, started once `behindAfter` bytes were written (undefined before, or without). */
  private behindNow(): WriteBehind | undefined {
    if (this.behind || this.behindAfter === undefined || this.offered < this.behindAfter || this.closed)
      return this.behind;
    this.behind = new WriteBehind(this.fd, this.path, (e) => hostError(e, this.path, 'write'), {
      ...(this.written ? { written: this.written } : {}),
      maxWrite: MAX_WRITE,
      holeBlock: HOLE_BLOCK,
    });
    return this.behind;
  }

  /** True once writes go through the write-behind worker. */
  get writingBehind(): boolean {
    return this.behind !== undefined;
  }

  /** Bytes written to the file (holes skipped); with write-behind, exact once reads, flush or close waited. */
  get bytesWritten(): number {
    return this.syncBytes + (this.behind?.bytesWritten ?? 0);
  }

  /** Open an existing file (or block device) for reading, or reading and writing. */
  static open(path: string, opts: { write?: boolean } = {}): FileDevice {
    let fd: number;
    try {
      fd = openSync(path, opts.write ? 'r+' : 'r');
    } catch (e) {
      throw hostError(e, path, 'open');
    }
    const st = fstatSync(fd);
    let size = st.size;
    if (st.isBlockDevice()) {
      // size of a block device: seek-free probe by reading near the end is awkward; use binary search on readSync
      size = probeBlockDeviceSize(fd);
    }
    return new FileDevice(path, fd, size, false, !opts.write);
  }

  /**
   * Create (or truncate) `path` as a sparse file of `size` bytes. With
   * `writeBehind`, writes are done by a worker thread while the caller goes
   * on (see above), once `writeBehindAfter` bytes (default 32 MiB) were
   * written synchronously: below that, starting a thread costs more than it
   * saves. close() must be called (it waits for the writes).
   */
  static create(
    path: string,
    size: number,
    opts: { writeBehind?: boolean; writeBehindAfter?: number } = {},
  ): FileDevice {
    let fd: number;
    try {
      fd = openSync(path, 'w+');
      ftruncateSync(fd, size);
    } catch (e) {
      throw hostError(e, path, 'create');
    }
    return new FileDevice(
      path,
      fd,
      size,
      true,
      false,
      opts.writeBehind ? (opts.writeBehindAfter ?? WRITE_BEHIND_AFTER) : undefined,
    );
  }

  /** With write-behind: a buffer to fill and give to writeLent, written without a copy (BlockDevice.lend). */
  lend(length: number): Uint8Array | undefined {
    return this.behindNow()?.lend(length);
  }

  writeLent(offset: number, buf: Uint8Array, length: number): void {
    if (!this.behind) throw new Error('internal: writeLent without write-behind');
    if (offset < 0 || offset + length > this.size)
      throw new RangeError(`write of ${length} bytes at ${offset} outside ${this.path} (size ${this.size})`);
    this.offered += length;
    this.behind.writeLent(offset, buf, length);
  }

  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    this.behind?.drain();
    // every byte is overwritten below, so skip zero-filling; unpooled memory,
    // returned as a plain Uint8Array (Buffer#slice would not copy)
    const raw = Buffer.allocUnsafeSlow(length);
    const buf = new Uint8Array(raw.buffer, raw.byteOffset, length);
    readFullyAt(this.fd, buf, offset);
    return buf;
  }

  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    this.behind?.drain();
    // as readAt: bytes past the end of the file (a device larger than the file) read as zeros
    readFullyAt(this.fd, target, offset);
  }

  writeAt(offset: number, data: Uint8Array): void {
    if (this.readonly) throw new HostIOError('E_IO_READONLY', `${this.path} is open read-only`, { path: this.path });
    if (offset < 0 || offset + data.length > this.size)
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside ${this.path} (size ${this.size})`);
    this.offered += data.length;
    const behind = this.behindNow();
    if (behind) return behind.write(offset, data);
    const w = this.written;
    if (!w) return this.rawWrite(offset, data, 0, data.length);
    writeSkippingHoles(
      w,
      HOLE_BLOCK,
      offset,
      0,
      data.length,
      (a, b) => isZero(data, a, b),
      (a, b, pos) => this.rawWrite(pos, data, a, b),
    );
  }

  /**
   * For a device made by `create`: the byte ranges that may hold data (every
   * 4 KiB block written with a non-zero byte, or written after that), merged.
   * Everything else is a hole and reads as zeros. Undefined for a device
   * opened on an existing file, whose holes this device does not know.
   */
  writtenExtents(): Array<{ offset: number; length: number }> | undefined {
    const w = this.written;
    if (!w) return undefined;
    this.behind?.drain();
    const out: Array<{ offset: number; length: number }> = [];
    const blocks = Math.ceil(this.size / HOLE_BLOCK);
    let start = -1;
    for (let b = 0; b <= blocks; b++) {
      if (b < blocks && w[b >>> 3] === 0 && (b & 7) === 0 && b + 8 <= blocks && start < 0) {
        b += 7;
        continue;
      }
      const set = b < blocks && (w[b >>> 3]! & (1 << (b & 7))) !== 0;
      if (set && start < 0) start = b;
      if (!set && start >= 0) {
        out.push({ offset: start * HOLE_BLOCK, length: Math.min(this.size, b * HOLE_BLOCK) - start * HOLE_BLOCK });
        start = -1;
      }
    }
    return out;
  }

  private rawWrite(pos: number, data: Uint8Array, start: number, end: number): void {
    let off = start;
    while (off < end) {
      let n: number;
      try {
        n = writeSync(this.fd, data, off, Math.min(end - off, MAX_WRITE), pos + (off - start));
      } catch (e) {
        throw hostError(e, this.path, 'write');
      }
      off += n;
    }
    this.syncBytes += end - start;
  }

  flush(): void {
    if (this.readonly || this.closed) return;
    this.behind?.drain();
    fsyncSync(this.fd);
  }

  /**
   * Close the file; with write-behind, first wait for the queued writes and
   * throw a write error not thrown yet. `{ quiet: true }` (after a failure of
   * the caller's own, which should win) only waits.
   */
  close(opts: { quiet?: boolean } = {}): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.behind?.close(opts.quiet === true);
    } finally {
      closeSync(this.fd);
    }
  }
}

function probeBlockDeviceSize(fd: number): number {
  const b = new Uint8Array(1);
  let lo = 0;
  let hi = 1;
  while (readSync(fd, b, 0, 1, hi * 512 - 1) === 1) {
    lo = hi;
    hi *= 2;
  }
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    if (readSync(fd, b, 0, 1, mid * 512 - 1) === 1) lo = mid;
    else hi = mid;
  }
  return lo * 512;
}

export function hostError(e: unknown, path: string, op: string): HostIOError {
  const err = e as NodeJS.ErrnoException;
  const why =
    err.code === 'ENOENT'
      ? 'no such file or directory'
      : err.code === 'EACCES'
        ? 'permission denied'
        : err.code === 'EISDIR'
          ? 'is a directory'
          : err.code === 'ENOTDIR'
            ? 'not a directory'
            : err.message;
  return new HostIOError(`E_IO_${err.code ?? 'FAILED'}`, `cannot ${op} ${path}: ${why}`, { path }, { cause: e });
}
