/** Content read lazily from a host file. */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Content } from '../../core/tree/types.js';
import { hostError } from '../io/file.js';

const CHUNK = 1 << 20;

export function pathContent(path: string, size: number): Content {
  const readAt = (pos: number, len: number): Uint8Array => {
    const want = Math.max(0, Math.min(len, size - pos));
    const buf = new Uint8Array(want);
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw hostError(e, path, 'read');
    }
    try {
      let done = 0;
      while (done < want) {
        const n = readSync(fd, buf, done, want - done, pos + done);
        if (n === 0) break;
        done += n;
      }
      return done === want ? buf : buf.subarray(0, done);
    } finally {
      closeSync(fd);
    }
  };
  const readInto = (pos: number, target: Uint8Array): number => {
    const want = Math.max(0, Math.min(target.length, size - pos));
    if (want === 0) return 0;
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (e) {
      throw hostError(e, path, 'read');
    }
    try {
      let done = 0;
      while (done < want) {
        const n = readSync(fd, target, done, want - done, pos + done);
        if (n === 0) break;
        done += n;
      }
      return done;
    } finally {
      closeSync(fd);
    }
  };
  return {
    size,
    readInto,
    async *stream() {
      let fd: number;
      try {
        fd = openSync(path, 'r');
      } catch (e) {
        throw hostError(e, path, 'read');
      }
      try {
        let pos = 0;
        while (pos < size) {
          const buf = new Uint8Array(Math.min(CHUNK, size - pos));
          const n = readSync(fd, buf, 0, buf.length, pos);
          if (n === 0)
            throw hostError(
              Object.assign(new Error(`file shrank to ${pos} bytes while being read (expected ${size})`), {
                code: 'ESHRANK',
              }),
              path,
              'read',
            );
          pos += n;
          yield n === buf.length ? buf : buf.subarray(0, n);
        }
      } finally {
        closeSync(fd);
      }
    },
    readAt,
  };
}
