/** Small byte-array helpers the core uses where Node code would reach for Buffer. */

/** Whether a and b hold the same bytes. */
export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Lowercase hexadecimal. */
export function toHex(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i++) s += (b[i]! < 16 ? '0' : '') + b[i]!.toString(16);
  return s;
}

/** A string that is equal for equal byte arrays and different otherwise (one char per byte), for use as a Map key. */
export function bytesKey(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, Math.min(b.length, i + 8192)));
  return s;
}

/** The parts one after another in one new array; `n` is their total length when the caller has counted it. */
export function concatBytes(parts: readonly Uint8Array[], n = parts.reduce((s, p) => s + p.length, 0)): Uint8Array {
  const out = new Uint8Array(n);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * Store `n` as a little-endian u16 at `off` (masked, as the struct encoder
 * does): for hot writers that set a few fields without a DataView or a
 * record (offsets from the struct tables).
 */
export function putU16le(b: Uint8Array, off: number, n: number): void {
  b[off] = n & 0xff;
  b[off + 1] = (n >>> 8) & 0xff;
}

/** Store `n` as a little-endian u32 at `off` (see putU16le). */
export function putU32le(b: Uint8Array, off: number, n: number): void {
  b[off] = n & 0xff;
  b[off + 1] = (n >>> 8) & 0xff;
  b[off + 2] = (n >>> 16) & 0xff;
  b[off + 3] = (n >>> 24) & 0xff;
}

/** The little-endian u32 at `off`. */
export function getU32le(b: Uint8Array, off: number): number {
  return (b[off]! | (b[off + 1]! << 8) | (b[off + 2]! << 16) | (b[off + 3]! << 24)) >>> 0;
}
