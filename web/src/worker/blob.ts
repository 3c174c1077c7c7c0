/**
 * Blobs and Files as the core's inputs, in a dedicated worker:
 * FileReaderSync reads any slice synchronously, which is what the
 * synchronous BlockDevice and TarSource interfaces need.
 */
import type { Content } from '../../../src/core/tree/types.js';
import { RandomSource, WINDOW } from './source.js';

let reader: FileReaderSync | undefined;

/** Bytes [start, end) of a Blob, read now. */
export function readBlob(blob: Blob, start: number, end: number): Uint8Array {
  reader ??= new FileReaderSync();
  return new Uint8Array(reader.readAsArrayBuffer(blob.slice(start, end)));
}

/** A read-only device over a Blob (an image to inspect, a tarball to index). */
export function blobSource(blob: Blob): RandomSource {
  return new RandomSource(blob.size, (s, e) => readBlob(blob, s, e));
}

/** The Blob's bytes in order, in WINDOW-sized chunks; `tick` sees each chunk's length. */
export async function* blobChunks(blob: Blob, tick?: (n: number) => void): AsyncGenerator<Uint8Array> {
  for (let at = 0; at < blob.size; at += WINDOW) {
    const chunk = readBlob(blob, at, Math.min(blob.size, at + WINDOW));
    tick?.(chunk.length);
    yield chunk;
  }
}

/** A file's content, read from its Blob when a writer copies it (nothing is loaded up front). */
export function blobContent(blob: Blob): Content {
  return {
    size: blob.size,
    stream: () => blobChunks(blob),
    readAt: (pos, len) => readBlob(blob, Math.min(pos, blob.size), Math.min(blob.size, pos + len)),
    readInto(pos, target) {
      const part = readBlob(blob, Math.min(pos, blob.size), Math.min(blob.size, pos + target.length));
      target.set(part);
      return part.length;
    },
  };
}
