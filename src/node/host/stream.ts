/** Write a chunk stream to a host file atomically (temporary file + rename, see output.ts). */
import { closeSync, fchmodSync, openSync, writeSync } from 'node:fs';
import { hostError, MAX_WRITE } from '../io/file.js';
import { withOutputFile } from './output.js';

/**
 * Write every chunk of `chunks` to `path`; returns the number of bytes
 * written. Nothing is left at `path` (and an existing file there is kept)
 * if the stream or a write fails. `mode` (default 0o644, less the umask) is
 * set exactly when given (e.g. 0o755 for an executable). Each chunk is
 * written before the next is asked for, so a producer may refill its buffer
 * (cpioChunks' reuseChunks).
 */
export async function writeChunksToFile(
  path: string,
  chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  mode?: number,
): Promise<number> {
  return withOutputFile(path, async (tmp) => {
    let fd: number;
    try {
      fd = openSync(tmp, 'w', 0o644);
      if (mode !== undefined) fchmodSync(fd, mode);
    } catch (e) {
      throw hostError(e, path, 'create');
    }
    let total = 0;
    try {
      for await (const chunk of chunks) {
        let off = 0;
        while (off < chunk.length) {
          let n: number;
          try {
            n = writeSync(fd, chunk, off, Math.min(chunk.length - off, MAX_WRITE));
          } catch (e) {
            throw hostError(e, path, 'write');
          }
          off += n;
        }
        total += chunk.length;
      }
    } finally {
      closeSync(fd);
    }
    return total;
  });
}
