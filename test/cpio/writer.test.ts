/** Writer: header table, alignment, determinism, limits, laziness, random trees. */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { cpioChunks, listCpio, readCpioTree, NEWC_HEADER, HEADER_SIZE } from '../../src/core/archive/cpio/index.js';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { CapacityError, TinyImageError } from '../../src/core/errors.js';
import { streamContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { missing, run } from '../helpers/prereq.js';
import { treeArb } from '../helpers/arbitrary.js';
import { describeTree, everythingTree } from './helpers.js';

async function rejection(p: Promise<unknown>): Promise<TinyImageError> {
  try {
    await p;
  } catch (e) {
    return e as TinyImageError;
  }
  throw new Error('expected a rejection');
}

describe('newc header table', () => {
  test('is 110 contiguous bytes with the magic first', () => {
    expect(layoutProblems(NEWC_HEADER)).toEqual([]);
    expect(NEWC_HEADER.size).toBe(110);
    expect(HEADER_SIZE).toBe(110);
    expect(NEWC_HEADER.offsetOf('magic')).toBe(0);
    expect(NEWC_HEADER.offsetOf('ino')).toBe(6);
    expect(NEWC_HEADER.offsetOf('filesize')).toBe(54);
    expect(NEWC_HEADER.offsetOf('namesize')).toBe(94);
    expect(NEWC_HEADER.offsetOf('check')).toBe(102);
  });
});

describe('writer', () => {
  test('same tree => identical bytes; members 4-aligned; archive padded to 512', async () => {
    const a = await concatChunks(cpioChunks(everythingTree()));
    const b = await concatChunks(cpioChunks(everythingTree()));
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    expect(a.length % 512).toBe(0);
    for await (const e of listCpio(a)) expect(e.offset % 4).toBe(0);
    expect(new TextDecoder().decode(a.subarray(0, 6))).toBe('070701');
    expect(Buffer.from(a).includes('TRAILER!!!')).toBe(true);
  });

  test('directory link counts are 2 + subdirectories; inode numbers follow walk order', async () => {
    const t = new FileTree();
    t.mkdir('/a/b');
    t.mkdir('/a/c');
    t.addFile('/a/f', 'x');
    const infos = [];
    for await (const e of listCpio(cpioChunks(t))) infos.push(e);
    expect(infos.map((e) => [e.path, e.nlink, e.ino])).toEqual([
      ['/', 3, 1],
      ['/a', 4, 2],
      ['/a/b', 2, 3],
      ['/a/c', 2, 4],
      ['/a/f', 1, 5],
    ]);
  });

  test('a file of 4 GiB is a CapacityError naming the path, before any data is read', async () => {
    const t = new FileTree();
    t.addFile(
      '/big/file',
      streamContent(2 ** 32, () => {
        throw new Error('must not be read');
      }),
    );
    const e = await rejection(concatChunks(cpioChunks(t)));
    expect(e).toBeInstanceOf(CapacityError);
    expect(e.code).toBe('E_LIMIT_FILE_SIZE');
    expect(e.data.path).toBe('/big/file');
    // 4 GiB - 1 is allowed: the writer gets as far as reading it
    const ok = new FileTree();
    ok.addFile(
      '/f',
      streamContent(2 ** 32 - 1, () => {
        throw new Error('reached the data');
      }),
    );
    expect((await rejection(concatChunks(cpioChunks(ok)))).message).toBe('reached the data');
  });

  test.each([-1, 2 ** 32, 1.5e10])('mtime %d is E_LIMIT_TIME naming the path', async (sec) => {
    const t = new FileTree();
    t.addFile('/etc/old', 'x', { mtime: { sec, nsec: 0 } });
    const e = await rejection(concatChunks(cpioChunks(t)));
    expect(e).toBeInstanceOf(CapacityError);
    expect(e.code).toBe('E_LIMIT_TIME');
    expect(e.data.path).toBe('/etc/old');
  });

  test('paths over 4095 bytes and symlink targets over 4096 bytes are CapacityErrors (the kernel would skip them)', async () => {
    const deep = '/' + Array.from({ length: 25 }, () => 'd'.repeat(200)).join('/') + '/f';
    const t = new FileTree();
    t.addFile(deep, 'x');
    const e = await rejection(concatChunks(cpioChunks(t)));
    expect(e).toBeInstanceOf(CapacityError);
    expect(e.code).toBe('E_LIMIT_NAME_LENGTH');
    const ok = new FileTree();
    ok.addFile(
      '/' +
        Array.from({ length: 16 }, () => 'd'.repeat(255))
          .join('/')
          .slice(0, 4094),
      'x',
    );
    expect((await concatChunks(cpioChunks(ok))).length).toBeGreaterThan(4096);
    const s = new FileTree();
    s.addSymlink('/l', 'x'.repeat(4097));
    expect((await rejection(concatChunks(cpioChunks(s)))).code).toBe('E_LIMIT_SYMLINK');
    const s2 = new FileTree();
    s2.addSymlink('/l', 'x'.repeat(4096));
    expect((await readCpioTree(cpioChunks(s2))).get('/l')).toMatchObject({ target: 'x'.repeat(4096) });
  });

  test('content that yields more or fewer bytes than declared is an error', async () => {
    for (const [declared, actual] of [
      [10, 11],
      [10, 9],
    ] as const) {
      const t = new FileTree();
      t.addFile(
        '/f',
        streamContent(declared, async function* () {
          yield new Uint8Array(actual);
        }),
      );
      const e = await rejection(concatChunks(cpioChunks(t)));
      expect(e.code).toBe('E_FORMAT_CONTENT_SIZE');
      expect(e.data.path).toBe('/f');
    }
  });

  test('streams: contents are opened one at a time and big files pass through in chunks', async () => {
    const opened: string[] = [];
    const t = new FileTree();
    const mk = (name: string, size: number) =>
      streamContent(size, async function* () {
        opened.push(name);
        for (let i = 0; i < size; i += 1 << 20) yield new Uint8Array(Math.min(1 << 20, size - i));
      });
    t.addFile('/a', mk('a', 8 << 20));
    t.addFile('/b', mk('b', 8 << 20));
    let max = 0;
    let total = 0;
    const gen = cpioChunks(t);
    for await (const c of gen) {
      max = Math.max(max, c.length);
      total += c.length;
      if (total < 4 << 20) expect(opened).toEqual(['a']);
    }
    expect(opened).toEqual(['a', 'b']);
    expect(max).toBeLessThanOrEqual(1 << 20);
  });
});

// ---- property tests over random trees ----

// newc keeps 32-bit whole-second mtimes and no xattrs
const cpioTreeArb = treeArb({
  maxEntries: 25,
  maxDepth: 3,
  maxFileSize: 2000,
  minTime: 0,
  maxTime: 0xffffffff,
  wholeSeconds: true,
  xattrNames: [],
});

describe('reuseChunks', () => {
  test('a consumer that copies each chunk before the next gets the same bytes, over many chunks', async () => {
    const t = everythingTree();
    // 3,000 files of 0-300 bytes and one of 600 KiB: many 256 KiB chunks, entries across chunk ends
    for (let i = 0; i < 3000; i++)
      t.addFile(`/many/d${i % 7}/f${i}`, new Uint8Array(i % 301).fill(i & 0xff), { mtime: 1_700_000_000 + (i % 5) });
    t.addFile(
      '/many/big',
      new Uint8Array(600 * 1024).map((_, i) => i * 7),
      { mtime: 1_700_000_000 },
    );
    const fresh = await concatChunks(cpioChunks(t));
    const copies: Uint8Array[] = [];
    const views: Uint8Array[] = [];
    for await (const c of cpioChunks(t, { reuseChunks: true })) {
      copies.push(c.slice());
      views.push(c);
    }
    expect(fresh.length).toBeGreaterThan(4 * 256 * 1024);
    expect(Buffer.compare(Buffer.concat(copies), Buffer.from(fresh))).toBe(0);
    // the buffer really is refilled: chunks kept without copying no longer hold the archive
    expect(Buffer.compare(Buffer.concat(views), Buffer.from(fresh))).not.toBe(0);
  });
});

describe('random trees (fast-check)', () => {
  test('writer -> reader round trip preserves everything, in any chunking', async () => {
    await fc.assert(
      fc.asyncProperty(cpioTreeArb, fc.integer({ min: 1, max: 400 }), async (tree, chunk) => {
        const a = await concatChunks(cpioChunks(tree));
        const source = (async function* () {
          for (let i = 0; i < a.length; i += chunk) yield a.subarray(i, i + chunk);
        })();
        const back = await readCpioTree(source);
        expect(await describeTree(back, { times: 'all', root: true })).toEqual(
          await describeTree(tree, { times: 'all', root: true }),
        );
        const again = await concatChunks(cpioChunks(back));
        expect(Buffer.compare(Buffer.from(again), Buffer.from(a))).toBe(0);
      }),
      { numRuns: 150 },
    );
  });

  test.skipIf(missing({ tools: ['cpio'] }))('GNU cpio -t lists the same names in the same order', async () => {
    await fc.assert(
      fc.asyncProperty(cpioTreeArb, async (tree) => {
        const a = await concatChunks(cpioChunks(tree));
        const r = run('cpio', ['-it', '--quiet'], { input: a });
        expect(r.code).toBe(0);
        expect(r.stdout.split('\n').slice(0, -1)).toEqual(
          [...tree.walk()].map((e) => (e.path === '/' ? '.' : e.path.slice(1))),
        );
      }),
      { numRuns: 40 },
    );
  });
});
