import { describe, expect, it } from 'vitest';
import {
  lstatSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  existsSync,
  mkdirSync,
  writeFileSync,
  symlinkSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { diffTrees, formatDiff } from '../../src/core/diff/index.js';
import { extractTree } from '../../src/node/host/extract.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { FormatError } from '../../src/core/errors.js';
import { tinyimageMatchers } from '../../src/core/testing/index.js';
import '../../src/node/testing/vitest.js';

function sample(): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/etc/inittab', '::sysinit:/etc/init.d/rcS\n', { mode: 0o644 });
  t.addFile('/bin/busybox', 'ELF', { mode: 0o4755 });
  t.addSymlink('/bin/sh', 'busybox');
  t.addHardLink('/bin/ash', '/bin/busybox');
  t.mkdir('/tmp', { mode: 0o1777 });
  return t;
}

describe('diffTrees', () => {
  it('finds nothing between equal trees and reports each kind of change', async () => {
    expect(await diffTrees(sample(), sample())).toEqual([]);
    const b = sample();
    b.remove('/bin/sh');
    b.addSymlink('/bin/sh', 'ash');
    b.addFile('/etc/inittab', '::sysinit:/bin/true\n', { mode: 0o600 }, { replace: true });
    b.addFile('/etc/new', 'x');
    b.remove('/tmp');
    const d = await diffTrees(sample(), b);
    expect(d).toEqual([
      { path: '/bin/sh', change: 'changed', type: 'symlink', fields: [{ field: 'target', a: 'busybox', b: 'ash' }] },
      {
        path: '/etc/inittab',
        change: 'changed',
        type: 'file',
        fields: [
          { field: 'mode', a: 0o644, b: 0o600 },
          { field: 'size', a: 26, b: 20 },
        ],
      },
      { path: '/etc/new', change: 'added', type: 'file' },
      { path: '/tmp', change: 'removed', type: 'dir' },
    ]);
    expect(formatDiff(d)).toContain('~ /etc/inittab: mode 0644 -> 0600, size 26 -> 20');
  });
  it('notices same-size content changes and broken hard-link groups', async () => {
    const b = sample();
    b.addFile('/bin/ash', 'ELF', { mode: 0o4755 }, { replace: true }); // now a copy, not a link
    const d = await diffTrees(sample(), b);
    expect(d.map((x) => x.fields?.map((f) => f.field))).toEqual([['links'], ['links']]);
    const c = sample();
    c.addFile('/etc/inittab', '::sysinit:/etc/init.d/rcX\n', { mode: 0o644 }, { replace: true });
    expect((await diffTrees(sample(), c))[0]!.fields).toEqual([{ field: 'content', a: 'differs', b: 'differs' }]);
  });
});

describe('matchers', () => {
  it('pass and fail with readable messages', async () => {
    const t = sample();
    expect(t).toHaveEntry('/etc/inittab', { type: 'file', mode: 0o644, owner: [0, 0], content: /sysinit/ });
    expect(t).toHaveEntry('/bin/busybox', { mode: 0o4755 });
    expect(t).toHaveSymlink('/bin/sh', 'busybox');
    expect(t).not.toHaveEntry('/etc/passwd');
    expect(() => expect(t).toHaveEntry('/etc/inittab', { mode: 0o600 })).toThrow(/mode is 0644, expected 0600/);
    expect(() => expect(t).toHaveSymlink('/bin/sh', 'ash')).toThrow(/symlink to ash/);
    await expect({ tree: t }).toMatchTree(sample());
    const other = sample();
    other.addFile('/extra', '');
    await expect(expect(t).toMatchTree(other)).rejects.toThrow(/- \/extra/);
  });

  it('failures carry expected and actual for the test runner to show as a diff', async () => {
    const t = sample();
    const r = tinyimageMatchers.toHaveEntry.call({}, t, '/etc/inittab', { mode: 0o600, owner: [0, 0] });
    expect(r.pass).toBe(false);
    expect(r.expected).toEqual({ mode: 0o600, owner: [0, 0] });
    expect(r.actual).toEqual({ mode: 0o644, owner: [0, 0] });
    const other = sample();
    other.addFile('/extra', 'x');
    const m = await tinyimageMatchers.toMatchTree.call({}, t, other);
    expect(m.expected).toMatch(/^\/extra: file/);
    expect(m.actual).toBe('/extra: (absent)');
    const disk = { kind: 'mbr', partitions: [] };
    expect(() => expect(disk).toHaveEntry('/etc')).toThrow(/partitioned disk: open one of its partitions/);
  });

  it('ignores paths by glob and what filesystems make themselves, not fields by accident', async () => {
    const a = sample();
    const b = sample();
    b.mkdir('/lost+found', { mode: 0o700 });
    b.addFile('/var/log/boot.log', 'x');
    b.addFile('/var/log/sub/deep', 'y');
    expect((await diffTrees(a, b)).map((e) => e.path)).toEqual([
      '/var',
      '/var/log',
      '/var/log/boot.log',
      '/var/log/sub',
      '/var/log/sub/deep',
    ]);
    expect(await diffTrees(a, b, { ignore: ['/var/**', '/var'] })).toEqual([]);
    expect(await diffTrees(a, b, { ignore: ['/var'] })).toEqual([]);
    expect((await diffTrees(a, b, { ignore: ['/var/log/*.log'] })).map((e) => e.path)).toEqual([
      '/var',
      '/var/log',
      '/var/log/sub',
      '/var/log/sub/deep',
    ]);
    expect((await diffTrees(a, b, { ignore: ['/var'], reportOwned: true })).map((e) => e.path)).toEqual([
      '/lost+found',
    ]);
    b.addFile('/lost+found/#12', 'recovered');
    expect((await diffTrees(a, b, { ignore: ['/var'] })).map((e) => e.path)).toEqual([
      '/lost+found',
      '/lost+found/#12',
    ]);
    await expect(diffTrees(a, b, { ignore: ['uid'] })).rejects.toThrow(/'uid' is a field: use ignoreFields/);
  });
});

