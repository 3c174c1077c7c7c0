/**
 * Stored (uncompressed) deflate blocks, RFC 1951 3.2.4: a header byte with
 * BFINAL and BTYPE 00 (the rest of the byte is padding, so the stream must
 * be byte-aligned where they start), LEN and NLEN, then the bytes. They end
 * byte-aligned too, so whatever deflate data follows may start after them.
 */
import { putU16le } from '../binary/bytes.js';

/** Most bytes one stored block holds. */
export const STORED_MAX = 65535;
/** The header byte and LEN, NLEN before a stored block's bytes. */
const STORED_HEADER = 5;
const BFINAL = 1;

/** Bytes that `len` bytes take as stored deflate blocks (one header per 65535 bytes, at least one). */
export function storedSize(len: number): number {
  return len + STORED_HEADER * Math.max(1, Math.ceil(len / STORED_MAX));
}

/** Write `data` as stored deflate blocks at out[o]; the last one final if `last`. Returns the new offset. */
export function writeStored(out: Uint8Array, o: number, data: Uint8Array, last: boolean): number {
  const count = Math.max(1, Math.ceil(data.length / STORED_MAX));
  for (let k = 0; k < count; k++) {
    const part = data.subarray(k * STORED_MAX, Math.min(data.length, (k + 1) * STORED_MAX));
    out[o] = last && k === count - 1 ? BFINAL : 0;
    putU16le(out, o + 1, part.length);
    putU16le(out, o + 3, ~part.length & 0xffff);
    out.set(part, o + STORED_HEADER);
    o += STORED_HEADER + part.length;
  }
  return o;
}
