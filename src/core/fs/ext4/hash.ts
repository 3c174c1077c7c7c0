/**
 * Directory-index (htree) name hashes: legacy, half-MD4 and TEA, signed and
 * unsigned char variants, as described in the kernel's ext4 documentation
 * (Documentation/filesystems/ext4/directory.rst, "Hash Tree Directories").
 * The result has bit 0 clear; 0xfffffffe is reserved as the end marker.
 */
import { DX_HASH } from './structs.js';

function legacyHash(name: Uint8Array, signed: boolean): number {
  let h0 = 0x12a3fe2d;
  let h1 = 0x37abe8f9;
  for (let i = 0; i < name.length; i++) {
    const c = signed ? (name[i]! << 24) >> 24 : name[i]!;
    let h = (h1 + ((h0 ^ Math.imul(c, 7152373)) >>> 0)) >>> 0;
    if (h & 0x80000000) h = (h - 0x7fffffff) >>> 0;
    h1 = h0;
    h0 = h;
  }
  return (h0 << 1) >>> 0;
}

/** Pack up to num*4 name bytes into num words, padded with a length pattern. */
function packWords(name: Uint8Array, start: number, len: number, out: Uint32Array, num: number, signed: boolean): void {
  let pad = (len | (len << 8)) >>> 0;
  pad = (pad | (pad << 16)) >>> 0;
  let val = pad;
  const n = Math.min(len, num * 4);
  let w = 0;
  for (let i = 0; i < n; i++) {
    const c = signed ? (name[start + i]! << 24) >> 24 : name[start + i]!;
    val = (c + ((val << 8) >>> 0)) >>> 0;
    if (i % 4 === 3) {
      out[w++] = val;
      val = pad;
    }
  }
  if (w < num) out[w++] = val;
  while (w < num) out[w++] = pad;
}

const K2 = 0o13240474631;
const K3 = 0o15666365641;

/**
 * half_md4's three rounds written out (the kernel's F, G, H and rotations
 * inline): a large directory hashes every name once when it is planned,
 * before the code is optimized, so a call per step would cost more than the
 * step itself.
 */
function halfMd4(buf: Uint32Array, x: Uint32Array): void {
  let a = buf[0]!,
    b = buf[1]!,
    c = buf[2]!,
    d = buf[3]!;
  const x0 = x[0]!,
    x1 = x[1]!,
    x2 = x[2]!,
    x3 = x[3]!,
    x4 = x[4]!,
    x5 = x[5]!,
    x6 = x[6]!,
    x7 = x[7]!;
  let t: number;
  // round 1
  t = (a + ((d ^ (b & (c ^ d))) >>> 0) + x0) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((c ^ (a & (b ^ c))) >>> 0) + x1) >>> 0;
  d = ((t << 7) | (t >>> 25)) >>> 0;
  t = (c + ((b ^ (d & (a ^ b))) >>> 0) + x2) >>> 0;
  c = ((t << 11) | (t >>> 21)) >>> 0;
  t = (b + ((a ^ (c & (d ^ a))) >>> 0) + x3) >>> 0;
  b = ((t << 19) | (t >>> 13)) >>> 0;
  t = (a + ((d ^ (b & (c ^ d))) >>> 0) + x4) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((c ^ (a & (b ^ c))) >>> 0) + x5) >>> 0;
  d = ((t << 7) | (t >>> 25)) >>> 0;
  t = (c + ((b ^ (d & (a ^ b))) >>> 0) + x6) >>> 0;
  c = ((t << 11) | (t >>> 21)) >>> 0;
  t = (b + ((a ^ (c & (d ^ a))) >>> 0) + x7) >>> 0;
  b = ((t << 19) | (t >>> 13)) >>> 0;
  // round 2
  t = (a + ((((b & c) >>> 0) + (((b ^ c) & d) >>> 0)) >>> 0) + x1 + K2) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((((a & b) >>> 0) + (((a ^ b) & c) >>> 0)) >>> 0) + x3 + K2) >>> 0;
  d = ((t << 5) | (t >>> 27)) >>> 0;
  t = (c + ((((d & a) >>> 0) + (((d ^ a) & b) >>> 0)) >>> 0) + x5 + K2) >>> 0;
  c = ((t << 9) | (t >>> 23)) >>> 0;
  t = (b + ((((c & d) >>> 0) + (((c ^ d) & a) >>> 0)) >>> 0) + x7 + K2) >>> 0;
  b = ((t << 13) | (t >>> 19)) >>> 0;
  t = (a + ((((b & c) >>> 0) + (((b ^ c) & d) >>> 0)) >>> 0) + x0 + K2) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((((a & b) >>> 0) + (((a ^ b) & c) >>> 0)) >>> 0) + x2 + K2) >>> 0;
  d = ((t << 5) | (t >>> 27)) >>> 0;
  t = (c + ((((d & a) >>> 0) + (((d ^ a) & b) >>> 0)) >>> 0) + x4 + K2) >>> 0;
  c = ((t << 9) | (t >>> 23)) >>> 0;
  t = (b + ((((c & d) >>> 0) + (((c ^ d) & a) >>> 0)) >>> 0) + x6 + K2) >>> 0;
  b = ((t << 13) | (t >>> 19)) >>> 0;
  // round 3
  t = (a + ((b ^ c ^ d) >>> 0) + x3 + K3) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((a ^ b ^ c) >>> 0) + x7 + K3) >>> 0;
  d = ((t << 9) | (t >>> 23)) >>> 0;
  t = (c + ((d ^ a ^ b) >>> 0) + x2 + K3) >>> 0;
  c = ((t << 11) | (t >>> 21)) >>> 0;
  t = (b + ((c ^ d ^ a) >>> 0) + x6 + K3) >>> 0;
  b = ((t << 15) | (t >>> 17)) >>> 0;
  t = (a + ((b ^ c ^ d) >>> 0) + x1 + K3) >>> 0;
  a = ((t << 3) | (t >>> 29)) >>> 0;
  t = (d + ((a ^ b ^ c) >>> 0) + x5 + K3) >>> 0;
  d = ((t << 9) | (t >>> 23)) >>> 0;
  t = (c + ((d ^ a ^ b) >>> 0) + x0 + K3) >>> 0;
  c = ((t << 11) | (t >>> 21)) >>> 0;
  t = (b + ((c ^ d ^ a) >>> 0) + x4 + K3) >>> 0;
  b = ((t << 15) | (t >>> 17)) >>> 0;
  buf[0] = (buf[0]! + a) >>> 0;
  buf[1] = (buf[1]! + b) >>> 0;
  buf[2] = (buf[2]! + c) >>> 0;
  buf[3] = (buf[3]! + d) >>> 0;
}

