/**
 * The Node side of containers: a host file as a growable ContainerTarget,
 * node:zlib as a Compressor on libuv's thread pool, and the two whole-file
 * operations the CLI needs: convert an image file into a container, and
 * create a container file to build straight into. Outputs are written to a
 * temporary name and renamed into place only on success.
 */
import { closeSync, ftruncateSync, openSync, readSync, renameSync, rmSync, writeSync, fsyncSync, mkdirSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as zlib from 'node:zlib';
import { hostError, FileDevice, MAX_WRITE } from '../io/file.js';
import type { Codec, Compressor } from './compress.js';
import { createContainerDevice, writeContainer } from './write.js';
import type { ContainerDevice, ContainerOptions, ContainerSummary, ContainerTarget, Extent } from './types.js';

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

  readInto(offset: number, target: Uint8Array): void {
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n === 0) break;
      done += n;
    }
    if (done < target.length) target.fill(0, done);
  }

  /** Extend the file to `size` bytes with a trailing hole (never shortens it). */
  setSize(size: number): void {
    if (size <= this.size) return;
    try { ftruncateSync(this.fd, size); } catch (e) { throw hostError(e, this.path, 'extend'); }
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

function zlibCall(codec: Codec, data: Uint8Array, level: number): Promise<Uint8Array> {
  return new Promise((resolve, reject) => {
    const done = (err: Error | null, out: Buffer) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length)));
    // a 4 KiB window for qcow2, as QEMU writes its clusters
    if (codec === 'deflate-raw') zlib.deflateRaw(data, { level, windowBits: 12, memLevel: 9 }, done);
    else zlib.deflate(data, { level }, done);
  });
}

/** node:zlib on libuv's thread pool: `threads` units compress at once (default: every core). */
export function nodeCompressor(threads = availableParallelism()): Compressor {
  return { parallelism: Math.max(1, threads), compress: (data, codec, level) => zlibCall(codec, data, level) };
}

function tempBeside(path: string, tag: string): string {
  mkdirSync(dirname(path), { recursive: true });
  return join(dirname(path), `.${basename(path)}.tinyimage-${process.pid}-${Date.now().toString(36)}${tag}.tmp`);
}

export interface ConvertFileOptions extends ContainerOptions {
  /** The data extents of the input (default: all of it, zero units are skipped). */
  extents?: readonly Extent[];
  /** fsync the output before renaming it into place. */
  sync?: boolean;
}

/** Convert a raw image file (or any BlockDevice) into a container file, atomically. */
export async function convertToContainerFile(input: string | FileDevice, output: string, opts: ConvertFileOptions): Promise<ContainerSummary> {
  const src = typeof input === 'string' ? FileDevice.open(input) : input;
  const tmp = tempBeside(output, '');
  const target = new FileTarget(tmp);
  try {
    const summary = await writeContainer(src, target, { compressor: nodeCompressor(), ...opts, fileName: opts.fileName ?? basename(output) });
    if (opts.sync) target.flush();
    target.close();
    renameSync(tmp, output);
    return summary;
  } catch (e) {
    target.close();
    rmSync(tmp, { force: true });
    throw e;
  } finally {
    if (typeof input === 'string') src.close();
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
    rmSync(tmp, { force: true });
    if (spool) rmSync(spool.path, { force: true });
  };
  let device: ContainerDevice;
  try {
    device = createContainerDevice(target, size, { compressor: nodeCompressor(), ...opts, fileName: opts.fileName ?? basename(output) }, () => (spool = new FileTarget(tempBeside(output, '-spool'))));
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
        spool?.close();
        if (spool) rmSync(spool.path, { force: true });
        return summary;
      } catch (e) {
        cleanup();
        throw e;
      }
    },
    abort: cleanup,
  };
}

/** The 4 KiB blocks a fresh FileDevice has written, as data extents (undefined for a device opened on an existing file). */
export function fileDeviceExtents(dev: FileDevice): Extent[] | undefined {
  return dev.writtenExtents();
}
