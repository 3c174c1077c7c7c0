/** Codecs detected by magic and decoded as streams, checked against the real gzip, zstd, xz and bzip2 tools. */
import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { detectCodec, decompressStream, sniffCodec, type Codec } from '../../src/core/compress/codec.js';
import { TinyImageError } from '../../src/core/errors.js';
import { missing } from '../helpers/prereq.js';

const TOOLS: Array<[Codec, string, string[]]> = [
  ['gzip', 'gzip', ['-c']],
  ['zstd', 'zstd', ['-c', '-q']],
  ['xz', 'xz', ['-c']],
  ['bzip2', 'bzip2', ['-c']],
];
const skip = missing({ tools: TOOLS.map((t) => t[1]) });

async function* pieces(b: Uint8Array, size = 321) {
  for (let i = 0; i < b.length; i += size) yield b.subarray(i, i + size);
}
/** Two-byte pieces for the head (detection must join them), then 64 KiB. */
async function* ragged(b: Uint8Array) {
  for (let i = 0; i < 10; i += 2) yield b.subarray(i, i + 2);
  yield* pieces(b.subarray(10), 65536);
}
async function sha(src: AsyncIterable<Uint8Array>): Promise<[number, string]> {
  const h = createHash('sha256');
  let n = 0;
  for await (const c of src) {
    h.update(c);
    n += c.length;
  }
  return [n, h.digest('hex')];
}

// text (compresses), random bytes (stored blocks), and a long zero run (RLE paths)
const plain = new Uint8Array(
  Buffer.concat([
    Buffer.from(Array.from({ length: 60000 }, (_, i) => `line ${i}\n`).join('')),
    randomBytes(700_000),
    Buffer.alloc(300_000),
  ]),
);
const want = createHash('sha256').update(plain).digest('hex');

describe.skipIf(skip)('decompressStream against the real tools', () => {
  test.each(TOOLS)('%s: detected by magic, decoded in 321-byte pieces to the same bytes', async (codec, tool, args) => {
    const packed = new Uint8Array(execFileSync(tool, args, { input: plain, maxBuffer: 1 << 26 }));
    expect(detectCodec(packed.subarray(0, 6))).toBe(codec);
    expect(await sha(decompressStream(codec, pieces(packed)))).toEqual([plain.length, want]);
    const sniffed = await sniffCodec(ragged(packed));
    expect(sniffed.codec).toBe(codec);
    expect(await sha(decompressStream(sniffed.codec, sniffed.stream))).toEqual([plain.length, want]);
  });

  test.each(TOOLS)('%s: two concatenated streams decode to both', async (codec, tool, args) => {
    const one = execFileSync(tool, args, { input: plain.subarray(0, 5000) });
    const both = new Uint8Array(Buffer.concat([one, one]));
    const [n] = await sha(decompressStream(codec, pieces(both, 4096)));
    expect(n).toBe(10000);
  });

  test.each(TOOLS)('%s: truncated or damaged input gives a typed error, never a crash', async (codec, tool, args) => {
    const packed = new Uint8Array(execFileSync(tool, args, { input: plain.subarray(0, 200_000) }));
    const flipped = packed.slice();
    flipped[flipped.length >> 1]! ^= 0xff;
    flipped[(flipped.length >> 1) + 7]! ^= 0x55;
    for (const [bad, mustFail] of [
      [packed.subarray(0, packed.length >> 1), true],
      [packed.subarray(0, packed.length - 3), true],
      [flipped, false],
    ] as const) {
      const err = await sha(decompressStream(codec, pieces(bad, 4096))).then(
        () => undefined,
        (e) => e,
      );
      // a flipped byte can in principle survive (no check covers it); a truncation never may
      if (err === undefined && !mustFail) continue;
      expect(err).toBeInstanceOf(TinyImageError);
      expect(err.code).toBe(`E_FORMAT_${codec.toUpperCase()}`);
    }
  });
});

test('detectCodec: plain tar, short input and a bzip2-like prefix without a level digit are "none"', () => {
  expect(detectCodec(new Uint8Array(512))).toBe('none');
  expect(detectCodec(new Uint8Array([0x1f]))).toBe('none');
  expect(detectCodec(new TextEncoder().encode('BZhx'))).toBe('none');
  expect(detectCodec(new TextEncoder().encode('BZh9'))).toBe('bzip2');
});

test.skipIf(skip)(
  'a consumer that stops early releases the decoder: the next stream of the same codec decodes',
  async () => {
    for (const [codec, tool, args] of TOOLS) {
      const packed = new Uint8Array(execFileSync(tool, args, { input: plain, maxBuffer: 1 << 26 }));
      for await (const c of decompressStream(codec, pieces(packed, 65536))) {
        void c;
        break;
      }
      expect(await sha(decompressStream(codec, pieces(packed, 65536))), codec).toEqual([plain.length, want]);
    }
  },
  30_000,
);
