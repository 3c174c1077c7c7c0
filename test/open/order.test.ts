/** The fast paths in compareNames / splitPath agree with plain UTF-8 byte comparison and byte counting. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compareNames, splitPath, MAX_NAME_BYTES } from '../../src/core/tree/path.js';
import { sortedChildNames } from '../../src/core/tree/cursor.js';
import type { DirNode } from '../../src/core/tree/types.js';

const enc = new TextEncoder();
function byBytes(a: string, b: string): number {
  const x = enc.encode(a),
    y = enc.encode(b);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}

describe('name order and length checks', () => {
  it('compareNames has the sign of a UTF-8 byte comparison', () => {
    const s = fc.oneof(
      fc.string(),
      fc.string({ unit: 'binary' }),
      fc.constantFrom('a', 'ab', '\uffff', '\u{10000}', '\ue000x', '\ud7ff'),
    );
    fc.assert(
      fc.property(s, s, (a, b) => {
        expect(Math.sign(compareNames(a, b))).toBe(Math.sign(byBytes(a, b)));
      }),
      { numRuns: 3000 },
    );
    expect(compareNames('\u{10000}', '\uffff')).toBeGreaterThan(0); // surrogate pair vs BMP above them: UTF-16 order would say less
  });
  it('sortedChildNames is UTF-8 byte order (native sort for plain names, compareNames otherwise)', () => {
    const name = fc.oneof(
      fc.string({ minLength: 1 }),
      fc.string({ unit: 'binary', minLength: 1 }),
      fc.constantFrom('a', 'ab', '\uffff', '\u{10000}', '\ue000x', '\ud7ff', 'B', '~'),
    );
    fc.assert(
      fc.property(fc.uniqueArray(name, { maxLength: 40 }), (names) => {
        const dir = { children: new Map(names.map((n) => [n, undefined])) } as unknown as DirNode;
        expect(sortedChildNames(dir)).toEqual([...names].sort(byBytes));
      }),
      { numRuns: 2000 },
    );
    const both = {
      children: new Map([
        ['\uffff', 0],
        ['\u{10000}', 0],
        ['z', 0],
      ]),
    } as unknown as DirNode;
    expect(sortedChildNames(both)).toEqual(['z', '\uffff', '\u{10000}']); // UTF-16 order would put the pair first
  });
  it('splitPath counts bytes, not code units', () => {
    expect(() => splitPath('/' + 'a'.repeat(255))).not.toThrow();
    expect(() => splitPath('/' + 'a'.repeat(256))).toThrow(expect.objectContaining({ code: 'E_PATH_NAME_TOO_LONG' }));
    expect(() => splitPath('/' + 'é'.repeat(127) + 'a')).not.toThrow(); // 255 bytes
    expect(() => splitPath('/' + 'é'.repeat(128))).toThrow(expect.objectContaining({ code: 'E_PATH_NAME_TOO_LONG' }));
    expect(() => splitPath('/' + '€'.repeat(85))).not.toThrow(); // 255 bytes, 85 units: the fast path
    fc.assert(
      fc.property(
        fc
          .string({ unit: 'binary', maxLength: 200 })
          .filter((c) => c !== '' && c !== '.' && c !== '..' && !c.includes('/') && !c.includes('\0')),
        (c) => {
          const ok = enc.encode(c).length <= MAX_NAME_BYTES;
          if (ok) expect(splitPath(c)).toEqual([c]);
          else expect(() => splitPath(c)).toThrow();
        },
      ),
      { numRuns: 2000 },
    );
  });
});
