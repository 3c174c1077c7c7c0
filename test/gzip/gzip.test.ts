/** Parallel gzip: one valid stream (gzip -t, pako, zlib), deterministic, close to gzip -6 in size. */
import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { ungzip } from 'pako';
import { concatChunks, fflateGzip, gunzipChunks } from '../../src/core/compress/gzip.js';
import { parallelGzip as gzipChunks, parallelGzipBytes as gzipBytes } from '../../src/node/compress/gzip.js';
import { FormatError } from '../../src/core/errors.js';
import { missing, run } from '../helpers/prereq.js';

/** ~6 MiB of real, mixed data: /usr/bin binaries plus generated text. */
function sample(): Uint8Array {
  const parts: Buffer[] = [];
  let n = 0;
  for (const f of readdirSync('/usr/bin').sort()) {
    if (n > 5 << 20) break;
    try {
      const p = join('/usr/bin', f);
      if (!statSync(p).isFile()) continue;
      const b = readFileSync(p);
      const take = b.subarray(0, (6 << 20) - n);
      parts.push(take);
      n += take.length;
    } catch {
      /* unreadable: skip */
    }
  }
  parts.push(
    Buffer.from(Array.from({ length: 20000 }, (_, i) => `line ${i} mount proc sysfs ${(i * 7919) % 1000}\n`).join('')),
  );
  return Buffer.concat(parts);
}

const data = sample();

function same(a: Uint8Array, b: Uint8Array): boolean {
  return (
    Buffer.compare(Buffer.from(a.buffer, a.byteOffset, a.length), Buffer.from(b.buffer, b.byteOffset, b.length)) === 0
  );
}

