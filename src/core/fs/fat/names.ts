/**
 * FAT names: validation of long names, 8.3 short names (direct, with the
 * NT lower-case flags, or generated aliases with ~N tails), VFAT long-name
 * slots and their checksum, and DOS date/time encoding.
 */
import { PathError } from '../../errors.js';
import { NT_LOWER_BASE, NT_LOWER_EXT } from './structs.js';
import { utcFields } from '../../binary/utc.js';

/** Characters a FAT long name may not contain (besides controls < 0x20). */
const FORBIDDEN_LONG = new Set(['\\', '/', ':', '*', '?', '"', '<', '>', '|']);
/** Extra characters not allowed in a short name (replaced by '_' in aliases). */
const FORBIDDEN_SHORT = new Set(['+', ',', ';', '=', '[', ']']);
export const MAX_LFN_UNITS = 255;

/** Names that need no closer look: no forbidden or control character, no trailing dot or space. */
const PLAIN_LONG = /^[^\x00-\x1f\x7f\\/:*?"<>|]*[^\x00-\x1f\x7f\\/:*?"<>|. ]$/;

/** Throws a PathError naming `path` (called only then) when `name` cannot be a FAT long name. */
export function checkLongName(name: string, path: string | (() => string)): void {
  if (name.length <= MAX_LFN_UNITS && PLAIN_LONG.test(name)) return;
  if (typeof path === 'function') path = path();
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || FORBIDDEN_LONG.has(ch)) {
      const shown = c < 0x20 || c === 0x7f ? `control character 0x${c.toString(16).padStart(2, '0')}` : `'${ch}'`;
      throw new PathError(
        'E_PATH_FAT_CHAR',
        `${path}: FAT names may not contain ${shown} (forbidden: \\ / : * ? " < > | and control characters)`,
        { path, actual: ch },
      );
    }
  }
  if (name.endsWith('.') || name.endsWith(' ')) {
    throw new PathError(
      'E_PATH_FAT_TRAILING',
      `${path}: FAT names may not end with a dot or a space (they would be stripped)`,
      { path },
    );
  }
  if (name.length > MAX_LFN_UNITS) {
    throw new PathError(
      'E_PATH_FAT_NAME_TOO_LONG',
      `${path}: name is ${name.length} UTF-16 units, FAT long names hold at most ${MAX_LFN_UNITS}`,
      { path, actual: name.length, expected: MAX_LFN_UNITS },
    );
  }
}

/** Case-folded key used to detect names FAT would treat as the same. */
export function foldName(name: string): string {
  if (/^[\x00-\x7f]*$/.test(name)) return name.toUpperCase();
  let out = '';
  for (let i = 0; i < name.length; i++) {
    const ch = name[i]!;
    const up = ch.toUpperCase();
    out += up.length === 1 ? up : ch;
  }
  return out;
}

/** SHORT_CHAR[c] is 1 for the ASCII codes a short name may hold. */
const SHORT_CHAR = new Uint8Array(128);
for (let c = 0x21; c < 0x7f; c++) {
  const ch = String.fromCharCode(c);
  SHORT_CHAR[c] = FORBIDDEN_LONG.has(ch) || FORBIDDEN_SHORT.has(ch) || ch === '.' ? 0 : 1;
}

function isShortChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  return c < 0x80 && SHORT_CHAR[c] === 1;
}

function pad(s: string, n: number): string {
  return s.length >= n ? s.slice(0, n) : s + ' '.repeat(n - s.length);
}

export interface DirectShort {
  /** 11 bytes, space padded, upper case. */
  short: string;
  ntRes: number;
}

/**
 * If `name` can be stored as a plain 8.3 entry (no long name), the 11-byte
 * short name and the NT lower-case flags. A part (base or extension) must be
 * all upper or all lower case; mixed case within a part needs a long name.
 */
export function directShortName(name: string): DirectShort | undefined {
  const dot = name.lastIndexOf('.');
  const base = dot < 0 ? name : name.slice(0, dot);
  const ext = dot < 0 ? '' : name.slice(dot + 1);
  if (base.length === 0 || base.length > 8 || ext.length > 3) return undefined;
  if (dot >= 0 && ext.length === 0) return undefined;
  if (name.indexOf('.') !== dot) return undefined;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (i !== dot && !(c < 0x80 && SHORT_CHAR[c] === 1)) return undefined;
  }
  let ntRes = 0;
  const caseOf = (s: string): 'upper' | 'lower' | 'mixed' | 'none' => {
    const hasLower = /[a-z]/.test(s);
    const hasUpper = /[A-Z]/.test(s);
    return hasLower && hasUpper ? 'mixed' : hasLower ? 'lower' : hasUpper ? 'upper' : 'none';
  };
  const bc = caseOf(base);
  const ec = caseOf(ext);
  if (bc === 'mixed' || ec === 'mixed') return undefined;
  if (bc === 'lower') ntRes |= NT_LOWER_BASE;
  if (ec === 'lower') ntRes |= NT_LOWER_EXT;
  const short = pad(base.toUpperCase(), 8) + pad(ext.toUpperCase(), 3);
  // 0xE5 as first byte marks deleted entries; the Linux kernel stores it as 0x05. Not reachable with ASCII.
  return { short, ntRes };
}

/**
 * The basis of a generated alias (before the ~N tail), Windows style: upper
 * case, spaces and all dots but the last removed, leading dots dropped,
 * characters a short name cannot hold replaced by '_'.
 */
