import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import {
  aliasBasis,
  checkLongName,
  directShortName,
  dosDateTime,
  fromDosDateTime,
  ShortNameAllocator,
  shortBytes,
  shortNameChecksum,
  decodeShortName,
} from '../../src/core/fs/fat/names.js';
import { PathError } from '../../src/core/errors.js';

// The per-character versions the fast paths replaced: the same answers on every name.
const FORBIDDEN_LONG = new Set(['\\', '/', ':', '*', '?', '"', '<', '>', '|']);
const FORBIDDEN_SHORT = new Set(['+', ',', ';', '=', '[', ']']);
function refShortChar(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c <= 0x20 || c >= 0x7f) return false;
  return !(FORBIDDEN_LONG.has(ch) || FORBIDDEN_SHORT.has(ch) || ch === '.');
}
function refLongOk(name: string): boolean {
  for (const ch of name) {
    const c = ch.codePointAt(0)!;
    if (c < 0x20 || c === 0x7f || FORBIDDEN_LONG.has(ch)) return false;
  }
  return !(name.endsWith('.') || name.endsWith(' ') || name.length > 255);
}
function refDirectOk(name: string): boolean {
  const dot = name.lastIndexOf('.');
  const base = dot < 0 ? name : name.slice(0, dot);
  const ext = dot < 0 ? '' : name.slice(dot + 1);
  if (base.length === 0 || base.length > 8 || ext.length > 3 || (dot >= 0 && ext.length === 0)) return false;
  if (name.indexOf('.') !== dot) return false;
  for (const ch of base + ext) if (!refShortChar(ch)) return false;
  return true;
}
function refClean(part: string): { out: string; lossy: boolean } {
  let out = '';
  let lossy = false;
  for (const ch of part) {
    if (ch === ' ' || ch === '.') {
      lossy = true;
      continue;
    }
    const up = ch.toUpperCase();
    if (up.length === 1 && refShortChar(up)) out += up;
    else {
      out += '_';
      lossy = true;
    }
  }
  return { out, lossy };
}

