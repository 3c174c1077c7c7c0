/** Reader robustness: chunking, padding, concatenation, microcode layout, corruption. */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { gzipSync } from 'node:zlib';
import {
  cpioChunks,
  encodeNewcHeader,
  listCpio,
  readCpioTree,
  NEWC_HEADER,
} from '../../src/core/archive/cpio/index.js';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { FormatError } from '../../src/core/errors.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import { chunked, describeTree, everythingTree } from './helpers.js';

const enc = new TextEncoder();

async function archiveOf(tree: FileTree, blockSize?: number): Promise<Uint8Array> {
  return concatChunks(cpioChunks(tree, blockSize !== undefined ? { blockSize } : {}));
}

function cat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

async function expectFormatError(p: Promise<unknown>, code?: string): Promise<FormatError> {
  let err: unknown;
  try {
    await p;
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(FormatError);
  if (code) expect((err as FormatError).code).toBe(code);
  return err as FormatError;
}

describe('reader', () => {
  test.each([1, 7, 321, 65536])('reads the archive delivered in %i-byte chunks', async (size) => {
    const tree = everythingTree();
    const a = await archiveOf(tree);
    const back = await readCpioTree(chunked(a, size));
    expect(await describeTree(back, { times: 'all', root: true })).toEqual(
      await describeTree(tree, { times: 'all', root: true }),
    );
  });

  test('gzip input in small chunks', async () => {
    const tree = everythingTree();
    const gz = gzipSync(await archiveOf(tree));
    const back = await readCpioTree(chunked(gz, 7));
    expect(await describeTree(back)).toEqual(await describeTree(tree));
  });

  test('NUL padding between members and archives, concatenated archives, later names win', async () => {
    const a = new FileTree();
    a.addFile('/etc/a', 'first');
    a.addFile('/etc/shared', 'old');
    const b = new FileTree();
    b.addFile('/etc/b', 'second');
    b.addFile('/etc/shared', 'new');
    const aa = await archiveOf(a, 0);
    const bb = await archiveOf(b, 512);
    // NULs inside archive a, between two of its members (a multiple of 4 keeps alignment)
    const list = [];
    for await (const e of listCpio(aa)) list.push(e);
    const cut = list[2]!.offset;
    const padded = cat(
      aa.subarray(0, cut),
      new Uint8Array(64),
      aa.subarray(cut),
      new Uint8Array(1000),
      bb,
      new Uint8Array(4),
    );
    const t = await readCpioTree(chunked(padded, 321));
    expect(await readContent((t.get('/etc/a') as unknown as { content: never }).content)).toEqual(enc.encode('first'));
    expect(await readContent((t.get('/etc/b') as unknown as { content: never }).content)).toEqual(enc.encode('second'));
    expect(await readContent((t.get('/etc/shared') as unknown as { content: never }).content)).toEqual(
      enc.encode('new'),
    );
  });

  test('early-microcode layout: uncompressed archive followed by a gzip one', async () => {
    const ucode = new FileTree();
    ucode.addFile('/kernel/x86/microcode/GenuineIntel.bin', new Uint8Array(1000).fill(7));
    const main = everythingTree();
    const whole = cat(await archiveOf(ucode), gzipSync(await archiveOf(main)));
    const t = await readCpioTree(chunked(whole, 321));
    expect(t.get('/kernel/x86/microcode/GenuineIntel.bin')?.type).toBe('file');
    const d = await describeTree(t);
    delete d['/kernel'];
    delete d['/kernel/x86'];
    delete d['/kernel/x86/microcode'];
    delete d['/kernel/x86/microcode/GenuineIntel.bin'];
    expect(d).toEqual(await describeTree(main));
    const infos = [];
    for await (const e of listCpio(whole)) infos.push(e);
    expect(infos[0]!.compressed).toBe(false);
    expect(infos.at(-1)!.compressed).toBe(true);
    expect(infos.at(-1)!.archive).toBe(1);
  });

  test('hard links from a GNU-style archive (data with the last name) and a data-first archive', async () => {
    const t = new FileTree();
    t.addFile('/a', 'data!');
    t.addHardLink('/b', '/a');
    t.addHardLink('/c', '/a');
    const back = await readCpioTree(await archiveOf(t));
    expect(back.get('/a')).toBe(back.get('/b'));
    expect(back.get('/a')).toBe(back.get('/c'));
    expect(await readContent((back.get('/a') as unknown as { content: never }).content)).toEqual(enc.encode('data!'));
    // data-first order (data with the first name, later names size 0) also gives one node with the data
    const member = (name: string, size: number, data = '') => {
      const nb = enc.encode(name + '\0');
      const h = new Uint8Array(110 + nb.length + 3 + size + 3);
      encodeNewcHeader(
        {
          ino: 9,
          mode: 0o100644,
          uid: 0,
          gid: 0,
          nlink: 2,
          mtime: 0,
          filesize: size,
          devmajor: 0,
          devminor: 0,
          rdevmajor: 0,
          rdevminor: 0,
          namesize: nb.length,
          check: 0,
        },
        h,
        0,
      );
      h.set(nb, 110);
      const dataAt = (110 + nb.length + 3) & ~3;
      h.set(enc.encode(data), dataAt);
      return h.subarray(0, (dataAt + size + 3) & ~3);
    };
    const trailer = await archiveOf(new FileTree(), 0);
    const handmade = cat(member('x', 4, 'abcd'), member('y', 0), trailer.subarray(trailer.length - 124));
    const hm = await readCpioTree(handmade);
    expect(hm.get('/x')).toBe(hm.get('/y'));
    expect(await readContent((hm.get('/y') as unknown as { content: never }).content)).toEqual(enc.encode('abcd'));
  });

  test('an empty source is an empty tree; an archive of only a trailer too', async () => {
    expect([...(await readCpioTree(new Uint8Array(0))).walk()].length).toBe(1);
    expect([...(await readCpioTree(await archiveOf(new FileTree()))).walk()].length).toBe(1);
  });
});

describe('corrupt input gives a FormatError with a code and an offset', () => {
  test('every truncation of an archive fails cleanly (or succeeds when only padding is cut)', async () => {
    const t = everythingTree();
    const a = await archiveOf(t, 0);
    let ok = 0;
    for (let n = 1; n < a.length; n += n < 400 ? 1 : 37) {
      try {
        await readCpioTree(a.subarray(0, n));
        ok++;
      } catch (e) {
        expect(e).toBeInstanceOf(FormatError);
        expect((e as FormatError).code).toMatch(/^E_FORMAT_CPIO_/);
        expect(typeof (e as FormatError).data.offset).toBe('number');
      }
    }
    expect(ok).toBe(0);
  });

  test('bad magic', async () => {
    const a = await archiveOf(everythingTree());
    const b = a.slice();
    b.set(enc.encode('070707'), 0);
    const e = await expectFormatError(readCpioTree(b), 'E_FORMAT_CPIO_MAGIC');
    expect(e.message).toMatch(/odc/);
    expect(e.data.offset).toBe(0);
    await expectFormatError(
      readCpioTree(
        enc.encode(
          'hello world, not an archive at all............................................................................................',
        ),
      ),
      'E_FORMAT_CPIO_MAGIC',
    );
  });

  test('huge namesize is rejected before anything is allocated', async () => {
    const a = (await archiveOf(everythingTree())).slice();
    a.set(enc.encode('ffffffff'), NEWC_HEADER.offsetOf('namesize'));
    const e = await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_NAMESIZE');
    expect(e.data.actual).toBe(0xffffffff);
    a.set(enc.encode('00000000'), NEWC_HEADER.offsetOf('namesize'));
    await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_NAMESIZE');
  });

  test('non-hex fields', async () => {
    const a = (await archiveOf(everythingTree())).slice();
    a.set(enc.encode('0000zz00'), NEWC_HEADER.offsetOf('filesize'));
    const e = await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_HEX');
    expect(e.data.field).toBe('filesize');
    expect(e.data.offset).toBe(NEWC_HEADER.offsetOf('filesize'));
  });

  test('a forged 4 GiB filesize with little data fails fast as truncated (no 4 GiB buffer)', async () => {
    const t = new FileTree();
    t.addFile('/f', 'small');
    const a = (await archiveOf(t, 0)).slice();
    const infos = [];
    for await (const e of listCpio(a)) infos.push(e);
    const f = infos.find((e) => e.path === '/f')!;
    a.set(enc.encode('ffffffff'), f.offset + NEWC_HEADER.offsetOf('filesize'));
    const before = process.memoryUsage().arrayBuffers;
    await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_TRUNCATED');
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(64 << 20);
  });

  test('a forged symlink size is bounded', async () => {
    const t = new FileTree();
    t.addSymlink('/l', 'target');
    const a = (await archiveOf(t, 0)).slice();
    const infos = [];
    for await (const e of listCpio(a)) infos.push(e);
    const l = infos.find((e) => e.path === '/l')!;
    a.set(enc.encode('00100000'), l.offset + NEWC_HEADER.offsetOf('filesize'));
    await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_SYMLINK');
  });

  test('names with .. are refused, unknown types too', async () => {
    const t = new FileTree();
    t.addFile('/aaaa', 'x');
    const a = (await archiveOf(t, 0)).slice();
    const i = Buffer.from(a).indexOf('aaaa');
    a.set(enc.encode('../a'), i);
    await expectFormatError(readCpioTree(a), 'E_FORMAT_CPIO_ENTRY');
    const b = (await archiveOf(t, 0)).slice();
    b.set(enc.encode('0000f1a4'), NEWC_HEADER.offsetOf('mode'));
    await expectFormatError(readCpioTree(b), 'E_FORMAT_CPIO_MODE');
  });

  test('corrupt gzip and unsupported compressors', async () => {
    const gz = gzipSync(await archiveOf(everythingTree())).slice();
    gz[gz.length >> 1] ^= 0xff;
    gz[(gz.length >> 1) + 1] ^= 0x55;
    const e = await expectFormatError(readCpioTree(gz));
    expect(e.code).toMatch(/^E_FORMAT_(GZIP|CPIO_)/);
    await expectFormatError(
      readCpioTree(gzipSync(await archiveOf(everythingTree())).subarray(0, 500)),
      'E_FORMAT_GZIP',
    );
    await expectFormatError(
      readCpioTree(new Uint8Array([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0, 1, 2])),
      'E_FORMAT_CPIO_COMPRESSION',
    );
  });

  test('random byte corruption never hangs and only throws FormatError (property)', async () => {
    const a = await archiveOf(everythingTree(), 0);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(a.length - 1), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        fc.integer({ min: 1, max: 500 }),
        async (flips, chunk) => {
          const b = a.slice();
          for (const [i, v] of flips) b[i] = v;
          try {
            await readCpioTree(chunked(b, chunk));
          } catch (e) {
            if (!(e instanceof FormatError)) throw e;
          }
        },
      ),
      { numRuns: 200 },
    );
  });
});