function tea(buf: Uint32Array, x: Uint32Array): void {
  let sum = 0;
  let b0 = buf[0]!,
    b1 = buf[1]!;
  const a = x[0]!,
    b = x[1]!,
    c = x[2]!,
    d = x[3]!;
  for (let n = 0; n < 16; n++) {
    sum = (sum + 0x9e3779b9) >>> 0;
    b0 = (b0 + ((((b1 << 4) + a) ^ (b1 + sum) ^ ((b1 >>> 5) + b)) >>> 0)) >>> 0;
    b1 = (b1 + ((((b0 << 4) + c) ^ (b0 + sum) ^ ((b0 >>> 5) + d)) >>> 0)) >>> 0;
  }
  buf[0] = (buf[0]! + b0) >>> 0;
  buf[1] = (buf[1]! + b1) >>> 0;
}

/** Seed words from the superblock's 16 s_hash_seed bytes (four u32le). */
export function seedWords(seed: Uint8Array): Uint32Array {
  const dv = new DataView(seed.buffer, seed.byteOffset, 16);
  return Uint32Array.of(dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(8, true), dv.getUint32(12, true));
}

/** The hash state and one chunk of packed name words, reused by every call (no allocation per name). */
const BUF = new Uint32Array(4);
const X = new Uint32Array(8);

/** Feeds the name to `mix` in chunks of `words` 32-bit words (half_md4: 8, tea: 4), packed as the kernel's str2hashbuf does. */
function mixChunks(name: Uint8Array, words: number, signed: boolean, md4: boolean): void {
  for (let p = 0, len = name.length; len > 0; p += words * 4, len -= words * 4) {
    packWords(name, p, len, X, words, signed);
    if (md4) halfMd4(BUF, X);
    else tea(BUF, X);
  }
}

/**
 * dirHash into `out`: out[0] the hash, out[1] the minor hash, without an
 * object per name (the writer hashes every name of a large directory).
 */
export function dirHashInto(name: Uint8Array, version: number, seed: Uint32Array | undefined, out: Uint32Array): void {
  const buf = BUF;
  if (seed && (seed[0] || seed[1] || seed[2] || seed[3])) {
    buf[0] = seed[0]!;
    buf[1] = seed[1]!;
    buf[2] = seed[2]!;
    buf[3] = seed[3]!;
  } else {
    buf[0] = 0x67452301;
    buf[1] = 0xefcdab89;
    buf[2] = 0x98badcfe;
    buf[3] = 0x10325476;
  }
  let hash: number;
  let minor = 0;
  switch (version) {
    case DX_HASH.legacy:
    case DX_HASH.legacy_unsigned:
      hash = legacyHash(name, version === DX_HASH.legacy);
      break;
    case DX_HASH.half_md4:
    case DX_HASH.half_md4_unsigned: {
      mixChunks(name, 8, version === DX_HASH.half_md4, true);
      hash = buf[1]!;
      minor = buf[2]!;
      break;
    }
    case DX_HASH.tea:
    case DX_HASH.tea_unsigned: {
      mixChunks(name, 4, version === DX_HASH.tea, false);
      hash = buf[0]!;
      minor = buf[1]!;
      break;
    }
    default:
      throw new RangeError(`unsupported htree hash version ${version}`);
  }
  hash = (hash & ~1) >>> 0;
  if (hash === 0xfffffffe) hash = 0xfffffffc;
  out[0] = hash;
  out[1] = minor;
}

const OUT = new Uint32Array(2);

/**
 * Hash of a name for htree version `version` (DX_HASH.*; the caller has
 * already added 3 for the unsigned variants when s_flags says so).
 * Returns { hash, minor }.
 */
export function dirHash(name: Uint8Array, version: number, seed?: Uint32Array): { hash: number; minor: number } {
  dirHashInto(name, version, seed, OUT);
  return { hash: OUT[0]!, minor: OUT[1]! };
}
