/**
 * File identifiers: the ECMA-119 names of each interchange level, Joliet's
 * UCS-2 names, the order directory records and path tables keep, and the
 * de-duplication that makes names unique within a directory.
 *
 * - Level 1: 8.3 names of d-characters (A-Z, 0-9, _), directories 8.
 * - Levels 2 and 3: file name + '.' + extension up to 30 characters,
 *   directories up to 31. Level 3 also allows files in several extents.
 * Files always carry the separator and the version (`README.;1`), as
 * ECMA-119 7.5 requires. The Rock Ridge NM entry keeps the real name.
 */

export type IsoLevel = 1 | 2 | 3;

/** Joliet name lengths: the specification's 64 UCS-2 characters, or 103 (mkisofs -joliet-long). */
export const JOLIET_MAX = 64;
export const JOLIET_LONG_MAX = 103;
/** Longest extension kept at levels 2 and 3 (the rest of the 30 characters go to the name). */
const MAX_EXT = 10;

interface Limits {
  file: number;
  base: number;
  ext: number;
  dir: number;
}
const LIMITS: Record<IsoLevel, Limits> = {
  1: { file: 12, base: 8, ext: 3, dir: 8 },
  2: { file: 30, base: 30, ext: MAX_EXT, dir: 31 },
  3: { file: 30, base: 30, ext: MAX_EXT, dir: 31 },
};

const NOT_DCHAR = /[^A-Z0-9_]/g;
/** Map to d-characters: upper case, anything else becomes '_' (one per UTF-16 unit). */
function dchars(s: string): string {
  // toUpperCase maps a few characters to two (ß -> SS): map those units one by one
  const up = s.toUpperCase();
  if (up.length === s.length) return up.replace(NOT_DCHAR, '_');
  let out = '';
  for (let i = 0; i < s.length; i++) out += s[i]!.toUpperCase().length === 1 ? s[i]!.toUpperCase() : '_';
  return out.replace(NOT_DCHAR, '_');
}

/** Split at the last dot that is not the first character: [base, ext]. */
function splitExt(name: string): [string, string] {
  const i = name.lastIndexOf('.');
  return i > 0 && i < name.length - 1 ? [name.slice(0, i), name.slice(i + 1)] : [name, ''];
}

/** A candidate ISO identifier for `name` (without version), before de-duplication. */
function isoCandidate(name: string, dir: boolean, lim: Limits): { base: string; ext: string } {
  if (dir) return { base: dchars(name).slice(0, lim.dir) || '_', ext: '' };
  const [b, e] = splitExt(name);
  const ext = dchars(e).slice(0, lim.ext);
  const room = Math.min(lim.base, lim.file - 1 - ext.length);
  return { base: dchars(b).slice(0, room) || '_', ext };
}

/**
 * Gives each name of one directory a unique identifier. Names are offered
 * in a fixed order (the tree's), so the result is deterministic; a clash
 * replaces the end of the base with a decimal counter.
 */
export class IsoNamer {
  private readonly used = new Set<string>();
  private readonly next = new Map<string, number>();
  private readonly lim: Limits;
  constructor(level: IsoLevel) {
    this.lim = LIMITS[level];
  }

  /** The identifier as stored: `BASE.EXT;1` for files, `BASE` for directories. */
  name(name: string, dir: boolean): string {
    const { base, ext } = isoCandidate(name, dir, this.lim);
    const key = (b: string) => (dir || !ext ? b : `${b}.${ext}`);
    let b = base;
    if (this.used.has(key(b))) {
      const max = dir ? this.lim.dir : Math.min(this.lim.base, this.lim.file - 1 - ext.length);
      let n = this.next.get(key(base)) ?? 1;
      for (;;) {
        const digits = String(n++);
        b = base.slice(0, Math.max(0, max - digits.length)) + digits;
        if (!this.used.has(key(b))) break;
      }
      this.next.set(key(base), n);
    }
    this.used.add(key(b));
    return dir ? b : `${b}.${ext};1`;
  }
}

/** Characters Joliet forbids in names (and control characters), replaced by '_'. */
const JOLIET_BAD = /[\u0000-\u001f*/:;?\\]/g;

