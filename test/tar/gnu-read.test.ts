/**
 * GNU tar as the producer: the rich fixture directory (every entry type,
 * long names, big ids, negative and nanosecond times, xattrs, ACLs, sparse
 * files) archived in each format GNU tar writes, read back by readTar and
 * compared with the directory as the kernel reports it.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { readTar } from '../../src/core/archive/tar/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { FileNode } from '../../src/core/tree/types.js';
import { missing } from '../helpers/prereq.js';
import { expectSameTree, gnuPaxTar, gnuTar, hostTree, IS_ROOT, makeFixtureDir, mem, tmp } from './helpers.js';

const skip = !IS_ROOT
  ? (console.warn('skipping: the GNU tar fixtures need root (owners, devices)'), 'not root')
  : missing({ tools: ['tar', 'python3', 'getent'] });

const hostIds = (kind: 'user' | 'group', name: string) => {
  try {
    return Number(
      execFileSync('getent', [kind === 'user' ? 'passwd' : 'group', name], { encoding: 'utf8' }).split(':')[2],
    );
  } catch {
    return undefined;
  }
};

/** The tree with every time cut to whole seconds (formats without sub-second times). */
function seconds(t: FileTree): FileTree {
  const seen = new Set();
  for (const e of t.walk()) {
    if (seen.has(e.node)) continue;
    seen.add(e.node);
    e.node.mtime = { sec: e.node.mtime.sec, nsec: 0 };
  }
  return t;
}

