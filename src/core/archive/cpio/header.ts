/**
 * The newc ("SVR4 portable, no CRC", magic 070701) and crc (070702) cpio
 * header: 110 ASCII bytes, a 6-byte magic then thirteen 8-digit hex fields.
 *
 * The layout is declared once, as a `defineStruct` table of byte fields
 * (so `layoutProblems()` checks it like every other on-disk struct); the hex
 * encode/decode below are derived from that table, never from offsets
 * written a second time.
 */
import { defineStruct, seq } from '../../binary/struct.js';
import { FormatError } from '../../errors.js';

export const NEWC_MAGIC = '070701';
export const CRC_MAGIC = '070702';
export const HEADER_SIZE = 110;
export const TRAILER_NAME = 'TRAILER!!!';
/** Longest name (incl. the NUL) the reader accepts: PATH_MAX. */
export const MAX_NAMESIZE = 4096;

const HEX_FIELDS = [
  'ino',
  'mode',
  'uid',
  'gid',
  'nlink',
  'mtime',
  'filesize',
  'devmajor',
  'devminor',
  'rdevmajor',
  'rdevminor',
  'namesize',
  'check',
] as const;
export type HexField = (typeof HEX_FIELDS)[number];

export const NEWC_HEADER = defineStruct(
  'cpio newc header',
  HEADER_SIZE,
  seq([['magic', 'bytes', 6], ...HEX_FIELDS.map((n) => [n, 'bytes', 8] as const)]),
);

export type NewcHeader = { magic: string } & Record<HexField, number>;

/** [name, offset] of every hex field, derived from the table. */
const HEX_LAYOUT: ReadonlyArray<readonly [HexField, number]> = HEX_FIELDS.map(
  (n) => [n, NEWC_HEADER.offsetOf(n)] as const,
);
const MAGIC_OFFSET = NEWC_HEADER.offsetOf('magic');

const HEX = new TextEncoder().encode('0123456789abcdef');
/** gen_init_cpio writes its hex fields in upper case (%08X). */
const HEX_UPPER = new TextEncoder().encode('0123456789ABCDEF');

/** Index of each hex field in the value arrays `encodeNewcValues` takes (the table's order). */
export const NEWC_FIELD: Readonly<Record<HexField, number>> = Object.fromEntries(
  HEX_FIELDS.map((n, i) => [n, i]),
) as Record<HexField, number>;
const HEX_OFFSETS = Int32Array.from(HEX_LAYOUT, ([, off]) => off);
const NEWC_MAGIC_BYTES = new TextEncoder().encode(NEWC_MAGIC);

/**
 * Write a header from its 13 field values in table order (`NEWC_FIELD`),
 * each 0..2^32-1, into `out` at `offset`: the writer's per-entry path, with
 * no object per header. `magic` defaults to newc.
 */
export function encodeNewcValues(
  vals: ArrayLike<number>,
  out: Uint8Array,
  offset: number,
  upper = false,
  magic: Uint8Array = NEWC_MAGIC_BYTES,
): void {
  const digits = upper ? HEX_UPPER : HEX;
  for (let i = 0; i < 6; i++) out[offset + MAGIC_OFFSET + i] = magic[i]!;
  for (let f = 0; f < HEX_OFFSETS.length; f++) {
    let v = vals[f]! >>> 0;
    const base = offset + HEX_OFFSETS[f]!;
    for (let i = 7; i >= 0; i--) {
      out[base + i] = digits[v & 15]!;
      v >>>= 4;
    }
  }
}

/**
 * A header kept from entry to entry: `update` re-encodes only the fields
 * that changed since the previous entry (the inode number, size and name
 * length do; the type, owner, time and device numbers mostly do not), then
 * the writer copies the 110 bytes in one call.
 */
export class NewcTemplate {
  readonly bytes = new Uint8Array(HEADER_SIZE);
  private readonly last = new Float64Array(HEX_FIELDS.length);
  constructor(
    private readonly upper = false,
    magic: Uint8Array = NEWC_MAGIC_BYTES,
  ) {
    encodeNewcValues(this.last, this.bytes, 0, upper, magic);
  }

  update(vals: ArrayLike<number>): Uint8Array {
    const digits = this.upper ? HEX_UPPER : HEX;
    const { bytes, last } = this;
    for (let f = 0; f < HEX_OFFSETS.length; f++) {
      let v = vals[f]! >>> 0;
      if (v === last[f]) continue;
      last[f] = v;
      const base = HEX_OFFSETS[f]!;
      for (let i = 7; i >= 0; i--) {
        bytes[base + i] = digits[v & 15]!;
        v >>>= 4;
      }
    }
    return bytes;
  }
}

/** Write the 110-byte header into `out` at `offset`. Values must be 0..2^32-1 (checked by the writer). */
export function encodeNewcHeader(
  h: Omit<NewcHeader, 'magic'> & { magic?: string },
  out: Uint8Array,
  offset: number,
  upper = false,
): void {
  const magic = h.magic ?? NEWC_MAGIC;
  encodeNewcValues(
    HEX_FIELDS.map((n) => h[n]),
    out,
    offset,
    upper,
    Uint8Array.from(magic.slice(0, 6), (c) => c.charCodeAt(0)),
  );
}

function hexDigit(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 97 && c <= 102) return c - 87;
  if (c >= 65 && c <= 70) return c - 55;
  return -1;
}

/**
 * Decode a header from `buf` at `at` (`offset` is the archive position used
 * in errors). Throws FormatError E_FORMAT_CPIO_MAGIC / E_FORMAT_CPIO_HEX.
 */
export function decodeNewcHeader(buf: Uint8Array, at: number, offset: number): NewcHeader {
  let magic = '';
  for (let i = 0; i < 6; i++) magic += String.fromCharCode(buf[at + MAGIC_OFFSET + i]!);
  if (magic !== NEWC_MAGIC && magic !== CRC_MAGIC) {
    const hint =
      magic === '070707'
        ? ' (this is the old portable "odc" format; only newc is supported)'
        : (buf[at] === 0xc7 && buf[at + 1] === 0x71) || (buf[at] === 0x71 && buf[at + 1] === 0xc7)
          ? ' (this is the old binary cpio format; only newc is supported)'
          : '';
    throw new FormatError(
      'E_FORMAT_CPIO_MAGIC',
      `cpio: bad header magic ${JSON.stringify(magic)} at offset ${offset}, expected "070701"${hint}`,
      { format: 'cpio', structure: NEWC_HEADER.name, field: 'magic', offset, expected: NEWC_MAGIC, actual: magic },
    );
  }
  const h = { magic } as NewcHeader;
  for (const [name, off] of HEX_LAYOUT) {
    let v = 0;
    for (let i = 0; i < 8; i++) {
      const d = hexDigit(buf[at + off + i]!);
      if (d < 0) {
        const raw = String.fromCharCode(...buf.subarray(at + off, at + off + 8));
        throw new FormatError(
          'E_FORMAT_CPIO_HEX',
          `cpio: header field ${name} at offset ${offset + off} is not 8 hex digits: ${JSON.stringify(raw)}`,
          { format: 'cpio', structure: NEWC_HEADER.name, field: name, offset: offset + off, actual: raw },
        );
      }
      v = v * 16 + d;
    }
    h[name] = v;
  }
  return h;
}

/** Bytes needed to pad `n` up to a multiple of 4. */
export function pad4(n: number): number {
  return (4 - (n & 3)) & 3;
}
