/**
 * Build cache for the toolchain. Layout under the cache root
 * ($TINYIMAGE_CACHE, else ~/.cache/tinyimage):
 *
 *   hashes.json               path+size+mtime -> sha256 memo for source tarballs
 *   src/<hash16>/             one extracted tree per source tarball hash
 *   kernel-build/<hash16>-<slot>/  out-of-tree kernel build dirs (make O=)
 *   kernel/<key>/             finished kernels: bzImage, config, build.log
 *   busybox-build/<hash16>-<libc>/, busybox/<key>/   the same for busybox
 *   headers/<hash16>/         `make headers_install` output (musl builds)
 *   locks/                    one lock per build dir (concurrent tinyimage processes)
 */
import { createHash } from 'node:crypto';
import {
  createReadStream,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  realpathSync,
} from 'node:fs';
import { homedir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { HostIOError, UsageError } from '../../core/errors.js';
import { run } from './run.js';

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.TINYIMAGE_CACHE
    ? resolve(env.TINYIMAGE_CACHE)
    : join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'tinyimage');
}

export function sha256File(path: string): Promise<string> {
  return new Promise((res, rej) => {
    const h = createHash('sha256');
    createReadStream(path)
      .on('data', (c) => h.update(c))
      .on('error', rej)
      .on('end', () => res(h.digest('hex')));
  });
}

export function sha256(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** sha256 of a file; files of 32 MiB and more are memoised in the cache by (realpath, size, mtime) so big tarballs are hashed once. */
export async function cachedFileHash(cacheDir: string, path: string): Promise<string> {
  const real = realpathSync(path);
  const st = statSync(real);
  // Small files (initramfs archives in temporary directories) are cheaper to hash than to memoise.
  if (st.size < 32 * 1024 * 1024) return sha256File(real);
  const memoPath = join(cacheDir, 'hashes.json');
  let memo: Record<string, string> = {};
  try {
    memo = JSON.parse(readFileSync(memoPath, 'utf8')) as Record<string, string>;
  } catch {
    /* none yet */
  }
  const k = `${real}\0${st.size}\0${st.mtimeMs}`;
  if (memo[k]) return memo[k]!;
  const h = await sha256File(real);
  try {
    memo = JSON.parse(readFileSync(memoPath, 'utf8')) as Record<string, string>;
  } catch {
    memo = {};
  }
  memo[k] = h;
  mkdirSync(cacheDir, { recursive: true });
  const tmp = `${memoPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(memo, null, 1));
  renameSync(tmp, memoPath);
  return h;
}

export interface ResolvedSource {
  /** The source tree to build in (extracted tarball or the given directory). */
  dir: string;
  /** Stable identity for cache keys: sha256 of the tarball, or of the directory's path + Makefile identity. */
  id: string;
  kind: 'tarball' | 'dir';
}

/**
 * A source tarball is extracted once per content hash under src/<hash16>;
 * a directory is used in place (its identity = real path + Makefile/.config-free
 * stat, so edits to top-level Makefile invalidate; deep edits are the user's
 * responsibility, documented).
 */
export async function resolveSource(
  source: string,
  cacheDir: string,
  opts: { signal?: AbortSignal; expect: string; what: string; logFile?: string; onExtract?: () => void },
): Promise<ResolvedSource> {
  if (!existsSync(source))
    throw new UsageError('E_USAGE_SOURCE', `${opts.what} source '${source}' does not exist`, { path: source });
  const st = statSync(source);
  if (st.isDirectory()) {
    const dir = realpathSync(source);
    if (!existsSync(join(dir, opts.expect)))
      throw new UsageError(
        'E_USAGE_SOURCE',
        `${source} does not look like a ${opts.what} source tree (no ${opts.expect})`,
        { path: source },
      );
    const mk = statSync(join(dir, 'Makefile'));
    return { dir, id: sha256(`dir\0${dir}\0${mk.size}\0${mk.mtimeMs}`), kind: 'dir' };
  }
  const hash = await cachedFileHash(cacheDir, source);
  const dir = join(cacheDir, 'src', hash.slice(0, 16));
  if (existsSync(join(dir, opts.expect))) return { dir, id: hash, kind: 'tarball' };
  mkdirSync(join(cacheDir, 'src'), { recursive: true });
  return withLock(cacheDir, `src-${hash.slice(0, 16)}`, async () => {
    if (existsSync(join(dir, opts.expect))) return { dir, id: hash, kind: 'tarball' as const };
    opts.onExtract?.();
    const tmp = `${dir}.tmp-${process.pid}`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    // tar picks the decompressor from the data (xz, bzip2, gzip, zstd).
    await run('tar', ['-xf', resolve(source), '-C', tmp, '--no-same-owner'], {
      signal: opts.signal,
      logFile: opts.logFile,
    });
    // Upstream tarballs have one top-level directory; descend into it.
    let root = tmp;
    const ents = readdirSync(tmp);
    if (ents.length === 1 && statSync(join(tmp, ents[0]!)).isDirectory()) root = join(tmp, ents[0]!);
    if (!existsSync(join(root, opts.expect))) {
      rmSync(tmp, { recursive: true, force: true });
      throw new UsageError(
        'E_USAGE_SOURCE',
        `${source} does not contain a ${opts.what} source tree (no ${opts.expect} at its top level)`,
        { path: source },
      );
    }
    rmSync(dir, { recursive: true, force: true });
    renameSync(root, dir);
    rmSync(tmp, { recursive: true, force: true });
    return { dir, id: hash, kind: 'tarball' as const };
  });
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Cross-process lock (a directory holding the owner's pid). Waits while a live
 * process holds it; takes over a lock left by a dead one.
 */
export async function withLock<T>(
  cacheDir: string,
  name: string,
  fn: () => Promise<T>,
  opts: { signal?: AbortSignal } = {},
): Promise<T> {
  const dir = join(cacheDir, 'locks', name);
  mkdirSync(join(cacheDir, 'locks'), { recursive: true });
  for (;;) {
    try {
      mkdirSync(dir);
      writeFileSync(join(dir, 'pid'), String(process.pid));
      break;
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'EEXIST')
        throw new HostIOError('E_IO_LOCK', `cannot create lock ${dir}: ${(e as Error).message}`, { path: dir });
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(dir, 'pid'), 'utf8'));
      } catch {
        /* being written */
      }
      if (Number.isFinite(owner) && owner > 0 && !pidAlive(owner)) {
        rmSync(dir, { recursive: true, force: true });
        continue;
      }
      if (opts.signal?.aborted)
        throw new HostIOError('E_IO_LOCK', `aborted while waiting for lock ${dir}`, { path: dir });
      await new Promise((r) => setTimeout(r, 500));
    }
  }
  try {
    return await fn();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** First line of `CC --version`, part of every cache key. */
export async function compilerVersion(cc: string, env?: NodeJS.ProcessEnv): Promise<string> {
  const r = await run(cc, ['--version'], { captureStdout: true, env });
  return r.stdout.split('\n')[0]!.trim();
}

/** Put a finished artifact set into the cache atomically (tmp dir + rename). */
export function storeResult(finalDir: string, files: Record<string, string | Uint8Array>): void {
  const tmp = `${finalDir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  for (const [name, data] of Object.entries(files)) {
    // names may have directories ('dtbs/broadcom/x.dtb')
    if (name.includes('/')) mkdirSync(dirname(join(tmp, name)), { recursive: true });
    writeFileSync(join(tmp, name), data);
  }
  rmSync(finalDir, { recursive: true, force: true });
  renameSync(tmp, finalDir);
}
