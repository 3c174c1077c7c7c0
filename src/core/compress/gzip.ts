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
import { Gunzip, Gzip } from 'fflate';
import { crc32 } from '../binary/crc.js';
import { FormatError, UsageError } from '../errors.js';

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

const TRAILER = 8;
/** fflate reports a member when the next member's header is complete: headers (with FNAME, FEXTRA...) up to this long can be checked. */
const MAX_HEADER = 64 * 1024;
/** How far into trailing NULs the last trailer may end (its own zero bytes, and a deflate stream's). */
const MAX_ZERO_TAIL = 64;
/** fflate's code for a member header that is not gzip: after a complete member, that is trailing padding. */
const FFLATE_BAD_HEADER = 6;
/** fflate's code for input ending early: also what 1-3 bytes of padding look like. */
const FFLATE_EOF = 0;

/**
 * Checks each member's CRC-32 and ISIZE. fflate reports where each member
 * after the first starts; the trailer is the 8 bytes before that, and for
 * the last member the 8 bytes before the end (or before NUL padding).
 */
class MemberCheck {
  private crc = 0;
  private size = 0;
  /** A copy of the last input bytes before `cur`, and the chunk being pushed: the trailer before any header fflate can still be parsing lies in them. */
  private prev: Uint8Array = new Uint8Array(0);
  private cur: Uint8Array = new Uint8Array(0);
  /** Input offset of prev[0]. */
  private prevStart = 0;
  members = 0;
  consumed = 0;

  output(c: Uint8Array): void {
    this.crc = crc32(c, this.crc);
    this.size += c.length;
  }

  /** `c` is about to be pushed. */
  input(c: Uint8Array): void {
    const keep = TRAILER + MAX_HEADER;
    const all = this.prev.length + this.cur.length;
    if (this.cur.length >= keep) this.prev = this.cur.slice(this.cur.length - keep);
    else if (all > keep) {
      const joined = new Uint8Array(keep);
      const fromPrev = keep - this.cur.length;
      joined.set(this.prev.subarray(this.prev.length - fromPrev));
      joined.set(this.cur, fromPrev);
      this.prev = joined;
    } else {
      const joined = new Uint8Array(all);
      joined.set(this.prev);
      joined.set(this.cur, this.prev.length);
      this.prev = joined;
    }
    this.prevStart = this.consumed - this.prev.length;
    this.cur = c;
    this.consumed += c.length;
  }

  private byteAt(offset: number): number {
    const i = offset - this.prevStart;
    return i < this.prev.length ? this.prev[i]! : this.cur[i - this.prev.length]!;
  }

  /** A member ended where the next one's header starts, at input offset `end`. */
  memberEnd(end: number): void {
    if (end - TRAILER < this.prevStart) {
      throw new FormatError(
        'E_FORMAT_GZIP',
        `gzip: member ${this.members + 2} has a header longer than ${MAX_HEADER} bytes`,
        { format: 'gzip', offset: end },
      );
    }
    const t = new Uint8Array(TRAILER);
    for (let i = 0; i < TRAILER; i++) t[i] = this.byteAt(end - TRAILER + i);
    this.checked(this.trailerOk(t, 0), end);
  }

  /** The last member ended somewhere in `tail` at or after `from` (the data, then NULs). */
  lastMemberEnd(tail: Uint8Array, from: number): void {
    let ok = false;
    for (let e = Math.max(from, TRAILER); e <= tail.length && !ok; e++) ok = this.trailerOk(tail, e - TRAILER);
    this.checked(ok, this.consumed);
  }

  /** `n` input bytes ending at `end` (fewer at the start of the input). */
  lastBytes(end: number, n: number): Uint8Array {
    const start = Math.max(this.prevStart, end - n);
    const out = new Uint8Array(end - start);
    for (let i = 0; i < out.length; i++) out[i] = this.byteAt(start + i);
    return out;
  }

