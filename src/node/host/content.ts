/**
 * Content read lazily from a host file. One small object per file: its
 * directory (shared by every file in it) and its name (the same string the
 * tree's directory map holds), so a tree of a million files does not keep a
 * million path strings and closures alive.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type { Content } from '../../core/tree/types.js';
import { hostError } from '../io/file.js';

const CHUNK = 1 << 20;

/** A host directory's path, shared by the contents of its files. */
export class HostDir {
  /** The path with a trailing '/': a file's path is one concatenation (path.join normalizes every time). */
  readonly prefix: string;
  constructor(readonly path: string) {
    this.prefix = path.endsWith('/') ? path : path + '/';
  }
}

class HostFileContent implements Content {
  constructor(
    private readonly dir: HostDir | undefined,
    private readonly name: string,
    readonly size: number,
  ) {}

  get path(): string {
    return this.dir ? this.dir.prefix + this.name : this.name;
  }

  private open(): number {
    try {
      return openSync(this.path, 'r');
    } catch (e) {
      throw hostError(e, this.path, 'read');
    }
  }

  readInto(pos: number, target: Uint8Array): number {
    const want = Math.max(0, Math.min(target.length, this.size - pos));
    if (want === 0) return 0;
    const fd = this.open();
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
  }

  readAt(pos: number, len: number): Uint8Array {
    const buf = new Uint8Array(Math.max(0, Math.min(len, this.size - pos)));
    const n = this.readInto(pos, buf);
    return n === buf.length ? buf : buf.subarray(0, n);
  }

  async *stream(): AsyncGenerator<Uint8Array> {
    const fd = this.open();
    try {
      let pos = 0;
      while (pos < this.size) {
        const buf = new Uint8Array(Math.min(CHUNK, this.size - pos));
        const n = readSync(fd, buf, 0, buf.length, pos);
        if (n === 0) {
          const e = Object.assign(new Error(`file shrank to ${pos} bytes while being read (expected ${this.size})`), {
            code: 'ESHRANK',
          });
          throw hostError(e, this.path, 'read');
        }
        pos += n;
        yield n === buf.length ? buf : buf.subarray(0, n);
      }
    } finally {
      closeSync(fd);
    }
  }
}

/** Lazy content of the host file at `path` (of `size` bytes). */
export function pathContent(path: string, size: number): Content {
  return new HostFileContent(undefined, path, size);
}

/** Lazy content of `name` in the host directory `dir` (the compact form the tree scan uses). */
export function dirFileContent(dir: HostDir, name: string, size: number): Content {
  return new HostFileContent(dir, name, size);
}