describe.skipIf(skip)('readTar on archives GNU tar wrote', () => {
  const fx = tmp();
  let host: FileTree;
  beforeAll(() => {
    makeFixtureDir(fx.dir);
    host = hostTree(fx.dir);
  });
  afterAll(() => fx.cleanup());

  test('--format=posix with --xattrs --acls --sparse: every path, type, mode, owner, ns mtime, size, content, link, device and xattr', async () => {
    const bytes = gnuPaxTar(fx.dir);
    const r = readTar(mem(new Uint8Array(bytes)));
    expect(r.warnings).toEqual([]);
    // the fixture really has what the comparison is about
    expect(host.stats().entries).toBeGreaterThan(35);
    expect([...host.get('/x/attrs')!.xattrs.keys()].sort()).toEqual(['trusted.t', 'user.a', 'user.bin']);
    expect(host.get('/x/acl')!.xattrs.has('system.posix_acl_access')).toBe(true);
    expect(host.get('/etc/passwd')!.mtime).toEqual({ sec: 1700000001, nsec: 123456789 });
    expect(host.get('/links/sym')).toBe(host.get('/links/sym2'));
    await expectSameTree(host, r.tree);
    const sparse = r.tree.get('/sparse/hole-end') as FileNode;
    expect(sparse.content.dataRanges?.().reduce((s, [a, b]) => s + b - a, 0)).toBeLessThan(64 * 1024);
  });

  test('--acls alone: the text ACLs become the xattrs the kernel stores, names resolved by the caller', async () => {
    const bytes = gnuTar(['--format=posix', '--acls', '-C', fx.dir, '-cf', '-', 'x/acl', 'x/acldir']);
    const r = readTar(mem(new Uint8Array(bytes)), { aclIds: hostIds });
    for (const p of ['/x/acl', '/x/acldir']) {
      const want = [...host.get(p)!.xattrs].filter(([k]) => k.startsWith('system.posix_acl_'));
      expect([...r.tree.get(p)!.xattrs], p).toEqual(want);
    }
    // without a resolver a named entry cannot be mapped: the ACL is left out with a warning, never guessed
    const plain = readTar(mem(new Uint8Array(bytes)));
    const named = plain.warnings.filter((w) => w.includes('ACL left out'));
    const uid1000HasName =
      hostIds('user', execFileSync('sh', ['-c', 'getent passwd 1000 | cut -d: -f1'], { encoding: 'utf8' }).trim()) ===
      1000;
    expect(named.length).toBe(uid1000HasName ? 1 : 0);
    expect(plain.tree.get('/x/acldir')!.xattrs.has('system.posix_acl_default')).toBe(true); // group 12345 has no name: stored numerically
  });

  test.each(['gnu', 'oldgnu'])(
    '--format=%s --sparse: GNU long names, base-256 numbers, old GNU sparse members',
    async (format) => {
      const bytes = gnuTar([`--format=${format}`, '--sparse', '-C', fx.dir, '-cf', '-', '.']);
      const r = readTar(mem(new Uint8Array(bytes)));
      const want = seconds(hostTree(fx.dir));
      // times before 1970 are stored exactly (base-256) but GNU tar rounds them down to the second
      await expectSameTree(want, seconds(r.tree), { ignoreFields: ['xattrs'] });
      expect((r.tree.get('/sparse/data-end') as FileNode).content.dataRanges?.()).toEqual([
        [3 << 20, (3 << 20) + 10000],
      ]);
    },
  );

  test.each(['0.0', '0.1', '1.0'])('pax sparse format %s: holes and data where the file has them', async (v) => {
    const bytes = gnuTar(['--format=posix', '--sparse', `--sparse-version=${v}`, '-C', fx.dir, '-cf', '-', 'sparse']);
    const r = readTar(mem(new Uint8Array(bytes)));
    for (const p of ['/sparse/hole-end', '/sparse/data-end']) {
      const a = host.get(p) as FileNode,
        b = r.tree.get(p) as FileNode;
      expect(b.content.size, p).toBe(a.content.size);
      expect(b.content.dataRanges!().length, p).toBeGreaterThan(0);
    }
    const only = hostTree(fx.dir);
    for (const k of [...only.root.children.keys()]) if (k !== 'sparse') only.root.children.delete(k);
    only.root.mtime = r.tree.root.mtime; // the root is not in this archive
    await expectSameTree(only, r.tree, { ignoreFields: ['mode', 'uid', 'gid'] });
  });

  test('--format=v7: regular files, directories, symlinks and hard links', async () => {
    const bytes = gnuTar(['--format=v7', '-C', fx.dir, '-cf', '-', 'etc', 'bin', 'links/a', 'links/b', 'links/sym']);
    const r = readTar(mem(new Uint8Array(bytes)));
    const want = seconds(hostTree(fx.dir));
    for (const p of ['/etc', '/etc/passwd', '/bin/busybox', '/links/b', '/links/sym']) {
      const a = want.get(p)!,
        b = r.tree.get(p)!;
      expect([b.type, b.mode, b.uid, b.gid, b.mtime.sec], p).toEqual([a.type, a.mode, a.uid, a.gid, a.mtime.sec]);
    }
    expect(r.tree.get('/links/a')).toBe(r.tree.get('/links/b'));
  });

  test('--format=ustar of the entries ustar can hold', async () => {
    const bytes = gnuTar([
      '--format=ustar',
      '-C',
      fx.dir,
      '-cf',
      '-',
      'etc',
      'bin',
      'empty',
      'exact512',
      'x',
      'links/a',
      'links/b',
      'links/sym',
      'dev',
      'tmp',
    ]);
    const r = readTar(mem(new Uint8Array(bytes)));
    const want = seconds(hostTree(fx.dir));
    for (const p of [
      '/etc/passwd',
      '/bin/busybox',
      '/exact512',
      '/links/b',
      '/links/sym',
      '/dev/sda1',
      '/dev/fifo',
      '/tmp',
    ]) {
      const a = want.get(p)!,
        b = r.tree.get(p)!;
      expect([b.type, b.mode, b.uid, b.gid, b.mtime.sec], p).toEqual([a.type, a.mode, a.uid, a.gid, a.mtime.sec]);
    }
    expect(r.tree.get('/links/a')).toBe(r.tree.get('/links/b'));
    expect(r.tree.get('/dev/sda1')).toMatchObject({ major: 8, minor: 1 });
  });
});
