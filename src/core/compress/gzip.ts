/**
 * gzip (RFC 1952) in the core, on fflate: one encoder and the one inflate
 * path every reader uses (cpio.gz, tar.gz, compressed modules).
 *
 * Encoding is pluggable: `gzipChunks` calls the registered encoder, fflate's
 * by default. The Node layer registers its parallel encoder
 * (src/node/compress/gzip.ts) when 'tinyimage' is imported, so Node users get
 * both cores while browsers and other runtimes get fflate. Each encoder is
 * deterministic on its own; the two give different (equally valid) bytes.
 */
import { concatBytes } from '../binary/bytes.js';
import { UsageError } from '../errors.js';
import { gunzipVerified, type GunzipOptions } from './gunzip.js';

export interface GzipOptions {
  /** Compression level 1..9 (default 6, like gzip). 0 stores. */
  level?: number;
  /** Parallel encoders only: blocks compressed at once (default: every core). */
  threads?: number;
  /** Parallel encoders only: input block size in bytes (default 1 MiB). Part of the output's identity. */
  blockSize?: number;
  /** Parallel encoders only: store blocks that look incompressible (default true). */
  detectIncompressible?: boolean;
}

export type ByteSource = AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** Compresses a byte stream into one gzip member (mtime 0, no name). */
export type GzipEncoder = (source: ByteSource, opts?: GzipOptions) => AsyncGenerator<Uint8Array>;

export function checkGzipLevel(opts: GzipOptions): number {
  const level = opts.level ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new UsageError('E_USAGE_GZIP_LEVEL', `gzip level must be 0..9, got ${level}`, {
      field: 'level',
      actual: level,
    });
  }
  return level;
}

/** fflate's encoder, on the calling thread. */
export async function* fflateGzip(source: ByteSource, opts: GzipOptions = {}): AsyncGenerator<Uint8Array> {
  const level = checkGzipLevel(opts) as 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  const out: Uint8Array[] = [];
  const { Gzip } = await import('fflate'); // loaded when fflate first encodes (the Node layer's encoder is zlib's)
  const z = new Gzip({ level, mtime: 0 }, (chunk) => {
    out.push(chunk);
  });
  for await (const chunk of source) {
    z.push(chunk);
    while (out.length) yield out.shift()!;
  }
  z.push(new Uint8Array(0), true);
  while (out.length) yield out.shift()!;
}

let encoder: GzipEncoder = fflateGzip;

/** Make `e` the encoder behind gzipChunks (the Node layer registers its parallel one). */
export function setGzipEncoder(e: GzipEncoder): void {
  encoder = e;
}

/** Compress a byte stream into one gzip member with the registered encoder. */
export function gzipChunks(source: ByteSource, opts: GzipOptions = {}): AsyncGenerator<Uint8Array> {
  return encoder(source, opts);
}

/** gzip a byte array with the registered encoder. */
export async function gzipBytes(data: Uint8Array, opts: GzipOptions = {}): Promise<Uint8Array> {
  return concatChunks(gzipChunks([data], opts));
}

/**
 * Decompress a gzip stream (one or more concatenated members; NUL padding
 * after the last member is ignored, as the kernel's initramfs unpacker
 * does). Every member's CRC-32 and size are checked. Corrupt or truncated
 * input throws FormatError E_FORMAT_GZIP. The one inflate path: see gunzip.ts.
 */
export function gunzipChunks(source: ByteSource | Uint8Array, opts: GunzipOptions = {}): AsyncGenerator<Uint8Array> {
  return gunzipVerified(asAsync(source instanceof Uint8Array ? [source] : source), opts);
}

async function* asAsync(source: ByteSource): AsyncGenerator<Uint8Array> {
  for await (const c of source) yield c;
}

export async function concatChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
  }
  return concatBytes(parts, n);
}
