/**
 * pax extended header records (POSIX.1-2001 "pax Interchange Format"):
 * "%d %s=%s\n", the length counting the whole record including itself.
 * Values are bytes: SCHILY.xattr.* values are raw attribute bytes, not text.
 */
import { FormatError } from '../../errors.js';

export interface PaxRecord {
  key: string;
  value: Uint8Array;
}

const enc = new TextEncoder();
const dec = new TextDecoder();
const SPACE = 0x20,
  EQUALS = 0x3d,
  NEWLINE = 0x0a;

function bad(what: string, member: string, offset: number, at: number): FormatError {
  return new FormatError(
    'E_FORMAT_TAR_PAX',
    `tar: pax header of ${member} at offset ${offset}: ${what} (record at byte ${at} of the header data)`,
    { format: 'tar', structure: 'pax', offset, path: member },
  );
}

/** Parse every record of a pax header's data, in order (duplicates kept: GNU.sparse 0.0 repeats keys). */
export function parsePax(data: Uint8Array, member: string, offset: number): PaxRecord[] {
  const out: PaxRecord[] = [];
  let p = 0;
  while (p < data.length) {
    if (data[p] === 0) break; // NUL padding after the last record (some writers)
    let len = 0,
      i = p,
      digits = 0;
    for (; i < data.length && data[i] !== SPACE; i++) {
      const c = data[i]!;
      if (c < 0x30 || c > 0x39 || ++digits > 12) throw bad('record length is not a decimal number', member, offset, p);
      len = len * 10 + (c - 0x30);
    }
    if (digits === 0 || i >= data.length) throw bad('record has no length', member, offset, p);
    if (len < i - p + 3 || p + len > data.length)
      throw bad(`record length ${len} runs past the header data (${data.length} bytes)`, member, offset, p);
    if (data[p + len - 1] !== NEWLINE) throw bad('record does not end with a newline', member, offset, p);
    const body = data.subarray(i + 1, p + len - 1);
    const eq = body.indexOf(EQUALS);
    if (eq <= 0) throw bad('record has no keyword', member, offset, p);
    out.push({ key: dec.decode(body.subarray(0, eq)), value: body.slice(eq + 1) });
    p += len;
  }
  return out;
}

/** One record, its length prefix computed (the length counts its own digits). */
export function paxRecord(key: string, value: Uint8Array | string): Uint8Array {
  const v = typeof value === 'string' ? enc.encode(value) : value;
  const k = enc.encode(key);
  const rest = k.length + v.length + 3; // space, '=', newline
  let len = rest + String(rest).length;
  if (String(len).length !== String(rest).length) len = rest + String(len).length;
  const head = enc.encode(`${len} ${key}=`);
  const out = new Uint8Array(len);
  out.set(head, 0);
  out.set(v, head.length);
  out[len - 1] = NEWLINE;
  return out;
}

/** Text of a pax value (UTF-8). */
export function paxText(v: Uint8Array): string {
  return dec.decode(v);
}

/**
 * A pax time ("1700000000.123456789", "-1.5") as seconds + nanoseconds, or
 * undefined when it is not a decimal number. Digits past nanoseconds are cut.
 */
export function parsePaxTime(s: string): { sec: number; nsec: number } | undefined {
  const m = /^(-?)(\d{1,16})(?:\.(\d*))?$/.exec(s);
  if (!m) return undefined;
  const whole = Number(m[2]);
  const frac = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (m[1] !== '-') return { sec: whole, nsec: frac };
  return frac === 0 ? { sec: -whole, nsec: 0 } : { sec: -whole - 1, nsec: 1e9 - frac };
}

/** A time for a pax record: shortest decimal that keeps every nanosecond. */
export function formatPaxTime(t: { sec: number; nsec: number }): string {
  if (t.nsec === 0) return String(t.sec);
  const neg = t.sec < 0;
  const sec = neg ? -(t.sec + 1) : t.sec;
  const nsec = neg ? 1e9 - t.nsec : t.nsec;
  const frac = String(nsec).padStart(9, '0').replace(/0+$/, '');
  return `${neg ? '-' : ''}${sec}.${frac}`;
}
