/**
 * libdeflate in WebAssembly (src/node/compress/libdeflate.ts): pieces that
 * are not last end with a sync flush and join, with zlib's sync-flushed
 * pieces too, into ONE deflate stream that zlib and pako inflate; the
 * committed module is what scripts/build-libdeflate-wasm.sh builds from
 * Debian's source.
 */
import { describe, expect, test } from 'vitest';
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { constants as Z, deflateRawSync, inflateRawSync } from 'node:zlib';
import { inflateRaw as pakoInflateRaw } from 'pako';
import { libdeflateRaw } from '../../src/node/compress/libdeflate.js';
import { missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { seededBytes } from '../helpers/bytes.js';

const text = new TextEncoder().encode(
  Array.from({ length: 3000 }, (_, i) => `line ${i} mount proc sysfs ${(i * 7919) % 1000}\n`).join(''),
);
/** Bytes like machine code's: skewed, a third zeros, no long repeats. */
const binary = (n: number, seed: number): Uint8Array => seededBytes(n, seed).map((b) => (b % 3 === 0 ? 0 : b & 0x3f));
const inputs: Record<string, Uint8Array> = {
  empty: new Uint8Array(0),
  byte: new Uint8Array([42]),
  '64 bytes (stored here)': binary(64, 1),
  '65 bytes (libdeflate)': binary(65, 2),
  text,
  random: new Uint8Array(randomBytes(100_000)),
  zeros: new Uint8Array(200_000),
  binary: binary(300_000, 3),
};
const cat = (parts: Uint8Array[]) => new Uint8Array(Buffer.concat(parts));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));
const SYNC = [0, 0, 0xff, 0xff];

describe('libdeflateRaw', () => {
  test.each([1, 6, 9, 12])('level %i: continuable pieces of every kind join into one stream', (level) => {
    const names = Object.keys(inputs);
    const pieces = names.map((n, i) => libdeflateRaw(inputs[n]!, level, i === names.length - 1));
    // libdeflate's pieces end with the sync flush; the few bytes stored here end byte-aligned anyway
    pieces.slice(0, -1).forEach((p, i) => {
      if (inputs[names[i]!]!.length > 64) expect([...p.subarray(p.length - 4)]).toEqual(SYNC);
      else expect(p[0]).toBe(0); // a stored block, not final
    });
    const want = cat(names.map((n) => inputs[n]!));
    expect(same(inflateRawSync(cat(pieces)), want)).toBe(true);
    expect(same(pakoInflateRaw(cat(pieces)), want)).toBe(true);
  });

  test('every length of the last byte: 400 sizes, each piece followed by a zlib piece and a final one', () => {
    // a piece's last code ends anywhere in its byte; the sync flush takes one more byte when 6 or 7 bits are used
    for (let k = 0; k < 400; k++) {
      const a = binary(70 + k * 37, k + 10);
      const b = text.subarray(0, 500 + k);
      const pa = libdeflateRaw(a, 6, false);
      const pb = new Uint8Array(deflateRawSync(b, { level: 6, finishFlush: Z.Z_SYNC_FLUSH }));
      const pc = libdeflateRaw(a.subarray(0, 1000), 6, true);
      const out = inflateRawSync(cat([pa, pb, pc]));
      if (!same(out, cat([a, b, a.subarray(0, 1000)]))) throw new Error(`size ${a.length}: joined stream differs`);
    }
  });

  test('the last piece is final: nothing after it is read, and a cut one is an error', () => {
    const last = libdeflateRaw(inputs.binary!, 6, true);
    expect(same(inflateRawSync(cat([last, new Uint8Array([1, 2, 3])])), inputs.binary!)).toBe(true);
    expect(() => inflateRawSync(libdeflateRaw(inputs.binary!, 6, false))).toThrow(/unexpected end/);
  });

  test('smaller than zlib on machine code (why it is used)', () => {
    const elf = readFileSync(process.execPath).subarray(0, 4 << 20);
    const ours = libdeflateRaw(elf, 6, true).length;
    const zlib = deflateRawSync(elf, { level: 6, memLevel: 6 }).length;
    expect(ours).toBeLessThan(zlib * 0.99);
  });
});

const noBuild = missing({ tools: ['clang-14', 'wasm-ld-14', 'apt-get', 'patch'] });
describe.skipIf(noBuild)('the committed module', () => {
  test('is what scripts/build-libdeflate-wasm.sh builds from Debian source libdeflate 1.14-1', () => {
    const t = tmpDir('tinyimage-libdeflate-');
    try {
      const r = run('bash', [`${REPO}/scripts/build-libdeflate-wasm.sh`, t.path('out.ts')]);
      expect(r.code, r.stderr).toBe(0);
      const committed = readFileSync(`${REPO}/src/node/compress/libdeflate-wasm.ts`, 'utf8');
      expect(readFileSync(t.path('out.ts'), 'utf8') === committed).toBe(true);
    } finally {
      t.cleanup();
    }
  }, 120_000);
});