export function aliasBasis(name: string): { base: string; ext: string; lossy: boolean } {
  let lossy = false;
  let s = name;
  const stripped = s.replace(/^[. ]+/, '');
  if (stripped !== s) lossy = true;
  s = stripped;
  const dot = s.lastIndexOf('.');
  const rawBase = dot < 0 ? s : s.slice(0, dot);
  const rawExt = dot < 0 ? '' : s.slice(dot + 1);
  const clean = (part: string): string => {
    let out = '';
    if (/^[\x00-\x7f]*$/.test(part)) {
      // ASCII: upper case is one character for one
      const up = part.toUpperCase();
      for (let i = 0; i < up.length; i++) {
        const c = up.charCodeAt(i);
        if (c === 0x20 || c === 0x2e) lossy = true;
        else if (SHORT_CHAR[c] === 1) out += up[i];
        else {
          out += '_';
          lossy = true;
        }
      }
      return out;
    }
    for (const ch of part) {
      if (ch === ' ' || ch === '.') {
        lossy = true;
        continue;
      }
      const up = ch.toUpperCase();
      if (up.length === 1 && isShortChar(up)) out += up;
      else {
        out += '_';
        lossy = true;
      }
    }
    return out;
  };
  let base = clean(rawBase);
  let ext = clean(rawExt);
  if (base.length > 8) {
    base = base.slice(0, 8);
    lossy = true;
  }
  if (ext.length > 3) {
    ext = ext.slice(0, 3);
    lossy = true;
  }
  if (base.length === 0) {
    base = '_';
    lossy = true;
  }
  return { base, ext, lossy };
}

/** Allocates unique short names within one directory. */
export class ShortNameAllocator {
  private used = new Set<string>();
  private nextTail = new Map<string, number>();

  reserve(short: string): void {
    this.used.add(short);
  }
  has(short: string): boolean {
    return this.used.has(short);
  }

  /** A unique alias for a long name that cannot be stored directly. */
  alias(name: string): string {
    const { base, ext, lossy } = aliasBasis(name);
    const plain = pad(base, 8) + pad(ext, 3);
    if (!lossy && !this.used.has(plain)) {
      this.used.add(plain);
      return plain;
    }
    const key = base + '.' + ext;
    for (let n = this.nextTail.get(key) ?? 1; n < 1_000_000; n++) {
      const tail = '~' + n;
      const cand = pad(base.slice(0, 8 - tail.length) + tail, 8) + pad(ext, 3);
      if (!this.used.has(cand)) {
        this.used.add(cand);
        this.nextTail.set(key, n + 1);
        return cand;
      }
    }
    throw new PathError('E_PATH_FAT_ALIAS', `no free 8.3 alias for ${name}`, { actual: name });
  }
}

/** VFAT checksum of an 11-byte short name. */
export function shortNameChecksum(short: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >>> 1)) + short[i]!) & 0xff;
  return sum;
}

/** Number of long-name slots for `name`. */
export function lfnSlots(name: string): number {
  return Math.ceil(name.length / 13);
}

/** Bytes of an 11-character ASCII short name. */
export function shortBytes(short: string): Uint8Array {
  const b = new Uint8Array(11);
  for (let i = 0; i < 11; i++) b[i] = short.charCodeAt(i);
  return b;
}

/** Decode an 11-byte short name with the NT case flags into "name.ext". */
export function decodeShortName(raw: Uint8Array, ntRes: number): string {
  const bytes = raw.slice(0, 11);
  if (bytes[0] === 0x05) bytes[0] = 0xe5;
  const latin = (a: Uint8Array) => {
    let s = '';
    for (const c of a) s += String.fromCharCode(c);
    return s;
  };
  let base = latin(bytes.subarray(0, 8)).replace(/ +$/, '');
  let ext = latin(bytes.subarray(8, 11)).replace(/ +$/, '');
  if (ntRes & NT_LOWER_BASE) base = base.toLowerCase();
  if (ntRes & NT_LOWER_EXT) ext = ext.toLowerCase();
  return ext ? `${base}.${ext}` : base;
}

// ---- DOS date/time ----

const MIN_SEC = Date.UTC(1980, 0, 1) / 1000;
const MAX_SEC = Date.UTC(2107, 11, 31, 23, 59, 58) / 1000;

/** DOS date, time and 10 ms units (0..199) for a Unix time in UTC, clamped to 1980..2107. */
export function dosDateTime(sec: number, nsec = 0): { date: number; time: number; tenth: number } {
  let s = sec;
  let ns = nsec;
  if (s < MIN_SEC) {
    s = MIN_SEC;
    ns = 0;
  }
  if (s > MAX_SEC) {
    s = MAX_SEC;
    ns = 0;
  }
  const t = utcFields(s);
  return {
    date: ((t.year - 1980) << 9) | (t.month << 5) | t.day,
    time: (t.hour << 11) | (t.minute << 5) | (t.second >>> 1),
    tenth: (t.second & 1) * 100 + Math.floor(ns / 10_000_000),
  };
}

/** Unix seconds (UTC) from DOS date/time; invalid fields are clamped to sane values. */
export function fromDosDateTime(date: number, time: number, tenth = 0): { sec: number; nsec: number } {
  if (date === 0) return { sec: MIN_SEC, nsec: 0 };
  const year = 1980 + (date >>> 9);
  const month = Math.min(12, Math.max(1, (date >>> 5) & 15));
  const day = Math.min(31, Math.max(1, date & 31));
  const h = Math.min(23, time >>> 11);
  const m = Math.min(59, (time >>> 5) & 63);
  const s2 = Math.min(29, time & 31) * 2;
  const t = Math.min(199, tenth);
  const ms = Date.UTC(year, month - 1, day, h, m, s2);
  return { sec: ms / 1000 + Math.floor(t / 100), nsec: (t % 100) * 10_000_000 };
}
