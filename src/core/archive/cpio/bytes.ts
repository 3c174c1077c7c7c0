/**
 * A pull reader over a chunked byte stream: exact reads across chunk
 * boundaries, skipping, peeking and handing the unread remainder on (e.g. to
 * a decompressor). It never allocates more than the caller asks for and
 * only what has actually arrived.
 */
export class ByteReader {
  private chunks: Uint8Array[] = [];
  private head = 0; // offset into chunks[0]
  private buffered = 0;
  private done = false;
  /** Bytes consumed so far (the stream position). */
  position = 0;
  private readonly it: AsyncIterator<Uint8Array>;

  constructor(source: Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>) {
    if (source instanceof Uint8Array) {
      this.chunks = source.length ? [source] : [];
      this.buffered = source.length;
      this.done = true;
      this.it = { next: async () => ({ done: true, value: undefined }) };
    } else if (Symbol.asyncIterator in source) {
      this.it = source[Symbol.asyncIterator]();
    } else {
      const sync = (source as Iterable<Uint8Array>)[Symbol.iterator]();
      this.it = { next: async () => sync.next() };
    }
  }

  /** Pull chunks until at least `n` bytes are buffered or the stream ends. Returns the buffered count. */
  async fill(n: number): Promise<number> {
    while (this.buffered < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const c = r.value;
      if (!(c instanceof Uint8Array)) throw new TypeError('cpio source must yield Uint8Array chunks');
      if (c.length) {
        this.chunks.push(c);
        this.buffered += c.length;
      }
    }
    return this.buffered;
  }

  /** True when no byte is left. */
  async atEnd(): Promise<boolean> {
    return (await this.fill(1)) === 0;
  }

  /** Up to `n` buffered bytes without consuming (fills first). */
  async peek(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.copyOut(Math.min(n, this.buffered), false);
  }

  /** Exactly `n` bytes, or fewer only at end of stream. */
  async read(n: number): Promise<Uint8Array> {
    await this.fill(n);
    return this.copyOut(Math.min(n, this.buffered), true);
  }

  /** The next piece of at most `max` bytes (zero-copy when possible); empty at end of stream. */
  async readSome(max: number): Promise<Uint8Array> {
    if (this.buffered === 0) await this.fill(1);
    if (this.buffered === 0) return new Uint8Array(0);
    const c = this.chunks[0]!;
    const n = Math.min(max, c.length - this.head);
    const out = c.subarray(this.head, this.head + n);
    this.advance(n);
    return out;
  }

  /** Skip NUL bytes; returns how many were skipped. */
  async skipZeros(): Promise<number> {
    let skipped = 0;
    for (;;) {
      if (this.buffered === 0 && (await this.fill(1)) === 0) return skipped;
      const c = this.chunks[0]!;
      let i = this.head;
      while (i < c.length && c[i] === 0) i++;
      const n = i - this.head;
      skipped += n;
      this.advance(n);
      if (i < c.length) return skipped;
    }
  }

  /** The unread remainder as a stream (buffered bytes first). The reader must not be used afterwards. */
  async *rest(): AsyncGenerator<Uint8Array> {
    while (this.chunks.length) {
      const c = this.chunks.shift()!;
      const piece = c.subarray(this.head);
      this.head = 0;
      this.buffered -= piece.length;
      this.position += piece.length;
      if (piece.length) yield piece;
    }
    while (!this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      this.position += r.value.length;
      if (r.value.length) yield r.value;
    }
  }

  private advance(n: number): void {
    this.position += n;
    this.buffered -= n;
    while (n > 0) {
      const c = this.chunks[0]!;
      const left = c.length - this.head;
      if (n < left) {
        this.head += n;
        return;
      }
      n -= left;
      this.chunks.shift();
      this.head = 0;
    }
    if (this.chunks.length && this.head === this.chunks[0]!.length) {
      this.chunks.shift();
      this.head = 0;
    }
  }

  private copyOut(n: number, consume: boolean): Uint8Array {
    const first = this.chunks[0];
    let out: Uint8Array;
    if (first && first.length - this.head >= n) {
      out = first.subarray(this.head, this.head + n);
    } else {
      out = new Uint8Array(n);
      let off = 0;
      let h = this.head;
      for (const c of this.chunks) {
        if (off >= n) break;
        const take = Math.min(n - off, c.length - h);
        out.set(c.subarray(h, h + take), off);
        off += take;
        h = 0;
      }
    }
    if (consume) this.advance(n);
    return out;
  }
}
