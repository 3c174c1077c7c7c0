/**
 * CRC helpers, slicing-by-8 tables.
 * - crc32: IEEE 802.3 (reflected 0xEDB88320): gzip, GPT, zip.
 * - crc32c: Castagnoli (reflected 0x82F63B78): ext4 metadata_csum, jbd2.
 * - crc16: ANSI/IBM (reflected 0xA001): ext4 uninit_bg group descriptor checksums.
 * - crc32Be: IEEE polynomial 0x04C11DB7 not reflected (the kernel's crc32_be):
 *   jbd2's old transaction checksum (journal compat feature "checksum").
 *
 * `*Update(crc, data)` functions are raw: no pre/post inversion, exactly like
 * the kernel's crc32c_le()/crc16(). ext4 uses crc32cUpdate(~0, ...) chains.
 * `crc32(data)` / `crc32c(data)` are the conventional form (init ~0, final ~).
 */
function makeTables(poly: number): Uint32Array[] {
  const t: Uint32Array[] = [];
  const t0 = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ poly : c >>> 1;
    t0[i] = c >>> 0;
  }
  t.push(t0);
  for (let s = 1; s < 8; s++) {
    const ts = new Uint32Array(256);
    const prev = t[s - 1]!;
    for (let i = 0; i < 256; i++) ts[i] = (prev[i]! >>> 8) ^ t0[prev[i]! & 0xff]!;
    t.push(ts);
  }
  return t;
}

function makeUpdate(poly: number) {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = makeTables(poly) as [
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
    Uint32Array,
  ];
  return (crc: number, data: Uint8Array, start = 0, end = data.length): number => {
    let c = crc >>> 0;
    let i = start;
    const n8 = end - ((end - i) & 7);
    while (i < n8) {
      const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
      c =
        t7[a & 0xff]! ^
        t6[(a >>> 8) & 0xff]! ^
        t5[(a >>> 16) & 0xff]! ^
        t4[a >>> 24]! ^
        t3[data[i + 4]!]! ^
        t2[data[i + 5]!]! ^
        t1[data[i + 6]!]! ^
        t0[data[i + 7]!]!;
      i += 8;
    }
    while (i < end) c = t0[(c ^ data[i++]!) & 0xff]! ^ (c >>> 8);
    return c >>> 0;
  };
}

const CRC32_POLY = 0xedb88320;
/** CRC32C's polynomial, reflected. */
const CRC32C_POLY = 0x82f63b78;

export const crc32Update = makeUpdate(CRC32_POLY);
export const crc32cUpdate = makeUpdate(CRC32C_POLY);

/** a * b modulo the CRC32C polynomial (reflected; x^0 is bit 31), as zlib's multmodp. */
function multModP(a: number, b: number): number {
  let p = 0;
  for (let m = 0x80000000; ; m >>>= 1) {
    if (a & m) {
      p ^= b;
      if ((a & (m - 1)) === 0) break;
    }
    b = b & 1 ? (b >>> 1) ^ CRC32C_POLY : b >>> 1;
  }
  return p >>> 0;
}

/** x^(2^k) modulo the polynomial, k = 0..31. */
const X2N = (() => {
  const t = new Uint32Array(32);
  let p = 0x40000000; // x^1
  t[0] = p;
  for (let n = 1; n < 32; n++) t[n] = p = multModP(p, p);
  return t;
})();

/**
 * crc32cUpdate(crc, n zero bytes) without reading them: the raw CRC register
 * times x^(8n) modulo the polynomial (zlib's crc32_combine step). (ext4's
 * directory blocks are mostly zeros after their last entry.)
 */
export function crc32cZeros(crc: number, n: number): number {
  if (n <= 0) return crc >>> 0;
  let p = 0x80000000; // x^0
  for (let k = 3; n > 0; n = Math.floor(n / 2), k++) if (n & 1) p = multModP(X2N[k & 31]!, p);
  return multModP(p, crc >>> 0);
}

export function crc32(data: Uint8Array, prev = 0): number {
  return ~crc32Update(~prev >>> 0, data) >>> 0;
}
export function crc32c(data: Uint8Array, prev = 0): number {
  return ~crc32cUpdate(~prev >>> 0, data) >>> 0;
}

const CRC16_TABLE = (() => {
  const t = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xa001 : c >>> 1;
    t[i] = c;
  }
  return t;
})();

/** Raw CRC16 (poly 0x8005 reflected), as the kernel's crc16(crc, buf, len). */
export function crc16Update(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = crc & 0xffff;
  for (let i = start; i < end; i++) c = (c >>> 8) ^ CRC16_TABLE[(c ^ data[i]!) & 0xff]!;
  return c;
}

const CRC32_BE_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i << 24;
    for (let k = 0; k < 8; k++) c = c & 0x80000000 ? (c << 1) ^ 0x04c11db7 : c << 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** Raw big-endian CRC32 (poly 0x04C11DB7, MSB first), as the kernel's crc32_be(crc, buf, len). */
export function crc32BeUpdate(crc: number, data: Uint8Array, start = 0, end = data.length): number {
  let c = crc >>> 0;
  for (let i = start; i < end; i++) c = ((c << 8) ^ CRC32_BE_TABLE[((c >>> 24) ^ data[i]!) & 0xff]!) >>> 0;
  return c;
}
