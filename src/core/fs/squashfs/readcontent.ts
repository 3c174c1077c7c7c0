/**
 * Sequential reading of a Content into caller-owned buffers, whatever the
 * content offers (readInto, readAt or only a stream), and byte comparison of
 * two contents (duplicate detection). A content that yields a different
 * number of bytes than it declares is a HostIOError naming the path.
 */
import { HostIOError } from '../../errors.js';
import type { Content } from '../../tree/types.js';

export class ContentReader {
  private pos = 0;
  private iter: AsyncIterator<Uint8Array> | undefined;
  private carry: Uint8Array | undefined;

  constructor(
    private readonly content: Content,
    private readonly path: string,
  ) {}

  /** Fill `target` completely with the next bytes (the caller never asks past the declared size). */
  async fill(target: Uint8Array): Promise<void> {
    if (this.fillSync(target)) return;
    await this.fillFromStream(target);
  }

  /** fill() for a positional content (readInto or readAt), on the spot; false (nothing read) for a stream. */
  fillSync(target: Uint8Array): boolean {
    const c = this.content;
    if (!c.readInto && !c.readAt) return false;
    let off = 0;
    while (off < target.length) {
      let n: number;
      if (c.readInto) n = c.readInto(this.pos + off, off === 0 ? target : target.subarray(off));
      else {
        const part = c.readAt!(this.pos + off, target.length - off);
        target.set(part.subarray(0, target.length - off), off);
        n = Math.min(part.length, target.length - off);
      }
      if (!(n > 0)) throw this.short(this.pos + off);
      off += n;
    }
    this.pos += target.length;
    return true;
  }

  private async fillFromStream(target: Uint8Array): Promise<void> {
    let off = 0;
    while (off < target.length) {
      if (!this.carry || this.carry.length === 0) {
        this.iter ??= this.content.stream()[Symbol.asyncIterator]();
        const r = await this.iter.next();
        if (r.done) throw this.short(this.pos + off);
        this.carry = r.value;
        continue;
      }
      const n = Math.min(this.carry.length, target.length - off);
      target.set(this.carry.subarray(0, n), off);
      this.carry = this.carry.subarray(n);
      off += n;
    }
    this.pos += target.length;
  }

  /** Skip `n` bytes (positional contents only: the writer skips holes it knows from dataRanges). */
  skip(n: number): void {
    this.pos += n;
  }

  /** After the last fill: a stream must have nothing left. */
  async end(): Promise<void> {
    if (!this.iter) return;
    if (this.carry && this.carry.length) throw this.long();
    const r = await this.iter.next();
    if (!r.done && r.value.length) throw this.long();
    await this.iter.return?.();
  }

  async close(): Promise<void> {
    await this.iter?.return?.();
  }

  private short(got: number): HostIOError {
    return new HostIOError(
      'E_IO_CONTENT_SIZE',
      `${this.path}: content yielded only ${got} bytes, ${this.content.size} were declared (did the file change while being read?)`,
      {
        path: this.path,
        expected: this.content.size,
        actual: got,
      },
    );
  }

  private long(): HostIOError {
    return new HostIOError(
      'E_IO_CONTENT_SIZE',
      `${this.path}: content yielded more than its declared ${this.content.size} bytes`,
      {
        path: this.path,
        expected: this.content.size,
      },
    );
  }
}

const CHUNK = 1 << 20;

/** Call `fn` with consecutive chunks of `content` (reusing one buffer). */
export async function forEachChunk(content: Content, path: string, fn: (chunk: Uint8Array) => void): Promise<void> {
  const r = new ContentReader(content, path);
  const buf = new Uint8Array(Math.min(CHUNK, Math.max(1, content.size)));
  try {
    for (let pos = 0; pos < content.size; pos += buf.length) {
      const part = buf.subarray(0, Math.min(buf.length, content.size - pos));
      await r.fill(part);
      fn(part);
    }
    await r.end();
  } finally {
    await r.close();
  }
}

/** Are two contents of the same declared size byte-for-byte equal? */
export async function sameBytes(a: Content, pa: string, b: Content, pb: string): Promise<boolean> {
  if (a.size !== b.size) return false;
  const ra = new ContentReader(a, pa);
  const rb = new ContentReader(b, pb);
  const n = Math.min(CHUNK, Math.max(1, a.size));
  const ba = new Uint8Array(n);
  const bb = new Uint8Array(n);
  try {
    for (let pos = 0; pos < a.size; pos += n) {
      const len = Math.min(n, a.size - pos);
      await ra.fill(ba.subarray(0, len));
      await rb.fill(bb.subarray(0, len));
      for (let i = 0; i < len; i++) if (ba[i] !== bb[i]) return false;
    }
    return true;
  } finally {
    await ra.close();
    await rb.close();
  }
}