  private trailerOk(b: Uint8Array, at: number): boolean {
    if (at < 0 || at + TRAILER > b.length) return false;
    const v = new DataView(b.buffer, b.byteOffset + at, TRAILER);
    return v.getUint32(0, true) === this.crc >>> 0 && v.getUint32(4, true) === this.size % 0x100000000;
  }

  private checked(ok: boolean, offset: number): void {
    if (!ok) {
      throw new FormatError(
        'E_FORMAT_GZIP',
        `gzip: member ${this.members + 1} fails its CRC-32/size check (${this.size} bytes decompressed)`,
        { format: 'gzip', offset },
      );
    }
    this.members++;
    this.crc = 0;
    this.size = 0;
  }
}

/**
 * Decompress a gzip stream: one or more concatenated members, NUL padding
 * after the last ignored (as the kernel's initramfs unpacker does). Every
 * member's CRC-32 and size are checked. Corrupt or truncated input throws
 * FormatError E_FORMAT_GZIP with the number of bytes decompressed so far.
 */
export async function* gunzipChunks(source: ByteSource | Uint8Array): AsyncGenerator<Uint8Array> {
  const input: ByteSource = source instanceof Uint8Array ? [source] : source;
  const check = new MemberCheck();
  let out: Uint8Array[] = [];
  let produced = 0;
  const g = new Gunzip((chunk) => {
    check.output(chunk);
    out.push(chunk);
    produced += chunk.length;
  });
  g.onmember = (offset) => check.memberEnd(offset);
  let zeros = 0; // trailing NUL bytes held back: padding if the stream ends there
  const push = (c: Uint8Array, final: boolean) => {
    check.input(c);
    try {
      g.push(c, final);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      throw new FormatError(
        'E_FORMAT_GZIP',
        `gzip: ${(e as Error).message} (${produced} bytes had been decompressed)`,
        { format: 'gzip', offset: check.consumed },
        { cause: e },
      );
    }
  };
  let sawInput = false;
  for await (const chunk of input) {
    if (chunk.length === 0) continue;
    sawInput = true;
    let end = chunk.length;
    while (end > 0 && chunk[end - 1] === 0) end--;
    if (end === 0) {
      zeros += chunk.length;
      continue;
    }
    if (zeros) push(new Uint8Array(zeros), false);
    push(chunk.subarray(0, end), false);
    zeros = chunk.length - end;
    for (const c of out) yield c;
    out = [];
  }
  if (!sawInput) throw new FormatError('E_FORMAT_GZIP', 'gzip: empty input', { format: 'gzip', offset: 0 });
  yield* finish(check, zeros, push, () => {
    const o = out;
    out = [];
    return o;
  });
}

function* finish(
  check: MemberCheck,
  zeros: number,
  push: (c: Uint8Array, f: boolean) => void,
  take: () => Uint8Array[],
): Generator<Uint8Array> {
  const dataEnd = check.consumed;
  const before = check.lastBytes(dataEnd, TRAILER);
  try {
    if (zeros === 0) push(new Uint8Array(0), true);
    for (let left = zeros; left > 0; left -= MAX_HEADER)
      push(new Uint8Array(Math.min(left, MAX_HEADER)), left <= MAX_HEADER);
  } catch (e) {
    // a new member began in the held-back NULs (or 1-3 of them ended the
    // input early): they are padding, unless the trailer check below fails
    const cause = (e as { cause?: { code?: number } }).cause;
    const padding = cause?.code === FFLATE_BAD_HEADER || cause?.code === FFLATE_EOF;
    if (!(e instanceof FormatError) || !padding || zeros === 0) throw e;
  }
  yield* take();
  // The last trailer ends at the end of the data or within the NULs that
  // follow (its own last bytes and even the deflate stream's may be zero).
  const tail = new Uint8Array(before.length + Math.min(zeros, MAX_ZERO_TAIL));
  tail.set(before);
  check.lastMemberEnd(tail, before.length);
}

export async function concatChunks(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of chunks) {
    parts.push(c);
    n += c.length;
  }
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
