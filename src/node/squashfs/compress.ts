/**
 * squashfs block compression on node:zlib's asynchronous API: each call runs
 * on a libuv thread-pool thread, so with `threads` blocks in flight the
 * compression uses that many cores while the main thread reads files.
 * (The pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise.)
 * Output is deterministic for a given Node version: each block is one zlib
 * stream, independent of the others and of timing.
 */
import { availableParallelism } from 'node:os';
import * as zlib from 'node:zlib';
import { checkLevel, DEFAULT_GZIP_LEVEL, type BlockCompressor } from '../../core/fs/squashfs/compress.js';

export interface NodeCompressorOptions {
  /** gzip level 1..9 (default 9, like mksquashfs). */
  level?: number | undefined;
  /**
   * Blocks compressed at once (default twice os.availableParallelism()): with
   * only one per core, a core idles while the main thread takes a finished
   * block and reads the next (standard tree, 2 cores: 7.5-9.0 s with 2, 6.8-6.9 s with 4).
   */
  threads?: number | undefined;
}

export function nodeGzipCompressor(opts: NodeCompressorOptions = {}): BlockCompressor {
  const level = checkLevel(opts.level ?? DEFAULT_GZIP_LEVEL);
  const threads = Math.max(1, Math.floor(opts.threads ?? 2 * availableParallelism()));
  return {
    name: 'gzip',
    concurrency: threads,
    compress: (block) =>
      new Promise((resolve, reject) => {
        // one output chunk per block: with the default 16 KiB chunks every block
        // returns to the main thread several times before it is done
        zlib.deflate(
          block,
          { level, chunkSize: Math.max(16384, block.length + (block.length >>> 6) + 64) },
          (err, out) => (err ? reject(err) : resolve(new Uint8Array(out.buffer, out.byteOffset, out.length))),
        );
      }),
    // metadata blocks: 8 KiB each, one after another, so a thread hop costs more than it saves
    compressSync: (block) => {
      const out = zlib.deflateSync(block, { level });
      return new Uint8Array(out.buffer, out.byteOffset, out.length);
    },
  };
}
