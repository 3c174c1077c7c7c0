/**
 * Sources as the CLI names them: one tree from a .tar, .tar.gz, .tar.zst,
 * .tar.xz and .tar.bz2 of the same directory (codec by magic, not by
 * name), from standard input, spooled in memory or to a temporary file;
 * the struct tables; applyLayer's rules on small trees.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeExt4 } from '../../src/core/fs/ext4/index.js';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { cpioChunks } from '../../src/core/archive/cpio/index.js';
import { gzipChunks } from '../../src/core/compress/gzip.js';
import { join } from 'node:path';
import { openSource, parseSourceRef, stackSources } from '../../src/node/host/source.js';
import { spool } from '../../src/node/host/spool.js';
import { applyLayer, stackTrees } from '../../src/core/archive/oci/layer.js';
import { GNU_SPARSE_EXT, GNU_TAIL, SPARSE_ENTRY, TAR_HEADER } from '../../src/core/archive/tar/structs.js';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { missing } from '../helpers/prereq.js';
import { expectSameTree, fileText, gnuTar, hostTree, IS_ROOT, makeFixtureDir, tmp } from './helpers.js';

test('struct tables: no gaps or overlaps, the sizes tar defines', () => {
  for (const [s, size] of [
    [TAR_HEADER, 512],
    [GNU_TAIL, 167],
    [GNU_SPARSE_EXT, 512],
    [SPARSE_ENTRY, 24],
  ] as const) {
    expect(layoutProblems(s), s.name).toEqual([]);
    expect(s.size).toBe(size);
  }
  expect(TAR_HEADER.offsetOf('prefix') + GNU_TAIL.size).toBe(512);
  expect(TAR_HEADER.offsetOf('magic')).toBe(257);
  expect(GNU_TAIL.offsetOf('realsize')).toBe(483 - 345);
});

const skip = !IS_ROOT
  ? (console.warn('skipping: the fixture needs root'), 'not root')
  : missing({ tools: ['tar', 'gzip', 'zstd', 'xz', 'bzip2', 'python3'] });

describe.skipIf(skip)('one tree from every codec, file or standard input', () => {
  const w = tmp();
  const at = (p: string) => join(w.dir, p);
  beforeAll(() => {
    makeFixtureDir(at('src'));
    gnuTar(['--format=posix', '--xattrs', '--xattrs-include=*', '--sparse', '-C', at('src'), '-cf', at('r.tar'), '.']);
    for (const [tool, ext] of [
      ['gzip', 'gz'],
      ['zstd', 'zst'],
      ['xz', 'xz'],
      ['bzip2', 'bz2'],
    ]) {
      writeFileSync(at(`r.tar.${ext}`), execFileSync(tool!, ['-c', at('r.tar')], { maxBuffer: 1 << 28 }));
    }
    copyFileSync(at('r.tar.zst'), at('misnamed.tar.gz'));
  });
  afterAll(() => w.cleanup());

  test('.tar, .tar.gz, .tar.zst, .tar.xz, .tar.bz2 and a misnamed file give the source tree', async () => {
    const want = hostTree(at('src'));
    for (const [f, codec] of [
      ['r.tar', 'none'],
      ['r.tar.gz', 'gzip'],
      ['r.tar.zst', 'zstd'],
      ['r.tar.xz', 'xz'],
      ['r.tar.bz2', 'bzip2'],
      ['misnamed.tar.gz', 'zstd'],
    ] as const) {
      const s = await openSource(at(f));
      try {
        expect([s.kind, s.codec, s.spooled], f).toEqual(['tar', codec, codec !== 'none']);
        await expectSameTree(want, s.tree);
      } finally {
        s.close();
      }
    }
  });

  test('.tar.gz, .tar.zst, .tar.xz and .tar.bz2 of one tree give the same ext4 image, byte for byte', async () => {
    const hashes = new Set<string>();
    for (const f of ['r.tar.gz', 'r.tar.zst', 'r.tar.xz', 'r.tar.bz2']) {
      const s = await openSource(at(f));
      try {
        const dev = new MemoryDevice(32 << 20);
        await writeExt4(s.tree, dev, { size: 32 << 20 });
        hashes.add(createHash('sha256').update(dev.bytes).digest('hex'));
      } finally {
        s.close();
      }
    }
    expect(hashes.size).toBe(1);
  });

  test("'-' reads standard input; past the memory limit the spool is an unlinked temporary file", async () => {
    const bytes = readFileSync(at('r.tar.gz'));
    async function* stdin() {
      for (let i = 0; i < bytes.length; i += 10000) yield new Uint8Array(bytes.subarray(i, i + 10000));
    }
    const s = await openSource('-', { stdin: stdin(), memoryLimit: 1 << 16, tmpDir: at('') });
    try {
      await expectSameTree(hostTree(at('src')), s.tree);
      expect(execFileSync('ls', [w.dir], { encoding: 'utf8' })).not.toContain('spool'); // nothing named is left behind
    } finally {
      s.close();
    }
  });

  test('a directory and a tar stack: the later source wins', async () => {
    const s = await stackSources([at('r.tar'), at('src/etc')]);
    try {
      expect(await fileText(s.tree, '/passwd')).toContain('root:x:0:0');
      expect(s.tree.get('/bin/busybox')?.type).toBe('file');
    } finally {
      s.close();
    }
  });
});

test('the hook for everything else openImage reads: an ext4 image file, a gzip cpio', async () => {
  const w = tmp();
  try {
    const t = new FileTree({ defaultTime: 1700000000 });
    t.addFile('/etc/hostname', 'box\n', { uid: 3 });
    const dev = new MemoryDevice(8 << 20);
    await writeExt4(t, dev, { size: 8 << 20 });
    writeFileSync(join(w.dir, 'root.img'), dev.bytes);
    const img = await openSource(join(w.dir, 'root.img'));
    expect(img.kind).toBe('image');
    expect(await fileText(img.tree, '/etc/hostname')).toBe('box\n');
    img.close();
    const chunks: Uint8Array[] = [];
    for await (const c of gzipChunks(cpioChunks(t))) chunks.push(c);
    writeFileSync(join(w.dir, 'initrd'), Buffer.concat(chunks));
    const cpio = await openSource(join(w.dir, 'initrd'));
    expect([cpio.kind, cpio.codec]).toEqual(['cpio', 'gzip']);
    expect(cpio.tree.get('/etc/hostname')?.uid).toBe(3);
    cpio.close();
    writeFileSync(join(w.dir, 'empty.tar'), new Uint8Array(10240)); // what `tar -cf x.tar -T /dev/null` writes
    const empty = await openSource(join(w.dir, 'empty.tar'));
    expect([empty.kind, empty.tree.root.children.size]).toEqual(['tar', 0]);
    empty.close();
  } finally {
    w.cleanup();
  }
});

test('spool: small streams stay in memory, large ones go to a file, both read back exactly', async () => {
  const data = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  async function* chunks() {
    for (let i = 0; i < data.length; i += 4096) yield data.slice(i, i + 4096);
  }
  for (const limit of [1 << 20, 1000]) {
    const s = await spool(chunks(), { memoryLimit: limit });
    expect(s.onDisk).toBe(limit < data.length);
    expect(s.size).toBe(data.length);
    expect(Buffer.from(s.readAt(123_456, 10_000)).equals(Buffer.from(data.subarray(123_456, 133_456)))).toBe(true);
    s.close();
  }
});

test('parseSourceRef: the forms the CLI accepts', () => {
  expect(parseSourceRef('-')).toEqual({ kind: 'stdin' });
  expect(parseSourceRef('oci:/nonexistent/img:v1')).toEqual({ kind: 'oci', dir: '/nonexistent/img:v1' });
  expect(parseSourceRef(`oci:${process.cwd()}:v1`)).toEqual({ kind: 'oci', dir: process.cwd(), tag: 'v1' });
  expect(parseSourceRef(`docker-archive:${process.cwd()}/package.json:busybox:latest`)).toEqual({
    kind: 'docker-archive',
    file: `${process.cwd()}/package.json`,
    ref: 'busybox:latest',
  });
  expect(parseSourceRef('disk.img:2')).toEqual({ kind: 'path', path: 'disk.img:2' });
});

describe('applyLayer', () => {
  const lower = () => {
    const t = new FileTree({ defaultTime: 100 });
    t.addFile('/a/keep', 'k');
    t.addFile('/a/gone', 'g');
    t.addFile('/o/x', 'x');
    t.mkdir('/o/sub');
    t.addFile('/f', 'old', { mode: 0o644 });
    t.mkdir('/d', { mode: 0o700, uid: 9 });
    return t;
  };

  test('whiteouts delete lower entries, opaque directories hide them, same-layer entries survive', async () => {
    const t = lower();
    const up = new FileTree({ defaultTime: 200 });
    up.addFile('/a/.wh.gone', '');
    up.addFile('/o/.wh..wh..opq', '');
    up.addFile('/o/new', 'n');
    up.addFile('/f', 'new', { mode: 0o600 });
    up.addFile('/fresh/.wh.nothing', ''); // a whiteout without a lower entry just disappears
    applyLayer(t, up);
    expect([...t.walk()].map((e) => e.path)).toEqual(['/', '/a', '/a/keep', '/d', '/f', '/fresh', '/o', '/o/new']);
    expect(await fileText(t, '/f')).toBe('new');
    expect(t.get('/f')!.mode).toBe(0o600);
  });

  test('a directory the layer did not list keeps the lower metadata; one it listed takes the layer metadata', () => {
    const t = lower();
    const up = new FileTree({ defaultTime: 200 });
    up.addFile('/d/inner', 'i');
    applyLayer(t, up, { implicitDirs: new Set([up.get('/d') as never, up.root]) });
    expect(t.get('/d')).toMatchObject({ mode: 0o700, uid: 9 });
    const up2 = new FileTree({ defaultTime: 300 });
    up2.mkdir('/d', { mode: 0o755, uid: 0 });
    applyLayer(t, up2);
    expect(t.get('/d')).toMatchObject({ mode: 0o755, uid: 0 });
    expect(t.get('/d/inner')).toBeDefined();
  });

  test('hard links into a lower layer resolve after the merge; to nothing they are a typed error', async () => {
    const t = lower();
    applyLayer(t, new FileTree(), { links: [{ path: '/l/hl', target: '/a/keep' }] });
    expect(t.get('/l/hl')).toBe(t.get('/a/keep'));
    expect(() => applyLayer(t, new FileTree(), { links: [{ path: '/x', target: '/nope' }] })).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_LAYER_LINK' }),
    );
  });

  test('stackTrees: later wins', async () => {
    const a = new FileTree();
    a.addFile('/x', 'a');
    a.addFile('/y', 'a');
    const b = new FileTree();
    b.addFile('/x', 'b');
    b.addFile('/.wh.y', '');
    const s = stackTrees([a, b]);
    expect(await fileText(s, '/x')).toBe('b');
    expect(s.get('/y')).toBeUndefined();
  });
});
