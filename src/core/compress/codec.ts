/**
 * Streaming decompression behind one small interface, detected by magic
 * bytes (never by file name). Pure: gzip through fflate (the project's one
 * inflate path; gunzip.ts adds the CRC and size checks), zstd through fzstd, xz through
 * xz-decompress (xz-embedded compiled to WebAssembly), bzip2 through the
 * decoder of unbzip2-stream (bzip2.ts). docs/tar.md says why these.
 * Every decoder but gzip's is loaded when a stream first needs it, so
 * importing this module costs only the detection.
 */
import { FormatError, UsageError } from '../errors.js';
import { gzipChunks, type ByteSource } from './gzip.js';
import { zstdChunks } from './zstd.js';
import { gunzipVerified, type GunzipOptions } from './gunzip.js';

export type Codec = 'gzip' | 'zstd' | 'xz' | 'bzip2' | 'none';

/** Magic numbers of the supported codecs (RFC 1952, RFC 8878, xz file format 1.1, bzip2). */
export const CODEC_MAGIC: ReadonlyArray<readonly [Exclude<Codec, 'none'>, readonly number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
  ['bzip2', [0x42, 0x5a, 0x68]],
];
/** Bytes detectCodec needs to decide (fewer only at the end of the input). */
export const CODEC_HEAD = 6;

/** The codec whose magic starts `head`, or 'none'. bzip2 also needs a valid block-size digit. */
export function detectCodec(head: Uint8Array): Codec {
  for (const [codec, magic] of CODEC_MAGIC) {
    if (head.length < magic.length || !magic.every((b, i) => head[i] === b)) continue;
    if (codec === 'bzip2' && !(head[3]! >= 0x31 && head[3]! <= 0x39)) continue;
    return codec;
  }
  return 'none';
}

function fail(codec: Codec, e: unknown, at: number): FormatError {
  const why = e instanceof Error ? e.message : String(e);
  return new FormatError(
    `E_FORMAT_${codec.toUpperCase()}`,
    `${codec}: the compressed data is damaged or truncated near input byte ${at}: ${why}`,
    { format: codec, offset: at },
    { cause: e },
  );
}

/** Drive a push decoder (fflate / fzstd shape) from an async source, yielding what it produces. */
async function* pushDecoder(
  codec: Codec,
  source: AsyncIterable<Uint8Array>,
  make: (ondata: (d: Uint8Array, final: boolean) => void) => { push(c: Uint8Array, final?: boolean): unknown },
): AsyncGenerator<Uint8Array> {
  const out: Uint8Array[] = [];
  let ended = false;
  const dec = make((d, final) => {
    if (d.length) out.push(d);
    if (final) ended = true;
  });
  let at = 0;
  for await (const chunk of source) {
    try {
      dec.push(chunk, false);
    } catch (e) {
      throw fail(codec, e, at);
    }
    at += chunk.length;
    while (out.length) yield out.shift()!;
  }
  try {
    dec.push(new Uint8Array(0), true);
  } catch (e) {
    throw fail(codec, e, at);
  }
  while (out.length) yield out.shift()!;
  if (!ended) throw fail(codec, new Error('unexpected end of input'), at);
}

interface MinimalReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}
type StreamCtor = new (src: unknown) => { getReader(): MinimalReader };

async function* xzChunks(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const it = source[Symbol.asyncIterator]();
  let at = 0;
  const RS = (globalThis as unknown as { ReadableStream: StreamCtor }).ReadableStream;
  const input = new RS({
    async pull(c: { enqueue(b: Uint8Array): void; close(): void }) {
      const r = await it.next();
      if (r.done) c.close();
      else {
        at += r.value.length;
        c.enqueue(r.value);
      }
    },
    async cancel() {
      await it.return?.();
    },
  });
  // loaded when first needed: it builds on web streams and WebAssembly, which a bundle
  // of the core must not require at import time
  const mod = (await import('xz-decompress')) as unknown as {
    XzReadableStream?: StreamCtor;
    default?: { XzReadableStream: StreamCtor };
  };
  const Xz = (mod.XzReadableStream ?? mod.default?.XzReadableStream)!;
  const reader = new Xz(input).getReader();
  let finished = false;
  try {
    for (;;) {
      let r;
      try {
        r = await reader.read();
      } catch (e) {
        finished = true;
        throw fail('xz', e, at);
      }
      if (r.done) {
        finished = true;
        return;
      }
      if (r.value?.length) yield r.value;
    }
  } finally {
    // a consumer that stops early must release the decoder (its WebAssembly state is shared)
    if (!finished) await reader.cancel().catch(() => undefined);
  }
}

async function* zstdDecoded(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const { Decompress } = await import('fzstd');
  yield* pushDecoder('zstd', source, (ondata) => new Decompress((d, final) => ondata(d, !!final)));
}

async function* bzip2Decoded(source: AsyncIterable<Uint8Array>): AsyncGenerator<Uint8Array> {
  const { bunzip2Chunks } = await import('./bzip2.js');
  yield* bunzip2Chunks(source);
}

export type DecompressOptions = GunzipOptions;

/** Decompress `source` (compressed with `codec`) as a stream of chunks; 'none' passes it through. */
export function decompressStream(
  codec: Codec,
  source: AsyncIterable<Uint8Array>,
  opts: DecompressOptions = {},
): AsyncIterable<Uint8Array> {
  switch (codec) {
    case 'none':
      return source;
    case 'gzip':
      return gunzipVerified(source, opts);
    case 'zstd':
      return zstdDecoded(source);
    case 'xz':
      return xzChunks(source);
    case 'bzip2':
      return bzip2Decoded(source);
  }
}

/** Peek at the first bytes of a stream to detect its codec; returns the codec and the whole stream, unconsumed. */
export async function sniffCodec(
  source: AsyncIterable<Uint8Array>,
): Promise<{ codec: Codec; stream: AsyncIterable<Uint8Array> }> {
  const it = source[Symbol.asyncIterator]();
  const head: Uint8Array[] = [];
  let have = 0;
  let done = false;
  while (have < CODEC_HEAD) {
    const r = await it.next();
    if (r.done) {
      done = true;
      break;
    }
    head.push(r.value);
    have += r.value.length;
  }
  const joined = new Uint8Array(have);
  let o = 0;
  for (const h of head) {
    joined.set(h, o);
    o += h.length;
  }
  async function* all(): AsyncGenerator<Uint8Array> {
    if (joined.length) yield joined;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { codec: detectCodec(joined), stream: all() };
}

/**
 * Compress a byte stream with `codec`: gzip (the registered encoder) or zstd
 * (frames, zstd.ts); 'none' passes it through. xz and bzip2 are read, not
 * written.
 */
export function compressStream(
  codec: Codec,
  chunks: ByteSource,
  opts: { level?: number | undefined } = {},
): AsyncIterable<Uint8Array> | Iterable<Uint8Array> {
  switch (codec) {
    case 'none':
      return chunks;
    case 'gzip':
      return gzipChunks(chunks, opts.level !== undefined ? { level: opts.level } : {});
    case 'zstd':
      return zstdChunks(chunks, opts);
    default:
      throw new UsageError('E_USAGE_CODEC', `${codec} can be read but not written (gzip and zstd are written)`, {
        actual: codec,
      });
  }
}
