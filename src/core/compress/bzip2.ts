/**
 * Streaming bzip2 decoding with the small pull decoder that unbzip2-stream
 * ships (lib/bzip2.js, after Rob Landley's micro-bunzip), driven here
 * without Node streams or Buffer: compressed input is queued until a whole
 * block (at most 100 kB x level + slack) is buffered, then one block is
 * decoded. Concatenated streams (pbzip2) are decoded one after another.
 */
import bz2 from 'unbzip2-stream/lib/bzip2.js';
import bitIterator from 'unbzip2-stream/lib/bit_iterator.js';
import { FormatError } from '../errors.js';

const SLACK = 25000;
const BLOCK_UNIT = 100000;

class Grow {
  buf = new Uint8Array(1 << 20);
  n = 0;
  push = (b: number) => {
    if (this.n === this.buf.length) {
      const next = new Uint8Array(this.buf.length * 2);
      next.set(this.buf);
      this.buf = next;
    }
    this.buf[this.n++] = b;
  };
  take(): Uint8Array {
    const out = this.buf.slice(0, this.n);
    this.n = 0;
    return out;
  }
}

export async function* bunzip2Chunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const queue: Uint8Array[] = [];
  let head = 0; // queue[head] is the next chunk the bit reader takes (no shift(): O(1) per chunk)
  let received = 0;
  let blockSize = 0;
  let streamCrc: number | null = null;
  let bits: ReturnType<typeof bitIterator> | undefined;
  const out = new Grow();
  const step = (): boolean => {
    bits ??= bitIterator(() => {
      const c = queue[head];
      queue[head++] = undefined as unknown as Uint8Array;
      if (head > 1024) {
        queue.splice(0, head);
        head = 0;
      }
      return c;
    });
    try {
      if (!blockSize) {
        blockSize = bz2.header(bits);
        streamCrc = 0;
        return false;
      }
      const size = BLOCK_UNIT * blockSize;
      streamCrc = bz2.decompress(bits, out.push, new Int32Array(size), size, streamCrc);
      if (streamCrc === null) blockSize = 0;
      return true;
    } catch (e) {
      throw new FormatError(
        'E_FORMAT_BZIP2',
        `bzip2: the compressed data is damaged or truncated near input byte ${bits.bytesRead}: ${e instanceof Error ? e.message : String(e)}`,
        { format: 'bzip2', offset: bits.bytesRead },
        { cause: e },
      );
    }
  };
  for await (const chunk of source) {
    if (!chunk.length) continue;
    queue.push(chunk);
    received += chunk.length;
    while (received - (bits?.bytesRead ?? 0) + 1 >= (blockSize ? SLACK + BLOCK_UNIT * blockSize : 4)) {
      step();
      if (out.n) yield out.take();
    }
  }
  while (received > (bits?.bytesRead ?? 0)) {
    step();
    if (out.n) yield out.take();
  }
  if (received === 0 || streamCrc !== null) {
    throw new FormatError('E_FORMAT_BZIP2', `bzip2: the input ends inside a stream (after ${received} bytes)`, {
      format: 'bzip2',
      offset: received,
    });
  }
}