describe('gzipChunks', () => {
  test('output is one gzip member that gzip -t, zlib and pako accept, equal to the input', async () => {
    const gz = await gzipBytes(data, { blockSize: 256 * 1024 });
    expect(gz[0]).toBe(0x1f);
    expect(gz[1]).toBe(0x8b);
    expect(same(gunzipSync(gz), data)).toBe(true);
    expect(same(ungzip(gz), data)).toBe(true);
    if (!missing({ tools: ['gzip'] })) {
      const dir = mkdtempSync(join(tmpdir(), 'tinyimage-gz-'));
      try {
        writeFileSync(join(dir, 'x.gz'), gz);
        const r = run('gzip', ['-t', '-v', join(dir, 'x.gz')]);
        expect(r.code).toBe(0);
        // one member: gzip -l reports the full uncompressed size (mod 2^32)
        expect(run('gzip', ['-l', join(dir, 'x.gz')]).stdout).toContain(String(data.length));
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    }
  });

  test('the same bytes whatever the thread count or input chunking', async () => {
    const one = await gzipBytes(data, { threads: 1 });
    const two = await gzipBytes(data, { threads: 2 });
    const four = await gzipBytes(data, { threads: 4 });
    const chunks = (async function* () {
      for (let i = 0; i < data.length; i += 77_777) yield data.subarray(i, i + 77_777);
    })();
    const chunked = await concatChunks(gzipChunks(chunks, { threads: 2 }));
    expect(same(one, two)).toBe(true);
    expect(same(one, four)).toBe(true);
    expect(same(one, chunked)).toBe(true);
  });

  test.skipIf(missing({ tools: ['gzip'] }))('at most 2% larger than gzip -6', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyimage-gz-'));
    try {
      writeFileSync(join(dir, 'x'), data);
      const ref = execFileSync('gzip', ['-6', '-n', '-c', join(dir, 'x')], { maxBuffer: 1 << 28 });
      const ours = await gzipBytes(data);
      expect(ours.length / ref.length).toBeLessThanOrEqual(1.02);
      const small = await gzipBytes(data, { blockSize: 128 * 1024 });
      expect(small.length / ref.length).toBeLessThanOrEqual(1.02);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('incompressible blocks are stored; random-looking data with short repeats still compresses', async () => {
    const { randomBytes } = await import('node:crypto');
    const random = randomBytes(4 << 20);
    const gzr = await gzipBytes(random);
    expect(gzr.length).toBeLessThan(random.length * 1.001);
    expect(same(ungzip(gzr), random)).toBe(true);
    const unit = randomBytes(1024);
    const repeated = Buffer.concat(Array.from({ length: 4096 }, () => unit));
    const gzp = await gzipBytes(repeated);
    expect(gzp.length).toBeLessThan(repeated.length * 0.05);
    expect(same(ungzip(gzp), repeated)).toBe(true);
    // mixed: random then text in each block
    const mixed = Buffer.concat([random.subarray(0, 1 << 20), Buffer.from(data.subarray(0, 3 << 20))]);
    const a = await gzipBytes(mixed);
    const b = await gzipBytes(mixed, { detectIncompressible: false });
    expect(a.length).toBeLessThanOrEqual(b.length * 1.005);
    expect(same(ungzip(a), mixed)).toBe(true);
  });

  test('the engine follows the data: machine code with libdeflate (smaller than zlib), repetitive data with zlib', async () => {
    const { gzipSync } = await import('node:zlib');
    const { randomBytes } = await import('node:crypto');
    const elf = data.subarray(0, 5 << 20); // /usr/bin's binaries
    const zlibOnly = gzipSync(elf, { level: 6, memLevel: 6 }).length;
    const ours = await gzipBytes(elf);
    expect(same(ungzip(ours), elf)).toBe(true);
    // libdeflate matches machine code 1.5-4% better than Node's zlib; zlib in 1 MiB blocks would be larger, not smaller
    expect(ours.length).toBeLessThan(zlibOnly * 0.99);
    // prefixes of one random blob, as in the small-file benchmark tree: binary, but each block compresses 40x;
    // zlib, primed with the previous 32 KiB, is ~13% smaller there than libdeflate, which has no dictionary
    const blob = randomBytes(4096);
    const files: Buffer[] = [];
    for (let i = 0, n = 0; n < 4 << 20; i++) {
      const f = Buffer.concat([
        Buffer.from(`070701${String(i).padStart(8, '0')}`),
        blob.subarray(0, (i * 7919) % 2048),
      ]);
      files.push(f);
      n += f.length;
    }
    const repetitive = Buffer.concat(files);
    const gz = await gzipBytes(repetitive);
    expect(same(ungzip(gz), repetitive)).toBe(true);
    expect(gz.length).toBeLessThan(gzipSync(repetitive, { level: 6, memLevel: 6 }).length * 1.02);
  });

  test('small text files between random ones are still compressed (the cpio of a rootfs with packed blobs)', async () => {
    const { randomBytes } = await import('node:crypto');
    const text = Buffer.from(
      Array.from({ length: 400 }, (_, i) => `ttyS0::respawn:/sbin/getty -L 115200 ttyS${i % 4} vt100\n`).join(''),
    );
    const parts: Buffer[] = [];
    let randomTotal = 0;
    for (let i = 0; i < 96; i++) {
      const r = randomBytes(20_000 + ((i * 7919) % 50_000));
      randomTotal += r.length;
      parts.push(r, text.subarray(0, 1500 + ((i * 131) % 2500)));
    }
    const mixed = Buffer.concat(parts);
    const gz = await gzipBytes(mixed);
    expect(same(ungzip(gz), mixed)).toBe(true);
    const full = await gzipBytes(mixed, { detectIncompressible: false });
    // the random parts are stored (5 bytes per 64 KiB), the text shrinks as it would without detection
    expect(gz.length).toBeLessThanOrEqual(full.length * 1.002);
    expect(gz.length).toBeLessThan(randomTotal + (mixed.length - randomTotal) * 0.5);
  });

  test.each([16384, 65535, 65536, 131070, 131071, 1 << 20, (1 << 20) + 5])(
    'random data of %i bytes, alone and after text, ends in valid stored blocks',
    async (n) => {
      const { randomBytes } = await import('node:crypto');
      const r = randomBytes(n);
      for (const d of [r, Buffer.concat([data.subarray(0, 100_000), r])]) {
        const gz = await gzipBytes(d);
        expect(same(gunzipSync(gz), d)).toBe(true);
        expect(same(ungzip(gz), d)).toBe(true);
      }
    },
  );

  test.each([0, 1, 65535, 1 << 20, (1 << 20) + 1, 3 << 20])('edge size %i round-trips', async (n) => {
    const d = data.subarray(0, n);
    const gz = await gzipBytes(d, { blockSize: 1 << 20 });
    expect(same(ungzip(gz), d)).toBe(true);
    expect(same(await concatChunks(gunzipChunks([gz])), d)).toBe(true);
  });

  test('levels 1 and 9 work; bad options are usage errors', async () => {
    for (const level of [1, 9])
      expect(same(ungzip(await gzipBytes(data.subarray(0, 300_000), { level })), data.subarray(0, 300_000))).toBe(true);
    await expect(gzipBytes(data, { level: 11 })).rejects.toMatchObject({ code: 'E_USAGE_GZIP_LEVEL' });
    await expect(gzipBytes(data, { threads: 0 })).rejects.toMatchObject({ code: 'E_USAGE_GZIP_THREADS' });
  });
});

describe('gunzipChunks', () => {
  test('concatenated members and trailing NUL padding', async () => {
    const a = await gzipBytes(data.subarray(0, 1000));
    const b = await gzipBytes(data.subarray(1000, 5000));
    const joined = Buffer.concat([a, b, Buffer.alloc(512)]);
    expect(
      same(
        await concatChunks(
          gunzipChunks(
            (async function* () {
              for (let i = 0; i < joined.length; i += 7) yield joined.subarray(i, i + 7);
            })(),
          ),
        ),
        data.subarray(0, 5000),
      ),
    ).toBe(true);
  });

  test('corrupt and truncated input throw FormatError E_FORMAT_GZIP', async () => {
    const gz = Buffer.from(await gzipBytes(data.subarray(0, 200_000)));
    await expect(concatChunks(gunzipChunks([gz.subarray(0, gz.length - 100)]))).rejects.toBeInstanceOf(FormatError);
    const bad = Buffer.from(gz);
    bad[3] = 0xff; // reserved flag bits
    await expect(concatChunks(gunzipChunks([bad]))).rejects.toMatchObject({ code: 'E_FORMAT_GZIP' });
    const crc = Buffer.from(gz);
    crc[crc.length - 6] ^= 1;
    await expect(concatChunks(gunzipChunks([crc]))).rejects.toMatchObject({ code: 'E_FORMAT_GZIP' });
  });

  test('every padding length, chunk size and member count (fflate path, CRC checked per member)', async () => {
    const parts = [
      data.subarray(0, 70_000),
      data.subarray(70_000, 70_000),
      data.subarray(70_000, 70_100),
      data.subarray(200_000, 260_000),
      new Uint8Array(0),
    ];
    const members = await Promise.all(parts.map((p, i) => (i % 2 ? gzipBytes(p) : concatChunks(fflateGzip([p])))));
    const want = Buffer.concat(parts);
    for (const pad of [0, 1, 2, 3, 4, 7, 8, 9, 4096, 200_000]) {
      for (const step of [1 << 20, 4093, 3]) {
        if (step === 3 && pad > 9) continue;
        const joined = Buffer.concat([...members, Buffer.alloc(pad)]);
        const chunks = (function* () {
          for (let i = 0; i < joined.length; i += step) yield joined.subarray(i, i + step);
        })();
        expect(same(await concatChunks(gunzipChunks(chunks)), want), `pad ${pad} step ${step}`).toBe(true);
      }
    }
    // a CRC error in a middle member is found too
    const bad = Buffer.concat(members);
    bad[members[0]!.length + members[1]!.length - 7] ^= 0x10;
    await expect(concatChunks(gunzipChunks([bad]))).rejects.toMatchObject({ code: 'E_FORMAT_GZIP' });
    await expect(concatChunks(gunzipChunks([new Uint8Array(0)]))).rejects.toMatchObject({ code: 'E_FORMAT_GZIP' });
  });
});

describe('fflateGzip (the core encoder)', () => {
  test('one member that zlib and pako accept, deterministic, mtime 0', async () => {
    const d = data.subarray(0, 1_000_000);
    const a = await concatChunks(fflateGzip([d.subarray(0, 1000), d.subarray(1000)]));
    const b = await concatChunks(fflateGzip([d]));
    expect(same(a, b)).toBe(true);
    expect([...a.subarray(4, 8)]).toEqual([0, 0, 0, 0]);
    expect(same(gunzipSync(a), d)).toBe(true);
    expect(same(ungzip(a), d)).toBe(true);
    await expect(concatChunks(fflateGzip([d], { level: 10 }))).rejects.toMatchObject({ code: 'E_USAGE_GZIP_LEVEL' });
  });
});
