import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cachedFileHash, defaultCacheDir, resolveSource, sha256, withLock } from '../../src/node/toolchain/cache.js';
import { run } from '../../src/node/toolchain/run.js';
import { UsageError } from '../../src/core/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'tinyimage-cache-'));

describe('toolchain cache', () => {
  it('defaults to $TINYIMAGE_CACHE, then XDG, then ~/.cache/tinyimage', () => {
    expect(defaultCacheDir({ TINYIMAGE_CACHE: '/x/y' })).toBe('/x/y');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/xdg' })).toBe('/xdg/tinyimage');
    expect(defaultCacheDir({})).toMatch(/\/\.cache\/tinyimage$/);
  });

  it('hashes files (sha256) and memoises big ones', async () => {
    const d = tmp();
    writeFileSync(join(d, 'f'), 'hello');
    expect(await cachedFileHash(d, join(d, 'f'))).toBe(sha256('hello'));
  });

  it('extracts a tarball once per content hash and strips the top directory', async () => {
    const d = tmp();
    mkdirSync(join(d, 'pkg-1.0', 'applets'), { recursive: true });
    writeFileSync(join(d, 'pkg-1.0', 'Config.in'), 'config X\n');
    writeFileSync(join(d, 'pkg-1.0', 'Makefile'), 'all:\n');
    const tar = join(d, 'pkg.tar.gz');
    await run('tar', ['-czf', tar, '-C', d, 'pkg-1.0']);
    const cache = join(d, 'cache');
    const a = await resolveSource(tar, cache, { expect: 'Config.in', what: 'busybox' });
    expect(a.kind).toBe('tarball');
    expect(readFileSync(join(a.dir, 'Config.in'), 'utf8')).toBe('config X\n');
    const mtime = statSync(join(a.dir, 'Config.in')).mtimeMs;
    writeFileSync(join(a.dir, 'marker'), '');
    const b = await resolveSource(tar, cache, { expect: 'Config.in', what: 'busybox' });
    expect(b.dir).toBe(a.dir);
    expect(b.id).toBe(a.id);
    expect(existsSync(join(b.dir, 'marker'))).toBe(true); // not re-extracted
    expect(statSync(join(b.dir, 'Config.in')).mtimeMs).toBe(mtime);
    // A directory source is used in place.
    const c = await resolveSource(join(d, 'pkg-1.0'), cache, { expect: 'Config.in', what: 'busybox' });
    expect(c).toMatchObject({ kind: 'dir', dir: join(d, 'pkg-1.0') });
    // Wrong kind of tree: a clear usage error.
    await expect(resolveSource(tar, join(d, 'cache2'), { expect: 'Kbuild', what: 'kernel' })).rejects.toThrow(
      UsageError,
    );
    await expect(resolveSource(join(d, 'nope.tar'), cache, { expect: 'Kbuild', what: 'kernel' })).rejects.toThrow(
      /does not exist/,
    );
  });

  it("serialises holders of the same lock and takes over a dead holder's lock", async () => {
    const d = tmp();
    const order: string[] = [];
    const slow = withLock(d, 'x', async () => {
      order.push('a-start');
      await new Promise((r) => setTimeout(r, 300));
      order.push('a-end');
    });
    await new Promise((r) => setTimeout(r, 50));
    const fast = withLock(d, 'x', async () => {
      order.push('b');
    });
    await Promise.all([slow, fast]);
    expect(order).toEqual(['a-start', 'a-end', 'b']);
    // A lock left by a process that no longer exists.
    mkdirSync(join(d, 'locks', 'y'), { recursive: true });
    writeFileSync(join(d, 'locks', 'y', 'pid'), '999999999');
    const t0 = Date.now();
    expect(await withLock(d, 'y', async () => 42)).toBe(42);
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(existsSync(join(d, 'locks', 'y'))).toBe(false);
  });
});
