/** Content sources that need no host I/O. Host files: see host/content.ts. */
import { CapacityError } from '../errors.js';
import type { Content } from './types.js';

const CHUNK = 1 << 20;

/** Content held in memory. */
export function bytesContent(data: Uint8Array | string): Content {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return {
    size: bytes.length,
    async *stream() {
      if (bytes.length) yield bytes;
    },
    readAt(pos, len) {
      return bytes.subarray(pos, Math.min(bytes.length, pos + len));
    },
    readInto(pos, target) {
      const part = bytes.subarray(Math.min(pos, bytes.length), Math.min(bytes.length, pos + target.length));
      target.set(part);
      return part.length;
    },
  };
}

/**
 * Content from a stream factory: called each time the content is read, so a
 * writer can read it more than once. The size must be known up front (cpio
 * and ext4 headers hold it); a stream that yields a different number of
 * bytes makes the writer fail.
 */
export function streamContent(size: number, open: () => AsyncIterable<Uint8Array>): Content {
  return { size, stream: open };
}

/** A sparse content: `size` bytes of zeros except the given data ranges. */
export function sparseContent(size: number, ranges: Array<{ offset: number; data: Uint8Array }>): Content {
  const sorted = [...ranges].sort((a, b) => a.offset - b.offset);
  const readAt = (pos: number, len: number) => {
    const end = Math.min(size, pos + len);
    const out = new Uint8Array(Math.max(0, end - pos));
    for (const r of sorted) {
      const s = Math.max(pos, r.offset);
      const e = Math.min(end, r.offset + r.data.length);
      if (s < e) out.set(r.data.subarray(s - r.offset, e - r.offset), s - pos);
    }
    return out;
  };
  return {
    size,
    async *stream() {
      for (let p = 0; p < size; p += CHUNK) yield readAt(p, CHUNK);
    },
    readAt,
    dataRanges: () => sorted.map((r) => [r.offset, r.offset + r.data.length] as [number, number]),
  };
}

/** Largest content readContent() will hold in memory; stream anything bigger. */
export const MAX_IN_MEMORY = 2 ** 31 - 1;

/** Read a whole content into memory (for small files and tests). */
export async function readContent(c: Content): Promise<Uint8Array> {
  if (c.size > MAX_IN_MEMORY)
    throw new CapacityError(
      'E_LIMIT_MEMORY',
      `content of ${c.size} bytes is too large to read into memory; stream it with content.stream()`,
      { actual: c.size, expected: MAX_IN_MEMORY },
    );
  if (c.readInto) {
    // straight into the result: no intermediate buffer to copy and collect
    const out = new Uint8Array(c.size);
    let off = 0;
    while (off < c.size) {
      const n = c.readInto(off, out.subarray(off));
      if (!(n > 0)) break;
      off += n;
    }
    if (off !== c.size) throw new RangeError(`content yielded ${off} bytes, declared ${c.size}`);
    return out;
  }
  if (c.readAt) return c.readAt(0, c.size).slice();
  const out = new Uint8Array(c.size);
  let off = 0;
  for await (const chunk of c.stream()) {
    if (off + chunk.length > c.size) throw new RangeError(`content yielded more than its declared ${c.size} bytes`);
    out.set(chunk, off);
    off += chunk.length;
  }
  if (off !== c.size) throw new RangeError(`content yielded ${off} bytes, declared ${c.size}`);
  return out;
}
