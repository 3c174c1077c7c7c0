/**
 * zstd output. The byte stream is cut into frames of `frameSize` bytes
 * (default 4 MiB), each compressed by zstd itself compiled to WebAssembly
 * (@bokuweb/zstd-wasm, which compresses one buffer at a time). A zstd
 * stream is any number of frames one after another (RFC 8878, 3.1): zstd,
 * fzstd and the kernel read it as one stream, and memory stays at one frame
 * in and one out, whatever the input's size. Same bytes in, same bytes out.
 */
import { UsageError } from '../errors.js';
import type { ByteSource } from './gzip.js';

export interface ZstdOptions {
  /** zstd level 1..19 (default 3, zstd's own default). */
  level?: number | undefined;
  /** Input bytes per frame (default 4 MiB; at least 64 KiB). */
  frameSize?: number | undefined;
}

const DEFAULT_FRAME = 4 << 20;
/** The WebAssembly encoder, loaded and initialised when zstd is first written (not when this module is imported). */
let ready: Promise<(buf: Uint8Array, level: number) => Uint8Array> | undefined;

export function checkZstdLevel(level: number | undefined): number {
  const l = level ?? 3;
  if (!Number.isInteger(l) || l < 1 || l > 19)
    throw new UsageError('E_USAGE_LEVEL', `zstd level must be an integer from 1 to 19, got ${l}`, {
      field: 'level',
      actual: l,
    });
  return l;
}

/**
 * zstd's own compressor (buffer in, one frame out), loaded and initialised
 * on first use: the squashfs writer's zstd blocks and zstdChunks share it.
 */
export function zstdEncoder(): Promise<(buf: Uint8Array, level: number) => Uint8Array> {
  ready ??= import('@bokuweb/zstd-wasm').then(async (m) => {
    await m.init();
    return m.compress;
  });
  return ready;
}

/** Compress a byte stream into zstd frames (see the module comment). */
export async function* zstdChunks(source: ByteSource, opts: ZstdOptions = {}): AsyncGenerator<Uint8Array> {
  const level = checkZstdLevel(opts.level);
  const frame = Math.max(64 << 10, opts.frameSize ?? DEFAULT_FRAME);
  const compress = await zstdEncoder();
  const buf = new Uint8Array(frame);
  let fill = 0;
  let frames = 0;
  for await (const chunk of source) {
    for (let off = 0; off < chunk.length;) {
      const n = Math.min(frame - fill, chunk.length - off);
      buf.set(chunk.subarray(off, off + n), fill);
      fill += n;
      off += n;
      if (fill === frame) {
        yield compress(buf, level);
        frames++;
        fill = 0;
      }
    }
  }
  // an empty stream is still one (empty) frame
  if (fill > 0 || frames === 0) yield compress(buf.subarray(0, fill), level);
}
