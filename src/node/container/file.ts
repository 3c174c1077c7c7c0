/**
 * The Node side of containers: a host file as a growable ContainerTarget,
 * node:zlib as a Compressor on libuv's thread pool, and the two whole-file
 * operations the CLI needs: convert an image file into a container, and
 * create a container file to build straight into. Outputs are written to a
 * temporary name and renamed into place only on success.
 */
import {
  closeSync,
  fstatSync,
  ftruncateSync,
  openSync,
  read,
  renameSync,
  rmSync,
  write,
  writeSync,
  fsyncSync,
  mkdirSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { HostIOError } from '../../core/errors.js';
import { checkRange, type BlockDevice } from '../../core/io/device.js';
import { hostError, FileDevice, MAX_WRITE, readFullyAt } from '../io/file.js';
import { hostDataExtents } from '../toolchain/holes.js';
import { trackTemp, untrackTemp } from '../host/output.js';
import type { Codec, Compressor } from '../../core/container/compress.js';
import { createContainerDevice, writeContainer } from '../../core/container/write.js';
import type {
  AsyncReadable,
  ContainerDevice,
  ContainerOptions,
  ContainerSummary,
  ContainerTarget,
  Extent,
} from '../../core/container/types.js';

/** A host file that grows as it is written; unwritten ranges stay holes. */
export class FileTarget implements ContainerTarget {
  private fd: number;
  private closed = false;
  /** Length of the file: the end of the furthest write. */
  size = 0;
  bytesWritten = 0;

  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'w+');
    } catch (e) {
      throw hostError(e, path, 'create');
    }
  }

  writeAt(offset: number, data: Uint8Array): void {
    let done = 0;
    while (done < data.length) {
      const n = Math.min(MAX_WRITE, data.length - done);
      try {
        done += writeSync(this.fd, data, done, n, offset + done);
      } catch (e) {
        throw hostError(e, this.path, 'write');
      }
    }
    this.bytesWritten += data.length;
    this.size = Math.max(this.size, offset + data.length);
  }

  /** The write on libuv's thread pool, in pieces of at most ASYNC_PIECE bytes that proceed in parallel. */
  writeAtAsync(offset: number, data: Uint8Array): Promise<void> {
    const pieces: Array<Promise<void>> = [];
    for (let done = 0; done < data.length; done += ASYNC_PIECE) {
      const n = Math.min(ASYNC_PIECE, data.length - done);
      pieces.push(
        new Promise<void>((resolve, reject) => {
          const step = (at: number): void => {
            write(this.fd, data, done + at, n - at, offset + done + at, (err, wrote) => {
              if (err) reject(hostError(err, this.path, 'write'));
              else if (at + wrote < n) step(at + wrote);
              else resolve();
            });
          };
          step(0);
        }),
      );
    }
    this.bytesWritten += data.length;
    this.size = Math.max(this.size, offset + data.length);
    return Promise.all(pieces).then(() => {});
  }

  readInto(offset: number, target: Uint8Array): void {
    readFullyAt(this.fd, target, offset);
  }

  /** Extend the file to `size` bytes with a trailing hole (never shortens it). */
  setSize(size: number): void {
    if (size <= this.size) return;
    try {
      ftruncateSync(this.fd, size);
    } catch (e) {
      throw hostError(e, this.path, 'extend');
    }
    this.size = size;
  }

  flush(): void {
    if (!this.closed) fsyncSync(this.fd);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    closeSync(this.fd);
  }
}

/**
 * A host image file as a read-only source that also reads on libuv's thread
 * pool (several 2 MiB reads at once), so converting reads ahead while it
 * writes.
 */
export class FileSource implements BlockDevice, AsyncReadable {
  private fd: number;
  readonly size: number;
  constructor(readonly path: string) {
    try {
      this.fd = openSync(path, 'r');
      this.size = fstatSync(this.fd).size;
    } catch (e) {
      throw hostError(e, path, 'open');
    }
  }
  readAt(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    readFullyAt(this.fd, target, offset);
  }
  readIntoAsync(offset: number, target: Uint8Array): Promise<void> {
    checkRange(this, offset, target.length);
    const pieces: Array<Promise<void>> = [];
    for (let start = 0; start < target.length; start += ASYNC_PIECE) {
      const part = target.subarray(start, Math.min(target.length, start + ASYNC_PIECE));
      pieces.push(
        new Promise<void>((resolve, reject) => {
          const step = (at: number): void => {
            read(this.fd, part, at, part.length - at, offset + start + at, (err, n) => {
              if (err) reject(hostError(err, this.path, 'read'));
              else if (n === 0) {
                part.fill(0, at);
                resolve();
              } else if (at + n < part.length) step(at + n);
              else resolve();
            });
          };
          step(0);
        }),
      );
    }
    return Promise.all(pieces).then(() => {});
  }
  writeAt(): void {
    throw new HostIOError('E_IO_READONLY', `${this.path} is open read-only`, { path: this.path });
  }
  flush(): void {}
  close(): void {
    closeSync(this.fd);
  }
}

