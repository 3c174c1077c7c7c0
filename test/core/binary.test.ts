import { describe, expect, it } from 'vitest';
import { crc16Update, crc32, crc32BeUpdate, crc32c, crc32cUpdate, crc32cZeros } from '../../src/core/binary/crc.js';
import { defineStruct, layoutProblems, seq } from '../../src/core/binary/struct.js';
import { utcFields } from '../../src/core/binary/utc.js';
import { FormatError } from '../../src/core/errors.js';
import { crc32 as zcrc32 } from 'node:zlib';
import fc from 'fast-check';

const ascii = (s: string) => new TextEncoder().encode(s);

describe('crc', () => {
  it('matches the standard check values for "123456789"', () => {
    expect(crc32(ascii('123456789'))).toBe(0xcbf43926);
    expect(crc32c(ascii('123456789'))).toBe(0xe3069283);
    expect(crc16Update(0, ascii('123456789'))).toBe(0xbb3d); // CRC-16/ARC
    expect(crc16Update(0xffff, ascii('123456789'))).toBe(0x4b37); // CRC-16/MODBUS (same poly, init ~0)
    expect(crc32BeUpdate(0xffffffff, ascii('123456789'))).toBe(0x0376e6e7); // CRC-32/MPEG-2: the kernel's crc32_be
    const d = ascii('split anywhere');
    expect(crc32BeUpdate(crc32BeUpdate(0xffffffff, d, 0, 5), d, 5)).toBe(crc32BeUpdate(0xffffffff, d));
  });
  it('crc32 agrees with node:zlib on random data and chunking', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const k = Math.min(cut, data.length);
        expect(crc32(data)).toBe(zcrc32(data));
        expect(crc32(data.subarray(k), crc32(data.subarray(0, k)))).toBe(zcrc32(data));
      }),
    );
  });
  it('raw crc32c chains like the kernel crc32c_le', () => {
    const d = ascii('hello world, ext4');
    expect(crc32cUpdate(crc32cUpdate(0xffffffff, d.subarray(0, 5)), d.subarray(5))).toBe(crc32cUpdate(0xffffffff, d));
    expect(~crc32cUpdate(0xffffffff, d) >>> 0).toBe(crc32c(d));
  });

  it('crc32cZeros extends a CRC32C over n zero bytes without reading them', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), fc.integer({ min: 0, max: 70_000 }), (crc, n) => {
        expect(crc32cZeros(crc, n)).toBe(crc32cUpdate(crc, new Uint8Array(n)));
      }),
      { numRuns: 200 },
    );
  });
});

describe('struct tables', () => {
  const S = defineStruct('demo', 24, [
    { name: 'magic', offset: 0, type: 'u16le' },
    { name: 'ver', offset: 2, type: 'u8' },
    { name: 'pad', offset: 3, type: 'u8' },
    { name: 'count', offset: 4, type: 'u32be' },
    { name: 'big', offset: 8, type: 'u64le' },
    { name: 'label', offset: 16, type: 'bytes', length: 8 },
  ] as const);

  it('has a sound layout', () => {
    expect(layoutProblems(S)).toEqual([]);
    expect(S.size).toBe(24);
    expect(S.offsetOf('count')).toBe(4);
  });
  it('round-trips values', () => {
    const v = { magic: 0xef53, ver: 2, pad: 0, count: 0x01020304, big: 2 ** 40 + 5, label: ascii('tinyimg!') };
    const b = S.encode(v);
    expect([...b.subarray(0, 8)]).toEqual([0x53, 0xef, 2, 0, 1, 2, 3, 4]);
    expect(S.decode(b)).toEqual(v);
  });
  it('reports layout problems', () => {
    const bad = defineStruct('bad', 8, [
      { name: 'a', offset: 0, type: 'u32le' },
      { name: 'b', offset: 2, type: 'u32le' },
    ] as const);
    expect(layoutProblems(bad).join('\n')).toMatch(/overlaps/);
    const gap = defineStruct(
      'gap',
      8,
      seq([
        ['a', 'u16le'],
        ['b', 'u16le'],
      ]),
    );
    expect(layoutProblems(gap).join('\n')).toMatch(/struct size is 8/);
    expect(layoutProblems(gap, { allowGaps: true })).toEqual([]);
  });
  it('decoding a short buffer is a typed error', () => {
    expect(() => S.decode(new Uint8Array(10))).toThrow(FormatError);
    try {
      S.decode(new Uint8Array(10));
    } catch (e) {
      expect((e as FormatError).code).toBe('E_FORMAT_TRUNCATED');
    }
  });
  it('u64 values beyond 2^53 are a typed error, not a silent rounding', () => {
    const b = new Uint8Array(24).fill(0xff);
    expect(() => S.decode(b)).toThrow(/too large/);
  });
});

describe('utcFields', () => {
  const fieldsOf = (sec: number) => {
    const d = new Date(Math.floor(sec) * 1000);
    return {
      year: d.getUTCFullYear(),
      month: d.getUTCMonth() + 1,
      day: d.getUTCDate(),
      hour: d.getUTCHours(),
      minute: d.getUTCMinutes(),
      second: d.getUTCSeconds(),
    };
  };
  // leap days, century years (2100 is not leap, 2000 and 1600 are), the epoch, years 1 and 9999
  const EDGES = [
    [2000, 1, 29],
    [2100, 1, 28],
    [2100, 2, 1],
    [1900, 1, 28],
    [1600, 1, 29],
    [1970, 0, 1],
    [1, 0, 1],
    [9999, 11, 31],
  ].map(([y, m, d]) => {
    const t = new Date(0);
    t.setUTCFullYear(y!, m!, d!);
    return t.getTime() / 1000;
  });

  it("gives Date's own UTC fields for any second of years 1-9999, and around the edges (fast-check)", () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.integer({ min: -62135596800, max: 253402300799 }),
          fc.tuple(fc.constantFrom(...EDGES), fc.integer({ min: -2 * 86400, max: 2 * 86400 })).map(([e, o]) => e + o),
          fc.double({ min: -1e10, max: 1e10, noNaN: true }),
        ),
        (sec) => {
          expect(utcFields(sec)).toEqual(fieldsOf(sec));
        },
      ),
      { numRuns: 20000 },
    );
  });
});
