// The codec layer: the random-data test says "random" only for random data,
// and decompression is bounded (a block may not expand past its limit).
import { execFileSync } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { deflateSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { FormatError } from '../../src/core/errors.js';
import { decompressorFor, looksIncompressible } from '../../src/core/fs/squashfs/compress.js';
import { COMPRESSION } from '../../src/core/fs/squashfs/structs.js';
import { have } from '../helpers/prereq.js';

const random = (n: number) => randomFillSync(new Uint8Array(n));

describe('squashfs codecs', () => {
  it('looksIncompressible: random yes; text, counters, short repeats, mixed blocks no', () => {
    expect(looksIncompressible(random(131072))).toBe(true);
    expect(looksIncompressible(new TextEncoder().encode('mount proc sysfs tty\n'.repeat(7000)))).toBe(false);
    const counter = new Uint8Array(131072);
    for (let i = 0; i < counter.length; i++) counter[i] = (i * 7 + (i >> 12)) & 0xff;
    expect(looksIncompressible(counter)).toBe(false);
    const rep = new Uint8Array(131072);
    const unit = random(1000);
    for (let i = 0; i < rep.length; i += 1000) rep.set(unit.subarray(0, Math.min(1000, rep.length - i)), i);
    expect(looksIncompressible(rep)).toBe(false);
    const mixed = random(131072);
    mixed.set(new TextEncoder().encode('busybox init '.repeat(600)), 60000);
    expect(looksIncompressible(mixed)).toBe(false);
    expect(looksIncompressible(random(8192))).toBe(false);
  });

  it('gzip blocks expand at most to their limit', () => {
    const gz = decompressorFor(COMPRESSION.gzip)!;
    const big = deflateSync(new Uint8Array(100000));
    expect(gz(big, 100000).length).toBe(100000);
    expect(() => gz(big, 8192)).toThrow(FormatError);
    expect(() => gz(random(50), 8192)).toThrow(FormatError);
  });

  it.skipIf(!have('zstd'))('zstd blocks expand at most to their limit and must declare their size', () => {
    const zs = decompressorFor(COMPRESSION.zstd)!;
    const raw = new Uint8Array(100000).fill(9);
    const frame = new Uint8Array(execFileSync('zstd', ['-c', '-q', '--stream-size=100000'], { input: raw })); // stdin: say the size, as mksquashfs's frames do
    expect(zs(frame, 100000)).toEqual(raw);
    expect(() => zs(frame, 8192)).toThrow(FormatError);
    const noSize = new Uint8Array(execFileSync('zstd', ['-c', '-q', '--no-content-size'], { input: raw }));
    expect(() => zs(noSize, 100000)).toThrow(/content size/);
    expect(() => zs(random(64), 8192)).toThrow(FormatError);
  });
});