describe('FAT names', () => {
  test('direct 8.3 names and lower-case flags', () => {
    expect(directShortName('README.TXT')).toEqual({ short: 'README  TXT', ntRes: 0 });
    expect(directShortName('readme.txt')).toEqual({ short: 'README  TXT', ntRes: 0x18 });
    expect(directShortName('README.txt')).toEqual({ short: 'README  TXT', ntRes: 0x10 });
    expect(directShortName('boot')).toEqual({ short: 'BOOT       ', ntRes: 0x08 });
    expect(directShortName('Makefile')).toBeUndefined();
    expect(directShortName('a.tar.gz')).toBeUndefined();
    expect(directShortName('.bashrc')).toBeUndefined();
    expect(directShortName('longername.txt')).toBeUndefined();
    expect(directShortName('a b')).toBeUndefined();
    expect(directShortName('a+b')).toBeUndefined();
    expect(directShortName('é')).toBeUndefined();
  });

  test('alias basis like Windows/Linux vfat', () => {
    expect(aliasBasis('a very long file name.tar.gz')).toEqual({ base: 'AVERYLON', ext: 'GZ', lossy: true });
    expect(aliasBasis('.bashrc')).toEqual({ base: 'BASHRC', ext: '', lossy: true });
    expect(aliasBasis('Makefile')).toEqual({ base: 'MAKEFILE', ext: '', lossy: false });
    expect(aliasBasis('日本.txt')).toEqual({ base: '__', ext: 'TXT', lossy: true });
  });

  test('~N tails are unique within a directory', () => {
    const a = new ShortNameAllocator();
    a.reserve('FILENA~1TXT');
    const got = Array.from({ length: 12 }, (_, i) => a.alias(`filename-${i}.txt`));
    expect(got[0]).toBe('FILENA~2TXT');
    expect(got[8]).toBe('FILEN~10TXT');
    expect(new Set(got).size).toBe(12);
    expect(a.alias('Makefile')).toBe('MAKEFILE   ');
    expect(a.alias('MakeFile')).toBe('MAKEFI~1   ');
    const many = new ShortNameAllocator();
    const names = Array.from({ length: 5000 }, (_, i) => many.alias(`common prefix ${i}.data`));
    expect(new Set(names).size).toBe(5000);
    expect(names.every((n) => n.length === 11)).toBe(true);
  });

  test('checksum (known value) and decoding', () => {
    // Fixed value; the algorithm is also cross-checked by reading mcopy-written long names (reader.test.ts).
    expect(shortNameChecksum(shortBytes('FILENA~1TXT'))).toBe(91);
    expect(decodeShortName(shortBytes('README  TXT'), 0x18)).toBe('readme.txt');
    expect(decodeShortName(shortBytes('BOOT       '), 0)).toBe('BOOT');
  });

  test('forbidden names are PathErrors naming the path', () => {
    for (const bad of ['a:b', 'q?', 'x*', 'a"b', 'a<b', 'a>b', 'a|b', 'a\\b', 'tab\there', 'dot.', 'space ']) {
      expect(() => checkLongName(bad, `/dir/${bad}`)).toThrow(PathError);
      try {
        checkLongName(bad, `/dir/${bad}`);
      } catch (e) {
        expect((e as PathError).data.path).toBe(`/dir/${bad}`);
      }
    }
    expect(() => checkLongName('x'.repeat(256), '/x')).toThrow(/255/);
    expect(() => checkLongName('ok name; with+odd=chars[1].txt', '/ok')).not.toThrow();
  });

  test('the fast paths agree with the per-character rules on random names', () => {
    const chars = fc.constantFrom(...'aAzZ09 _-.~!#$%&()+,;=[]@^{}\'\\/:*?"<>|\t\x7féÜßı日本😀'.split(/(?:)/u));
    fc.assert(
      fc.property(fc.array(chars, { minLength: 1, maxLength: 14 }), (cs) => {
        const name = cs.join('');
        let ok = true;
        try {
          checkLongName(name, '/p');
        } catch (e) {
          expect(e).toBeInstanceOf(PathError);
          ok = false;
        }
        expect(ok).toBe(refLongOk(name));
        const dotAt = name.lastIndexOf('.');
        const mixed = (x: string) => /[a-z]/.test(x) && /[A-Z]/.test(x);
        const direct =
          refDirectOk(name) && !mixed(dotAt < 0 ? name : name.slice(0, dotAt)) && !mixed(name.slice(dotAt + 1));
        expect(directShortName(name) !== undefined).toBe(direct);
        const stripped = name.replace(/^[. ]+/, '');
        const dot = stripped.lastIndexOf('.');
        const b = refClean(dot < 0 ? stripped : stripped.slice(0, dot));
        const e = refClean(dot < 0 ? '' : stripped.slice(dot + 1));
        expect(aliasBasis(name)).toEqual({
          base: b.out.slice(0, 8) || '_',
          ext: e.out.slice(0, 3),
          lossy: stripped !== name || b.lossy || e.lossy || b.out.length > 8 || e.out.length > 3 || !b.out,
        });
      }),
      { numRuns: 3000 },
    );
  });

  test('DOS time: UTC, 2-second resolution, clamped to 1980..2107', () => {
    const t = dosDateTime(Date.UTC(2024, 1, 29, 13, 45, 59) / 1000, 500_000_000);
    expect(t.date).toBe(((2024 - 1980) << 9) | (2 << 5) | 29);
    expect(t.time).toBe((13 << 11) | (45 << 5) | 29);
    expect(t.tenth).toBe(150);
    expect(fromDosDateTime(t.date, t.time, t.tenth)).toEqual({
      sec: Date.UTC(2024, 1, 29, 13, 45, 59) / 1000,
      nsec: 500_000_000,
    });
    expect(fromDosDateTime(dosDateTime(0).date, dosDateTime(0).time).sec).toBe(Date.UTC(1980, 0, 1) / 1000);
    expect(fromDosDateTime(dosDateTime(1e11).date, dosDateTime(1e11).time).sec).toBe(
      Date.UTC(2107, 11, 31, 23, 59, 58) / 1000,
    );
  });

  test("DOS time: every second of 1980..2107 packs Date's own UTC fields (fast-check)", () => {
    const MIN = Date.UTC(1980, 0, 1) / 1000;
    const MAX = Date.UTC(2107, 11, 31, 23, 59, 59) / 1000;
    fc.assert(
      fc.property(fc.integer({ min: MIN, max: MAX - 1 }), fc.integer({ min: 0, max: 999_999_999 }), (sec, nsec) => {
        const d = new Date(sec * 1000);
        const t = dosDateTime(sec, nsec);
        expect(t.date).toBe(((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate());
        expect(t.time).toBe((d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >>> 1));
        expect(t.tenth).toBe((d.getUTCSeconds() & 1) * 100 + Math.floor(nsec / 10_000_000));
      }),
      { numRuns: 5000 },
    );
  });
});