/** UCS-2 form of a name: characters outside the BMP become '_'. */
/** Anything ucs2() would change. */
const JOLIET_CHANGE = /[\u0000-\u001f*/:;?\\\ud800-\udfff]/;
function ucs2(name: string): string {
  if (!JOLIET_CHANGE.test(name)) return name;
  return name
    .replace(/[\ud800-\udbff][\udc00-\udfff]/g, '_')
    .replace(/[\ud800-\udfff]/g, '_')
    .replace(JOLIET_BAD, '_');
}

/** Joliet identifiers of one directory, unique, at most `max` UCS-2 characters (plus ';1' on files). */
export class JolietNamer {
  private readonly used = new Set<string>();
  private readonly next = new Map<string, number>();
  constructor(private readonly max: number) {}

  name(name: string, dir: boolean): string {
    const u = ucs2(name);
    const [b, e] = dir ? [u, ''] : splitExt(u);
    const ext = e.length <= 16 ? e : '';
    const stem = ext ? b : u;
    const room = this.max - (ext ? ext.length + 1 : 0);
    const make = (s: string) => (ext ? `${s}.${ext}` : s);
    let base = stem.slice(0, room);
    // a name is unique case-sensitively (Joliet readers compare exactly)
    if (this.used.has(make(base))) {
      const orig = base;
      let n = this.next.get(orig) ?? 1;
      for (;;) {
        const digits = String(n++);
        base = orig.slice(0, Math.max(0, room - digits.length)) + digits;
        if (!this.used.has(make(base))) break;
      }
      this.next.set(orig, n);
    }
    this.used.add(make(base));
    return dir ? make(base) : `${make(base)};1`;
  }
}

/** Split an identifier into name, extension and version for ordering. */
function parts(id: string): [string, string, number] {
  const semi = id.lastIndexOf(';');
  const version = semi >= 0 ? Number(id.slice(semi + 1)) || 0 : 0;
  const body = semi >= 0 ? id.slice(0, semi) : id;
  const dot = body.lastIndexOf('.');
  return dot >= 0 ? [body.slice(0, dot), body.slice(dot + 1), version] : [body, '', version];
}

/** Compare space-padded strings (ECMA-119 9.3): code units, the shorter padded with ' '. */
function padded(a: string, b: string): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = i < a.length ? a.charCodeAt(i) : 0x20;
    const y = i < b.length ? b.charCodeAt(i) : 0x20;
    if (x !== y) return x - y;
  }
  return 0;
}

/** Order of directory records and path table entries: name, then extension, then version (descending). */
export function compareIdentifiers(a: string, b: string): number {
  return compareParts(parts(a), parts(b));
}

function compareParts(a: [string, string, number], b: [string, string, number]): number {
  return padded(a[0], b[0]) || padded(a[1], b[1]) || b[2] - a[2];
}

/**
 * Sort ECMA-119 identifiers of d-characters: with ';' mapped below every
 * character, plain string order is the padded name/extension/version order
 * (' ' < '.' < d-characters; one version per name).
 */
export function sortIsoIdentifiers<T>(items: T[], id: (x: T) => string): T[] {
  const keyed = items.map((x) => ({ x, k: id(x).replace(';', '\u0000') }));
  keyed.sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : 0));
  for (let i = 0; i < items.length; i++) items[i] = keyed[i]!.x;
  return items;
}

/** Sort `items` by their identifiers (each split once). */
export function sortByIdentifier<T>(items: T[], id: (x: T) => string): T[] {
  const keyed = items.map((x) => ({ x, k: parts(id(x)) }));
  keyed.sort((a, b) => compareParts(a.k, b.k));
  for (let i = 0; i < items.length; i++) items[i] = keyed[i]!.x;
  return items;
}

/** The identifier bytes: ASCII for ECMA-119 names, UCS-2 big-endian for Joliet. */
export function identifierBytes(id: string, joliet: boolean): Uint8Array {
  if (!joliet) {
    const out = new Uint8Array(id.length);
    for (let i = 0; i < id.length; i++) out[i] = id.charCodeAt(i);
    return out;
  }
  const out = new Uint8Array(id.length * 2);
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    out[2 * i] = c >> 8;
    out[2 * i + 1] = c & 0xff;
  }
  return out;
}

/** Length in bytes of an identifier as stored. */
export function identifierLength(id: string, joliet: boolean): number {
  return joliet ? id.length * 2 : id.length;
}