describe('safe extraction', () => {
  it('extracts every supported type and keeps hard links', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-x-'));
    try {
      const out = join(dir, 'out');
      const t = sample();
      t.addDevice('/dev/null', 'char', 1, 3);
      const warnings: string[] = [];
      const r = await extractTree(t, out, { warn: (m) => warnings.push(m) });
      expect(readFileSync(join(out, 'etc/inittab'), 'utf8')).toMatch(/sysinit/);
      expect(readlinkSync(join(out, 'bin/sh'))).toBe('busybox');
      expect(lstatSync(join(out, 'bin/ash')).ino).toBe(lstatSync(join(out, 'bin/busybox')).ino);
      expect(lstatSync(join(out, 'bin/busybox')).mode & 0o7777).toBe(0o4755);
      expect(lstatSync(join(out, 'tmp')).mode & 0o7777).toBe(0o1777);
      expect(r.skipped).toEqual(['/dev/null']);
      expect(warnings[0]).toMatch(/chardev \/dev\/null/);
      // and the host-dir reader gives the same tree back (devices aside)
      t.remove('/dev/null');
      const back = treeFromHostDir(out);
      back.remove('/dev');
      t.remove('/dev');
      await expect(back).toMatchTree(t, { ignoreFields: ['uid', 'gid'] });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('refuses a non-empty target and never follows symlinks planted in it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-x-'));
    try {
      const out = join(dir, 'out');
      const outside = join(dir, 'outside');
      mkdirSync(out);
      mkdirSync(outside);
      symlinkSync(outside, join(out, 'etc'));
      await expect(extractTree(sample(), out)).rejects.toThrow(expect.objectContaining({ code: 'E_PATH_NOT_EMPTY' }));
      await expect(extractTree(sample(), out, { allowNonEmpty: true })).rejects.toThrow();
      expect(existsSync(join(outside, 'inittab'))).toBe(false);
      writeFileSync(join(dir, 'file'), 'x');
      await expect(extractTree(sample(), join(dir, 'file'))).rejects.toThrow(
        expect.objectContaining({ code: 'E_PATH_NOT_DIR' }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a failure midway leaves the destination as it was: absent, empty, or untouched', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-x-'));
    try {
      const t = sample();
      t.addFile('/zz/broken', {
        size: 100,
        async *stream() {
          yield new Uint8Array(10);
          throw new FormatError('E_FORMAT_TEST', 'extent tree damaged');
        },
      });
      await expect(extractTree(t, join(dir, 'new'))).rejects.toThrow(/extent tree damaged/);
      expect(readdirSync(dir)).toEqual([]);
      mkdirSync(join(dir, 'empty'), { mode: 0o750 });
      await expect(extractTree(t, join(dir, 'empty'))).rejects.toThrow(/extent tree damaged/);
      expect(readdirSync(dir)).toEqual(['empty']);
      expect(readdirSync(join(dir, 'empty'))).toEqual([]);
      mkdirSync(join(dir, 'full'));
      writeFileSync(join(dir, 'full', 'mine'), 'x');
      await expect(extractTree(t, join(dir, 'full'), { allowNonEmpty: true })).rejects.toThrow(/extent tree damaged/);
      expect(readdirSync(join(dir, 'full'))).toEqual(['mine']);
      // and a good tree lands whole
      await extractTree(sample(), join(dir, 'empty'));
      expect(readdirSync(join(dir, 'empty')).length).toBeGreaterThan(0);
      expect(readdirSync(dir).sort()).toEqual(['empty', 'full']);
      await expect(extractTree(sample(), join(dir, 'no/such/parent'))).rejects.toThrow(
        expect.objectContaining({ code: 'E_PATH_NOT_FOUND' }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('a hostile name cannot even enter the tree', () => {
    const t = new FileTree();
    for (const bad of ['../../etc/passwd', '/a/../../b'])
      expect(() => t.addFile(bad, 'x')).toThrow(expect.objectContaining({ code: 'E_PATH_DOTDOT' }));
    t.addSymlink('/link', '/etc');
    expect(() => t.addFile('/link/passwd', 'x')).toThrow(expect.objectContaining({ code: 'E_PATH_NOT_DIR' }));
  });
});
