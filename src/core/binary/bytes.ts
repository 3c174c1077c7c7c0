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
