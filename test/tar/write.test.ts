/**
 * The tar writer, read back three ways: by GNU tar extracting as root (the
 * result compared with the source through the kernel: every path, type,
 * mode, owner, ns mtime, size, content, link, device, xattr and ACL), by
 * GNU tar listing, and by our own reader (property test over random trees).
 * ext4 -> tar -> ext4 keeps everything, holes included.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readTar } from '../../src/core/archive/tar/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { sparseContent } from '../../src/core/tree/content.js';
import type { FileNode } from '../../src/core/tree/types.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { openExt4, writeExt4, ext4MinimumSize } from '../../src/core/fs/ext4/index.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { treeArb } from '../helpers/arbitrary.js';
import { missing } from '../helpers/prereq.js';
import { expectSameTree, gnuPaxTar, gnuTar, hostTree, IS_ROOT, makeFixtureDir, mem, tarBytes, tmp } from './helpers.js';

const skipRoot = !IS_ROOT
  ? (console.warn('skipping: extracting owners and devices needs root'), 'not root')
  : missing({ tools: ['tar', 'python3'] });

describe.skipIf(skipRoot)('GNU tar extracts what tarChunks wrote, as root', () => {
  const fx = tmp();
  beforeAll(() => makeFixtureDir(join(fx.dir, 'src')));
  afterAll(() => fx.cleanup());

  test('GNU tar archive -> readTar -> tarChunks -> tar -x --xattrs --acls: the source tree through the kernel, ns mtimes and holes included', async () => {
    // read GNU tar's own sparse archive first, so the contents know their holes (host files do not say)
    const gnu = gnuPaxTar(join(fx.dir, 'src'));
    const tree = readTar(mem(new Uint8Array(gnu))).tree;
    writeFileSync(join(fx.dir, 'out.tar'), await tarBytes(tree));
    mkdirSync(join(fx.dir, 'x'));
    gnuTar([
      '--xattrs',
      '--xattrs-include=*',
      '--acls',
      '--numeric-owner',
      '-xpf',
      join(fx.dir, 'out.tar'),
      '-C',
      join(fx.dir, 'x'),
    ]);
    await expectSameTree(hostTree(join(fx.dir, 'src')), hostTree(join(fx.dir, 'x')));
    // GNU tar restored the holes from our pax 1.0 sparse map: the 10 MiB file takes a few blocks on disk
    const du = Number(
      execFileSync('du', ['-B1', join(fx.dir, 'x/sparse/hole-end')], { encoding: 'utf8' }).split('\t')[0],
    );
    expect(du).toBeLessThan(64 * 1024);
  });

  test("a real root filesystem's /etc and zoneinfo: GNU tar -> readTar -> ext4 -> tarChunks -> GNU tar -x gives the same tree, mtimes included", async () => {
    // a snapshot first (as root, owners and modes kept), so the live /etc changing cannot make this flaky
    mkdirSync(join(fx.dir, 'real'));
    gnuTar(['-C', '/', '-cpf', join(fx.dir, 'snap.tar'), 'etc', 'usr/share/zoneinfo']);
    gnuTar(['-C', join(fx.dir, 'real'), '-xpf', join(fx.dir, 'snap.tar')]);
    const first = readTar(
      mem(
        new Uint8Array(
          gnuTar(['--format=posix', '--xattrs', '--xattrs-include=*', '-C', join(fx.dir, 'real'), '-cf', '-', '.']),
        ),
      ),
    ).tree;
    const dev = new MemoryDevice(Math.max(ext4MinimumSize(first, {}), 64 << 20));
    await writeExt4(first, dev, {});
    writeFileSync(join(fx.dir, 'real.tar'), await tarBytes(openExt4(dev).tree));
    mkdirSync(join(fx.dir, 'again'));
    gnuTar([
      '--xattrs',
      '--xattrs-include=*',
      '--numeric-owner',
      '-xpf',
      join(fx.dir, 'real.tar'),
      '-C',
      join(fx.dir, 'again'),
    ]);
    const want = hostTree(join(fx.dir, 'real'));
    expect(want.stats().entries).toBeGreaterThan(1000);
    const got = hostTree(join(fx.dir, 'again'));
    got.root.children.delete('lost+found'); // ext4's own
    await expectSameTree(want, got);
  }, 120_000);

  test('tar -tv lists every entry with the owners, modes and link targets we wrote', async () => {
    const src = hostTree(join(fx.dir, 'src'));
    const list = gnuTar(['--numeric-owner', '-tvf', '-'], { input: await tarBytes(src) }).toString();
    expect(list).toMatch(/^-rwsr-xr-x 0\/0\s+200000 \S+ \S+ bin\/busybox$/m);
    expect(list).toMatch(/^-rw-r--r-- 3000000\/4000000 .* bigids$/m);
    expect(list).toMatch(/^brw-rw---- 0\/6\s+8,1 .* dev\/sda1$/m);
    expect(list).toMatch(/^hrw-r--r-- 0\/0\s+0 .* links\/b link to links\/a$/m);
    expect(list).toMatch(/^drwxrwxrwt 0\/0\s+0 .* tmp\/$/m);
  });
});

test('same tree, same bytes; pax only where ustar cannot hold a field', async () => {
  const t = new FileTree({ defaultTime: 1700000000 });
  t.addFile('/a', 'x');
  t.addFile('/n', 'y', { mtime: { sec: 1700000000, nsec: 5 } });
  const one = await tarBytes(t),
    two = await tarBytes(t);
  expect(Buffer.from(one).equals(Buffer.from(two))).toBe(true);
  expect(one.length % 10240).toBe(0);
  const text = Buffer.from(one).toString('latin1');
  expect(text.match(/PaxHeaders/g)?.length).toBe(1); // only /n (nanoseconds) needs one
  expect(text).toContain('mtime=1700000000.000000005\n');
});

test('sockets cannot be stored in tar and are left out, as GNU tar does', async () => {
  const t = new FileTree();
  t.addSocket('/run/s');
  t.addFile('/run/f', 'x');
  const back = readTar(mem(await tarBytes(t))).tree;
  expect([...(back.get('/run') as { children: Map<string, unknown> }).children.keys()]).toEqual(['f']);
});

test('a content that yields fewer bytes than its size is a typed error, not a short archive', async () => {
  const t = new FileTree();
  t.addFile('/liar', {
    size: 10,
    async *stream() {
      yield new Uint8Array(4);
    },
  });
  await expect(tarBytes(t)).rejects.toMatchObject({ code: 'E_FORMAT_CONTENT_SIZE' });
});

test('property: random trees -> tar -> readTar give the same tree (every field, ns mtimes, xattrs, holes, hard links)', async () => {
  await fc.assert(
    fc.asyncProperty(treeArb({ types: ['file', 'dir', 'symlink', 'dev', 'fifo', 'link'] }), async (tree) => {
      const back = readTar(mem(await tarBytes(tree)));
      const d = await diffTrees(tree, back.tree, { mtime: true });
      expect(formatDiff(d)).toBe('');
    }),
    { numRuns: 60 },
  );
});

test('ext4 -> tar -> ext4 keeps every owner, mode, ns mtime, xattr, device, hole and hard link', async () => {
  const t = new FileTree({ defaultTime: 1700000000 });
  t.addFile('/etc/f', 'data\n', {
    mode: 0o4755,
    uid: 1000,
    gid: 2000,
    mtime: { sec: 1700000001, nsec: 987654321 },
    xattrs: {
      'user.k': 'v',
      'security.capability': new Uint8Array([1, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
    },
  });
  t.addHardLink('/etc/g', '/etc/f');
  t.addDevice('/dev/sda', 'block', 8, 0, { gid: 6, mode: 0o660 });
  t.addDevice('/dev/tty', 'char', 5, 0);
  t.addFifo('/run/fifo', { mode: 0o600 });
  t.addSymlink('/lib', 'usr/lib');
  t.addFile(
    '/holes',
    sparseContent(5 << 20, [
      { offset: 0, data: new Uint8Array(4096).fill(1) },
      { offset: 3 << 20, data: new Uint8Array(8192).fill(2) },
    ]),
  );
  t.mkdir('/acl', {
    xattrs: {
      'system.posix_acl_default': new Uint8Array([
        2, 0, 0, 0, 1, 0, 7, 0, 255, 255, 255, 255, 4, 0, 5, 0, 255, 255, 255, 255, 8, 0, 5, 0, 57, 48, 0, 0, 16, 0, 7,
        0, 255, 255, 255, 255, 32, 0, 5, 0, 255, 255, 255, 255,
      ]),
    },
  });
  const write = async (tree: FileTree) => {
    const dev = new MemoryDevice(Math.max(ext4MinimumSize(tree, {}), 16 << 20));
    await writeExt4(tree, dev, {});
    return openExt4(dev).tree;
  };
  const first = await write(t);
  const viaTar = readTar(mem(await tarBytes(first))).tree;
  const second = await write(viaTar);
  await expectSameTree(first, second);
  // and against the source: only lost+found (ext4's own) and the root's link count may differ
  const d = (await diffTrees(t, second, { mtime: true })).filter((x) => x.path !== '/lost+found');
  expect(formatDiff(d)).toBe('');
  const holes = (second.get('/holes') as FileNode).content.dataRanges!();
  expect(holes.reduce((s, [a, b]) => s + b - a, 0)).toBeLessThan(64 * 1024);
});