/**
 * Largest read or write handed to libuv's thread pool: 2 MiB, qemu-img's
 * chunk. Converting the 1 GiB benchmark image used less CPU (user + sys) with
 * 2 MiB reads and writes than with 1 MiB reads and 256 KiB writes
 * (docs/benchmarks.md, containers). Synchronous writes keep MAX_WRITE.
 */
const ASYNC_PIECE = 2 << 20;

function zlibCall(codec: Codec, data: Uint8Array, level: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) =>
      err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length));
    // a 4 KiB window for qcow2, as QEMU writes its clusters
    if (codec === 'deflate-raw') zlib.deflateRaw(data, { level, windowBits: 12, memLevel: 9 }, done);
    else zlib.deflate(data, { level }, done);
  });
}

/** node:zlib on libuv's thread pool: `threads` units compress at once (default: every core). */
export function nodeCompressor(threads = availableParallelism()): Compressor {
  return { parallelism: Math.max(1, threads), compress: (data, codec, level) => zlibCall(codec, data, level) };
}

/** A temporary name beside `path`, removed if a signal ends the process (dropTemp when done with it). */
function tempBeside(path: string, tag: string): string {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.tinyimage-${process.pid}-${Date.now().toString(36)}${tag}.tmp`);
  trackTemp(tmp);
  return tmp;
}

/** Remove a temporary file (if still there) and stop tracking it. */
function dropTemp(tmp: string): void {
  rmSync(tmp, { force: true });
  untrackTemp(tmp);
}

export interface ConvertFileOptions extends ContainerOptions {
  /**
   * The data extents of the input. Default: for a FileDevice made by
   * `FileDevice.create`, the blocks it wrote; for a file, what the host
   * filesystem reports (filefrag), else all of it. Zero units are never stored.
   */
  extents?: readonly Extent[];
  /** fsync the output before renaming it into place. */
  sync?: boolean;
}

/** Convert a raw image file (or any BlockDevice) into a container file, atomically. */
export async function convertToContainerFile(
  input: string | FileDevice | BlockDevice,
  output: string,
  opts: ConvertFileOptions,
): Promise<ContainerSummary> {
  const src = typeof input === 'string' ? new FileSource(input) : input;
  const extents =
    opts.extents ??
    (src instanceof FileDevice ? src.writtenExtents() : undefined) ??
    (src instanceof FileSource || src instanceof FileDevice ? await hostDataExtents(src.path) : undefined);
  const tmp = tempBeside(output, '');
  const target = new FileTarget(tmp);
  try {
    const summary = await writeContainer(src, target, {
      compressor: nodeCompressor(),
      ...opts,
      ...(extents ? { extents } : {}),
      fileName: opts.fileName ?? basename(output),
    });
    if (opts.sync) target.flush();
    target.close();
    renameSync(tmp, output);
    untrackTemp(tmp);
    return summary;
  } catch (e) {
    target.close();
    dropTemp(tmp);
    throw e;
  } finally {
    if (src instanceof FileSource && typeof input === 'string') src.close();
  }
}

export interface ContainerFile {
  /** Write the image here as into a raw device of `size` bytes. */
  device: ContainerDevice;
  /** Write the tables, rename the file into place; returns what was written. */
  finish(opts?: { sync?: boolean }): Promise<ContainerSummary>;
  /** Give up: remove the temporary files. */
  abort(): void;
}

/**
 * Create `output` as a container of `size` bytes to build straight into.
 * Formats that are written in one pass at the end (VMDK streamOptimized,
 * Android sparse, compressed qcow2) collect the data in a temporary qcow2
 * spool beside the output first (never a raw file).
 */
export function createContainerFile(output: string, size: number, opts: ContainerOptions): ContainerFile {
  const tmp = tempBeside(output, '');
  const target = new FileTarget(tmp);
  let spool: FileTarget | undefined;
  const cleanup = () => {
    target.close();
    spool?.close();
    dropTemp(tmp);
    if (spool) dropTemp(spool.path);
  };
  let device: ContainerDevice;
  try {
    device = createContainerDevice(
      target,
      size,
      { compressor: nodeCompressor(), ...opts, fileName: opts.fileName ?? basename(output) },
      () => (spool = new FileTarget(tempBeside(output, '-spool'))),
    );
  } catch (e) {
    cleanup();
    throw e;
  }
  return {
    device,
    async finish(o = {}) {
      try {
        const summary = await device.finish();
        if (o.sync) target.flush();
        target.close();
        renameSync(tmp, output);
        untrackTemp(tmp);
        spool?.close();
        if (spool) dropTemp(spool.path);
        return summary;
      } catch (e) {
        cleanup();
        throw e;
      }
    },
    abort: cleanup,
  };
}

/** The 4 KiB blocks a fresh FileDevice has written, as data extents (undefined for an existing file). */
export function fileDeviceExtents(dev: FileDevice): Extent[] | undefined {
  return dev.writtenExtents();
}
