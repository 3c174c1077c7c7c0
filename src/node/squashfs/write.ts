/**
 * squashfs to a host file: node:zlib compression on the thread pool
 * (compress-node.ts), buffered sequential writes, the superblock patched at
 * offset 0 at the end, and the file written under a temporary name and
 * renamed only on success (host/output.ts).
 */
import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';
import { withOutputFile } from '../host/output.js';
import { hostError, MAX_WRITE } from '../io/file.js';
import type { FileTree } from '../../core/tree/tree.js';
import { nodeGzipCompressor } from './compress.js';
import type { SquashfsOutput } from '../../core/fs/squashfs/output.js';
import { writeSquashfs, type SquashfsOptions, type SquashfsSummary } from '../../core/fs/squashfs/write.js';

const BUFFER = 1 << 20;

/** Appends to a file descriptor through a 1 MiB buffer; patches with positioned writes. */
export class FileOutput implements SquashfsOutput {
  private buf = new Uint8Array(BUFFER);
  private fill = 0;
  private pos = 0;

  constructor(
    private readonly fd: number,
    private readonly path: string,
  ) {}

  write(chunk: Uint8Array): void {
    if (chunk.length >= BUFFER / 4) {
      this.flush();
      this.raw(chunk, this.pos);
      this.pos += chunk.length;
      return;
    }
    if (this.fill + chunk.length > BUFFER) this.flush();
    this.buf.set(chunk, this.fill);
    this.fill += chunk.length;
  }

  patch(offset: number, bytes: Uint8Array): void {
    this.flush();
    this.raw(bytes, offset);
  }

  flush(): void {
    if (this.fill === 0) return;
    this.raw(this.buf.subarray(0, this.fill), this.pos);
    this.pos += this.fill;
    this.fill = 0;
  }

  private raw(data: Uint8Array, at: number): void {
    let off = 0;
    while (off < data.length) {
      let n: number;
      try {
        n = writeSync(this.fd, data, off, Math.min(data.length - off, MAX_WRITE), at + off);
      } catch (e) {
        throw hostError(e, this.path, 'write');
      }
      off += n;
    }
  }
}

export interface SquashfsFileOptions extends SquashfsOptions {
  /** Blocks compressed at once (default: two per core, so no core waits while the main thread works). */
  threads?: number | undefined;
  /** fsync the file before renaming it into place. */
  sync?: boolean | undefined;
}

/** Write `tree` as a squashfs image at `path` (atomically: nothing is left there on failure). */
export async function writeSquashfsFile(
  tree: FileTree,
  path: string,
  opts: SquashfsFileOptions = {},
): Promise<SquashfsSummary> {
  return withOutputFile(path, async (tmp) => {
    let fd: number;
    try {
      fd = openSync(tmp, 'w', 0o644);
    } catch (e) {
      throw hostError(e, path, 'create');
    }
    try {
      const out = new FileOutput(fd, path);
      // gzip on node:zlib's threads; zstd (and any other choice, refused by the core) as the core makes it
      const compressor =
        opts.compressor ??
        ((opts.compression ?? 'gzip') === 'gzip'
          ? nodeGzipCompressor({ level: opts.level, threads: opts.threads })
          : undefined);
      const summary = await writeSquashfs(tree, out, { ...opts, compressor });
      out.flush();
      if (opts.sync) fsyncSync(fd);
      return summary;
    } finally {
      closeSync(fd);
    }
  });
}
