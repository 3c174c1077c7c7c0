/**
 * Block compression for squashfs, behind two small interfaces so the format
 * code stays pure: the writer takes an asynchronous BlockCompressor (the
 * Node layer's runs node:zlib on libuv's threads, see compress-node.ts), the
 * reader a synchronous decompressor. squashfs "gzip" is a zlib stream
 * (RFC 1950) per block, as the kernel's zlib_wrapper inflates it.
 *
 * Pure default: fflate (zlibSync / unzlibSync), the pure-JS deflate the
 * project already depends on. Its output differs from node:zlib's, so the
 * bytes of an image depend on the compressor as well as on the tree and
 * options (each one is deterministic).
 */
import { unzlibSync, zlibSync } from 'fflate';
import { decompress as unzstd } from 'fzstd';
import { zstdEncoder } from '../../compress/zstd.js';
import { FormatError, UsageError } from '../../errors.js';
import { COMPRESSION, type CompressionName } from './structs.js';

export interface BlockCompressor {
  /** The superblock's compression id. */
  readonly name: CompressionName;
  /** How many compress() calls the writer may keep in flight (1 = one at a time). */
  readonly concurrency: number;
  /**
   * Compress one block (a data block, a fragment block or an 8 KiB metadata
   * block). The writer stores the block uncompressed when the result is not
   * smaller than the input, so returning the input itself means "store".
   */
  compress(block: Uint8Array): Promise<Uint8Array>;
  /**
   * The same compression on the calling thread (optional). Metadata blocks
   * (8 KiB, written one after another) use it when present: handing each to
   * a thread costs more than compressing it. Must give the same bytes as
   * compress().
   */
  compressSync?(block: Uint8Array): Uint8Array;
  /** Release threads or workers (optional). */
  close?(): void;
}

/** Decompress `data` into at most `max` bytes; a stream that would exceed `max` is a FormatError. */
export type BlockDecompressor = (data: Uint8Array, max: number) => Uint8Array;

export const DEFAULT_GZIP_LEVEL = 9;
/** mksquashfs's default -Xcompression-level for zstd. */
export const DEFAULT_ZSTD_LEVEL = 15;
/** The compressions the writer can write (the reader also reads these). */
export const WRITABLE_COMPRESSIONS: readonly CompressionName[] = ['gzip', 'zstd'];

/** A compression name the writer can write, or a UsageError naming the ones it can. */
export function checkCompression(name: string): CompressionName {
  if (!(WRITABLE_COMPRESSIONS as readonly string[]).includes(name)) {
    throw new UsageError(
      'E_USAGE_SQUASHFS_COMPRESSION',
      `squashfs compression '${name}' is not available for writing; available: ${WRITABLE_COMPRESSIONS.join(', ')}`,
      { field: 'compression', actual: name, expected: WRITABLE_COMPRESSIONS.join(', ') },
    );
  }
  return name as CompressionName;
}

/**
 * zstd, as mksquashfs -comp zstd writes it: one frame per block, declaring
 * its size, from zstd itself compiled to WebAssembly (@bokuweb/zstd-wasm,
 * the encoder `repack` uses for .tar.zst), one block at a time on the
 * calling thread. Level 1..22 (default 15, mksquashfs's). Resolves once
 * the WebAssembly module is loaded (on first use, not at import).
 */
export async function zstdCompressor(level = DEFAULT_ZSTD_LEVEL): Promise<BlockCompressor> {
  const lvl = checkLevel(level, 'zstd');
  const zstdCompress = await zstdEncoder();
  const sync = (block: Uint8Array): Uint8Array => zstdCompress(block, lvl);
  return { name: 'zstd', concurrency: 1, compress: (block) => Promise.resolve(sync(block)), compressSync: sync };
}

/** A compression level the compressor takes: gzip 1..9, zstd 1..22 (mksquashfs's -Xcompression-level). */
export function checkLevel(level: number, compression: 'gzip' | 'zstd' = 'gzip'): number {
  const max = compression === 'zstd' ? 22 : 9;
  if (!Number.isInteger(level) || level < 1 || level > max) {
    throw new UsageError('E_USAGE_SQUASHFS_LEVEL', `${compression} level ${level} is not an integer from 1 to ${max}`, {
      field: 'level',
      actual: level,
    });
  }
  return level;
}

/** The pure gzip compressor (fflate), one block at a time on the calling thread. */
export function fflateCompressor(level = DEFAULT_GZIP_LEVEL): BlockCompressor {
  const lvl = checkLevel(level) as 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
  return {
    name: 'gzip',
    concurrency: 1,
    compress: (block) => Promise.resolve(zlibSync(block, { level: lvl })),
    compressSync: (block) => zlibSync(block, { level: lvl }),
  };
}

/**
 * A decompressor bounded to `max` bytes: the codec gets a buffer one byte
 * longer (both stop at the buffer's end), so output that fills it is too
 * long. Any failure inside the codec is corrupt data.
 */
