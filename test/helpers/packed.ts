/**
 * The package as users get it, shared by every test file that needs it:
 * `npm pack` of this checkout (prepack builds dist/) installed into a new
 * project, ONCE per state of the checkout. The project is cached under the
 * temporary directory, keyed by a hash of what the tarball ships that
 * changes behaviour (dist/, bin/, presets/, package.json, LICENSE), so two
 * test files, or two runs, do not pack twice; a lock makes concurrent test
 * files wait for the one that packs.
 *
 * The project also sees this checkout's vitest and @types/node (symlinked
 * into its node_modules), so examples that import 'vitest' or use Node
 * types type-check there as in a user's project. Those links point into one
 * checkout, so the key also holds the checkout's path, and a project whose
 * links no longer resolve (its checkout was removed, and another clone at
 * the same path has not installed yet) is made again.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { REPO } from './prereq.js';
import type { TmpDir } from './tmp.js';

export interface PackedProject {
  /** The project: package.json (type module) and node_modules/tinyimage installed from the tarball. */
  dir: string;
  /** node_modules/tinyimage inside it. */
  pkg: string;
  /** node_modules/.bin/tinyimage inside it. */
  bin: string;
  /** The tarball npm pack made. */
  tarball: string;
  /** This checkout's TypeScript compiler (the project has none of its own). */
  tsc: string;
  /** A fresh directory inside the project for one test file (imports of 'tinyimage' resolve from it). */
  workDir(prefix: string): TmpDir;
}

const SHIPPED = ['dist/core', 'dist/node', 'bin', 'presets', 'package.json', 'LICENSE'];
const ROOT = process.env.TINYIMAGE_PACKED_DIR ?? tmpdir();
const PREFIX = 'tinyimage-packed-';
const WAIT_MS = 600_000;

function files(path: string): string[] {
  if (!existsSync(path)) return [];
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path, { recursive: true, encoding: 'utf8' })
    .map((f) => join(path, f))
    .filter((f) => statSync(f).isFile() && !f.includes('.tsbuildinfo'))
    .sort();
}

/** Hash of the shipped files that change behaviour (docs and README are read from the checkout). */
function contentHash(): string {
  const h = createHash('sha256');
  for (const f of SHIPPED.flatMap((p) => files(join(REPO, p)))) {
    h.update(relative(REPO, f)).update('\0').update(readFileSync(f)).update('\0');
  }
  return h.digest('hex').slice(0, 16);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

function sleep(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

/** Takes the lock directory, or returns false when a live process holds it. */
function tryLock(lock: string): boolean {
  try {
    mkdirSync(lock);
  } catch {
    const pid = Number(existsSync(join(lock, 'pid')) ? readFileSync(join(lock, 'pid'), 'utf8') : NaN);
    if (Number.isInteger(pid) && alive(pid)) return false;
    // a lock without a pid may be one being taken right now: give it a moment before calling it stale
    if (!Number.isInteger(pid) && Date.now() - statSync(lock).mtimeMs < 5000) return false;
    rmSync(lock, { recursive: true, force: true });
    return tryLock(lock);
  }
  writeFileSync(join(lock, 'pid'), String(process.pid));
  return true;
}

function npm(args: string[], cwd: string): void {
  execFileSync('npm', args, { cwd, stdio: 'pipe' });
}

/** This checkout's packages the project links to (see the top of this file). */
const LINKS = ['node_modules/@types/node', 'node_modules/vitest'];

function packAndInstall(dir: string): void {
  const tmp = `${dir}.tmp-${process.pid}`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp);
  npm(['pack', '--pack-destination', tmp, '--silent'], REPO);
  const tgz = readdirSync(tmp).find((f) => f.endsWith('.tgz'));
  if (!tgz) throw new Error(`npm pack left no tarball in ${tmp}`);
  writeFileSync(join(tmp, 'package.json'), JSON.stringify({ name: 'user', private: true, type: 'module' }));
  npm(['install', '--prefer-offline', '--no-audit', '--no-fund', '--silent', join(tmp, tgz)], tmp);
  mkdirSync(join(tmp, 'node_modules/@types'), { recursive: true });
  for (const l of LINKS) symlinkSync(join(REPO, l), join(tmp, l));
  writeFileSync(join(tmp, '.tarball'), tgz);
  renameSync(tmp, dir);
}

/** A finished project whose links into its checkout still resolve. */
function usable(dir: string): boolean {
  return existsSync(join(dir, '.tarball')) && LINKS.every((l) => existsSync(join(dir, l)));
}

/**
 * Projects of earlier states, a day old, or whose checkout is gone: removed
 * (a younger one may belong to a running test).
 */
function removeOld(keep: string): void {
  for (const name of readdirSync(ROOT)) {
    const p = join(ROOT, name);
    if (!name.startsWith(PREFIX) || p === keep || name.endsWith('.lock')) continue;
    const finished = existsSync(join(p, '.tarball'));
    if ((finished && !usable(p)) || Date.now() - statSync(p).mtimeMs > 86_400_000) {
      rmSync(p, { recursive: true, force: true });
    }
  }
}

/** Runs fn holding the lock, after waiting for any live holder. */
function withLock(lock: string, fn: () => void): void {
  const start = Date.now();
  while (!tryLock(lock)) {
    if (Date.now() - start > WAIT_MS) throw new Error(`waited ${WAIT_MS / 1000} s for ${lock}`);
    sleep(500);
  }
  try {
    fn();
  } finally {
    rmSync(lock, { recursive: true, force: true });
  }
}

let cached: PackedProject | undefined;

/**
 * Builds (tsc -b, incremental), then returns the installed project for this
 * state of dist/, packing and installing only when no test run made it yet.
 */
export function packedProject(): PackedProject {
  if (cached) return cached;
  const checkout = createHash('sha256').update(REPO).digest('hex').slice(0, 16);
  withLock(join(ROOT, `${PREFIX}build-${checkout}.lock`), () => {
    execFileSync(join(REPO, 'node_modules/.bin/tsc'), ['-b'], { cwd: REPO, stdio: 'pipe' });
  });
  const dir = join(ROOT, `${PREFIX}${checkout}-${contentHash()}`);
  if (!usable(dir)) {
    withLock(`${dir}.lock`, () => {
      if (usable(dir)) return;
      rmSync(dir, { recursive: true, force: true });
      packAndInstall(dir);
    });
    removeOld(dir);
  }
  const tarball = join(dir, readFileSync(join(dir, '.tarball'), 'utf8'));
  cached = {
    dir,
    pkg: join(dir, 'node_modules/tinyimage'),
    bin: join(dir, 'node_modules/.bin/tinyimage'),
    tarball,
    tsc: join(REPO, 'node_modules/.bin/tsc'),
    workDir(prefix) {
      const w = mkdtempSync(join(dir, prefix));
      return { dir: w, path: (n) => join(w, n), cleanup: () => rmSync(w, { recursive: true, force: true }) };
    },
  };
  return cached;
}
