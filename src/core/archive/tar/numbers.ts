/**
 * Header numbers: octal text (leading spaces/NULs, ended by a space or
 * NUL, as every tar writes) or GNU base-256 (first byte 0x80 positive,
 * 0xff negative; two's complement big-endian), and the header checksum.
 */
import { FormatError } from '../../errors.js';
import { BLOCK, TAR_HEADER } from './structs.js';

const CHK_OFF = TAR_HEADER.offsetOf('chksum');
const CHK_LEN = 8;
const SPACE = 0x20;

export function numberError(field: string, offset: number, what: string): FormatError {
  return new FormatError('E_FORMAT_TAR_NUMBER', `tar: header at offset ${offset}: ${field} ${what}`, {
    format: 'tar',
    structure: 'tar.header',
    field,
    offset,
  });
}

/** Parse a numeric header field; an all-NUL/space field is 0. Throws a FormatError naming the field. */
export function parseNumber(b: Uint8Array, field: string, offset: number): number {
  if (b.length && (b[0] === 0x80 || b[0] === 0xff)) return parseBase256(b, field, offset);
  let i = 0;
  while (i < b.length && (b[i] === SPACE || b[i] === 0)) i++;
  let v = 0;
  let digits = 0;
  for (; i < b.length; i++) {
    const c = b[i]!;
    if (c === SPACE || c === 0) break;
    if (c < 0x30 || c > 0x37) throw numberError(field, offset, `is not an octal number (byte 0x${c.toString(16)})`);
    v = v * 8 + (c - 0x30);
    digits++;
  }
  for (; i < b.length; i++)
    if (b[i] !== SPACE && b[i] !== 0) throw numberError(field, offset, 'has characters after its terminator');
  if (digits > 17 && !Number.isSafeInteger(v)) throw numberError(field, offset, 'is too large');
  return v;
}

function parseBase256(b: Uint8Array, field: string, offset: number): number {
  const negative = b[0] === 0xff;
  let v = 0;
  for (let i = 1; i < b.length; i++) {
    const byte = negative ? 0xff - b[i]! : b[i]!;
    v = v * 256 + byte;
    if (!Number.isSafeInteger(v)) throw numberError(field, offset, 'is a base-256 number too large for this reader');
  }
  return negative ? -(v + 1) : v;
}

/** Octal text of `value` in a field of `width` bytes: zero-padded digits then NUL (as GNU tar writes). */
export function formatOctal(value: number, width: number): Uint8Array {
  const out = new Uint8Array(width);
  const s = value.toString(8).padStart(width - 1, '0');
  if (s.length > width - 1) throw new RangeError(`${value} does not fit in ${width - 1} octal digits`);
  for (let i = 0; i < s.length; i++) out[i] = s.charCodeAt(i);
  return out;
}

/** Sum of the header bytes with the checksum field counted as spaces: [unsigned, signed] (old tars summed signed chars). */
export function headerSums(block: Uint8Array, at = 0): [number, number] {
  let u = 0,
    s = 0;
  for (let i = 0; i < BLOCK; i++) {
    const c = i >= CHK_OFF && i < CHK_OFF + CHK_LEN ? SPACE : block[at + i]!;
    u += c;
    s += c > 127 ? c - 256 : c;
  }
  return [u, s];
}

/** Write the checksum of a header built in `block` (6 octal digits, NUL, space: the POSIX way). */
export function setChecksum(block: Uint8Array, at = 0): void {
  const [sum] = headerSums(block, at);
  const digits = formatOctal(sum, 7);
  block.set(digits, at + CHK_OFF);
  block[at + CHK_OFF + 7] = SPACE;
}