function bounded(name: string, codec: (data: Uint8Array, out: Uint8Array) => Uint8Array): BlockDecompressor {
  return (data, max) => {
    let out: Uint8Array;
    try {
      out = codec(data, new Uint8Array(max + 1));
    } catch (e) {
      throw new FormatError(
        'E_FORMAT_SQUASHFS_DECOMPRESS',
        `squashfs: a ${name} block does not decompress: ${(e as Error).message}`,
        { format: 'squashfs' },
      );
    }
    if (out.length > max) {
      throw new FormatError('E_FORMAT_SQUASHFS_DECOMPRESS', `squashfs: a ${name} block expands past ${max} bytes`, {
        format: 'squashfs',
        expected: max,
      });
    }
    return out;
  };
}

const ZSTD_MAGIC = 0xfd2fb528;

/**
 * Decompressed size a zstd frame declares (Frame_Content_Size), or -1 when
 * it has none. fzstd fills a given buffer without saying how much it wrote,
 * so the reader needs the size (mksquashfs's frames always carry it).
 */
function zstdContentSize(d: Uint8Array): number {
  if (d.length < 6 || (d[0]! | (d[1]! << 8) | (d[2]! << 16) | (d[3]! << 24)) >>> 0 !== ZSTD_MAGIC) return -1;
  const flg = d[4]!;
  const single = (flg >> 5) & 1,
    dictFlag = flg & 3,
    fcsFlag = flg >> 6;
  const size = fcsFlag ? 1 << fcsFlag : single;
  if (size === 0) return -1;
  const at = 5 + (single ? 0 : 1) + (dictFlag === 3 ? 4 : dictFlag);
  if (at + size > d.length) return -1;
  let v = 0;
  for (let i = size - 1; i >= 0; i--) v = v * 256 + d[at + i]!;
  return fcsFlag === 1 ? v + 256 : v;
}

function zstdBlock(d: Uint8Array, out: Uint8Array): Uint8Array {
  const n = zstdContentSize(d);
  if (n < 0) throw new Error('not a zstd frame with a content size');
  if (n >= out.length) return out;
  unzstd(d, out);
  return out.subarray(0, n);
}

/**
 * Decompressors the reader knows, by compression id: gzip with fflate, zstd
 * with fzstd (pure TypeScript, by fflate's author; the writer's zstd is the
 * WebAssembly encoder above).
 */
const DECOMPRESSORS: Partial<Record<number, BlockDecompressor>> = {
  [COMPRESSION.gzip]: bounded('gzip (zlib)', (d, out) => unzlibSync(d, { out })),
  [COMPRESSION.zstd]: bounded('zstd', zstdBlock),
};

export function decompressorFor(id: number): BlockDecompressor | undefined {
  return DECOMPRESSORS[id];
}

export function compressionName(id: number): string {
  for (const [k, v] of Object.entries(COMPRESSION)) if (v === id) return k;
  return `unknown (${id})`;
}

const hist = new Uint32Array(256);
const seen = new Int32Array(1 << 13);

function bitsPerByte(n: number): number {
  let sum = 0;
  for (let k = 0; k < 256; k++) {
    const c = hist[k]!;
    if (c) sum += c * Math.log2(c);
  }
  return Math.log2(n) - sum / n;
}

const PIECE = 4096;

/**
 * Does `block` look like random bytes (already compressed data, encrypted
 * data, random test files)? Deflate only ever stores such blocks, so the
 * writer skips the attempt. Three cheap tests must all say "random":
 * - every 4 KiB piece has an order-0 entropy of at least 7.8 bits per byte
 *   over every 2nd byte (text measures 3-5, machine code 5-6.5, random data
 *   ~7.9 on such a sample), so a fragment block mixing random files with a
 *   little text is still compressed;
 * - the difference of each sampled byte to the next one looks random too
 *   (counters and arithmetic patterns have flat histograms but constant
 *   differences);
 * - no repeated 4-byte sequence among the first 8 KiB (a random chunk
 *   repeated with a short period has flat histograms too).
 * Random data repeated at a period longer than 8 KiB inside one block is
 * stored rather than compressed. Blocks under 16 KiB are always tried.
 */
export function looksIncompressible(block: Uint8Array): boolean {
  if (block.length < 16384) return false;
  for (let p = 0; p + 1024 <= block.length; p += PIECE) {
    const end = Math.min(block.length, p + PIECE);
    hist.fill(0);
    let n = 0;
    for (let i = p; i < end; i += 2) {
      hist[block[i]!]!++;
      n++;
    }
    if (bitsPerByte(n) < 7.8) return false;
  }
  hist.fill(0);
  let n = 0;
  for (let i = 0; i + 1 < block.length; i += 8) {
    hist[(block[i + 1]! - block[i]!) & 0xff]!++;
    n++;
  }
  if (bitsPerByte(n) < 7.9) return false;
  return !shortRepeats(block);
}

function shortRepeats(block: Uint8Array): boolean {
  seen.fill(-1);
  let repeats = 0;
  const end = Math.min(block.length - 3, 8192);
  for (let i = 0; i < end; i++) {
    const w = (block[i]! | (block[i + 1]! << 8) | (block[i + 2]! << 16) | (block[i + 3]! << 24)) >>> 0;
    const h = Math.imul(w, 0x9e3779b1) >>> 19;
    const j = seen[h]!;
    if (
      j >= 0 &&
      block[j] === block[i] &&
      block[j + 1] === block[i + 1] &&
      block[j + 2] === block[i + 2] &&
      block[j + 3] === block[i + 3]
    ) {
      if (++repeats > 8) return true;
    }
    seen[h] = i;
  }
  return false;
}
