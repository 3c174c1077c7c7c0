/**
 * ISO 9660 dates: the 7-byte binary date of directory records and Rock
 * Ridge TF entries (years 1900-2155, whole seconds, a GMT offset in
 * 15-minute units) and the 17-byte decimal date of volume descriptors.
 * Writers store UTC (offset 0); readers apply the offset.
 */
import { utcFields } from '../../binary/utc.js';
import { RECORD_DATE, RECORD_YEAR_MAX, RECORD_YEAR_MIN, VOLUME_DATE } from './structs.js';

const MIN_SEC = Date.UTC(RECORD_YEAR_MIN, 0, 1) / 1000;
const MAX_SEC = Date.UTC(RECORD_YEAR_MAX, 11, 31, 23, 59, 59) / 1000;
const QUARTER_HOUR = 15 * 60;
/** 9999-12-31T23:59:59Z, the last date four year digits hold. */
const MAX_VOLUME_SEC = 253402300799;

/** Unix seconds of a UTC calendar date (years below 100 are years, not 19xx). */
function utcSeconds(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime() / 1000;
}

/** Whether `sec` (Unix seconds) fits a 7-byte date. */
export function recordDateFits(sec: number): boolean {
  return sec >= MIN_SEC && sec <= MAX_SEC;
}

/** Clamp Unix seconds into the range of a 7-byte date. */
export function clampRecordSeconds(sec: number): number {
  return Math.min(MAX_SEC, Math.max(MIN_SEC, Math.floor(sec)));
}

/** The last date encoded: trees repeat their times, and its 7 bytes are copied rather than encoded again. */
let lastSec = NaN;
const lastDate = new Uint8Array(RECORD_DATE.size);

/** Encode Unix seconds (clamped to 1900..2155) as a 7-byte UTC date into `out` at `offset`. */
export function encodeRecordDate(sec: number, out: Uint8Array, offset: number): void {
  if (sec !== lastSec) {
    encodeDate(sec, lastDate);
    lastSec = sec;
  }
  out.set(lastDate, offset);
}

function encodeDate(sec: number, out: Uint8Array): void {
  const t = utcFields(clampRecordSeconds(sec));
  RECORD_DATE.encode({ ...t, year: t.year - RECORD_YEAR_MIN, gmtOffset: 0 }, out);
}

/** Signed GMT offset in seconds, or 0 when the byte is out of its range (-48..52). */
function offsetSeconds(b: number): number {
  const q = b > 127 ? b - 256 : b;
  return q >= -48 && q <= 52 ? q * QUARTER_HOUR : 0;
}

/**
 * Decode a 7-byte date to Unix seconds: 0 for an all-zero (unrecorded)
 * date, undefined for fields out of range (readers keep going, as the Linux
 * kernel does, and use another time).
 */
export function decodeRecordDate(buf: Uint8Array, offset: number): number | undefined {
  const d = RECORD_DATE.decode(buf, offset);
  if (d.month === 0 && d.day === 0 && d.year === 0) return 0;
  if (d.month < 1 || d.month > 12 || d.day < 1 || d.day > 31 || d.hour > 23 || d.minute > 59 || d.second > 60)
    return undefined;
  const utc = utcSeconds(d.year + RECORD_YEAR_MIN, d.month, d.day, d.hour, d.minute, d.second);
  return utc - offsetSeconds(d.gmtOffset);
}

const digits = (n: number, w: number) => String(n).padStart(w, '0');

/** A 17-byte volume date for Unix seconds (UTC; years outside 1..9999 are clamped). */
export function encodeVolumeDate(sec: number): Uint8Array {
  const t = utcFields(Math.min(MAX_VOLUME_SEC, Math.max(MIN_SEC, Math.floor(sec))));
  const text =
    digits(t.year, 4) +
    digits(t.month, 2) +
    digits(t.day, 2) +
    digits(t.hour, 2) +
    digits(t.minute, 2) +
    digits(t.second, 2) +
    '00';
  return VOLUME_DATE.encode({ digits: new TextEncoder().encode(text), gmtOffset: 0 });
}

/** The "not specified" volume date: sixteen '0' digits and a zero offset. */
export function unspecifiedVolumeDate(): Uint8Array {
  return VOLUME_DATE.encode({ digits: new TextEncoder().encode('0'.repeat(16)), gmtOffset: 0 });
}

/** Decode a 17-byte volume date to Unix seconds, or undefined when unspecified or malformed. */
export function decodeVolumeDate(b: Uint8Array): number | undefined {
  const v = VOLUME_DATE.decode(b);
  const s = String.fromCharCode(...v.digits);
  if (!/^\d{16}$/.test(s) || /^0+$/.test(s)) return undefined;
  const n = (a: number, w: number) => Number(s.slice(a, a + w));
  const [y, mo, d, h, mi, se] = [n(0, 4), n(4, 2), n(6, 2), n(8, 2), n(10, 2), n(12, 2)];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) return undefined;
  return utcSeconds(y, mo, d, h, mi, se) - offsetSeconds(v.gmtOffset);
}
