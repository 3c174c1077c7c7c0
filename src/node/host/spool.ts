/**
 * Spooling: a stream that can be read only once (standard input, a
 * decompressor) made random access, so readTar can index it and Content
 * can read members later. Up to `memoryLimit` bytes stay in memory; past
 * that everything goes to an unlinked temporary file (no name left behind,
 * freed when closed or when the process ends). docs/tar.md has the numbers
 * behind spooling instead of decompressing twice.
 */
import { closeSync, openSync, readSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { checkRange, MemoryDevice } from '../../core/io/device.js';
import { hostError } from '../io/file.js';
import type { TarSource } from '../../core/archive/tar/read.js';

export interface SpoolOptions {
  /** Directory for the temporary file (default os.tmpdir()). */
  tmpDir?: string;
  /** Bytes kept in memory before spilling to a file (default 32 MiB). */
  memoryLimit?: number;
}

export interface Spooled extends TarSource {
  /** Whether the bytes went to a temporary file. */
  readonly onDisk: boolean;
  close(): void;
}

const WRITE_BUF = 1 << 20;

class SpoolFile implements Spooled {
  readonly onDisk = true;
  private closed = false;
  constructor(
    private readonly fd: number,
    readonly size: number,
    private readonly path: string,
  ) {}
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.fd, target, done, target.length - done, offset + done);
      if (n === 0)
        throw hostError(Object.assign(new Error('spool file shrank'), { code: 'ESHRANK' }), this.path, 'read');
      done += n;
    }
  }
  readAt(offset: number, length: number): Uint8Array {
    const out = new Uint8Array(length);
    this.readInto(offset, out);
    return out;
  }
  close(): void {
    if (!this.closed) {
      this.closed = true;
      closeSync(this.fd);
    }
  }
}

/** Read `chunks` to the end and return them as a random-access source. */
export async function spool(chunks: AsyncIterable<Uint8Array>, opts: SpoolOptions = {}): Promise<Spooled> {
  const limit = opts.memoryLimit ?? 32 << 20;
  const mem: Uint8Array[] = [];
  let size = 0;
  let fd: number | undefined;
  let path = '';
  const buf = new Uint8Array(WRITE_BUF);
  let fill = 0;
  const write = (b: Uint8Array) => {
    let o = 0;
    while (o < b.length) {
      const w = writeSync(fd!, b, o, b.length - o);
      o += w;
    }
  };
  const add = (c: Uint8Array) => {
    if (c.length >= WRITE_BUF) {
      if (fill) {
        write(buf.subarray(0, fill));
        fill = 0;
      }
      write(c);
      return;
    }
    if (fill + c.length > WRITE_BUF) {
      write(buf.subarray(0, fill));
      fill = 0;
    }
    buf.set(c, fill);
    fill += c.length;
  };
  try {
    for await (const c of chunks) {
      size += c.length;
      if (fd === undefined) {
        mem.push(c);
        if (size <= limit) continue;
        path = join(opts.tmpDir ?? tmpdir(), `tinyimage-spool-${process.pid}-${randomBytes(6).toString('hex')}`);
        try {
          fd = openSync(path, 'wx+', 0o600);
          unlinkSync(path);
        } catch (e) {
          throw hostError(e, path, 'create spool file');
        }
        for (const m of mem.splice(0)) add(m);
        continue;
      }
      add(c);
    }
    if (fd === undefined) {
      const all = new Uint8Array(size);
      let o = 0;
      for (const m of mem) {
        all.set(m, o);
        o += m.length;
      }
      const dev = new MemoryDevice(all);
      return Object.assign(dev, { onDisk: false, close() {} });
    }
    if (fill) write(buf.subarray(0, fill));
    return new SpoolFile(fd, size, path);
  } catch (e) {
    if (fd !== undefined) closeSync(fd);
    throw e;
  }
}
