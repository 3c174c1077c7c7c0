/** Shared helpers for the FAT tests: external checkers and tree comparison. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeFat, type FatOptions } from '../../src/core/fs/fat/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { TreeNode } from '../../src/core/tree/types.js';
import { readContent } from '../../src/core/tree/content.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { run } from '../helpers/prereq.js';

export const MTOOLS_ENV = { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8', LANG: 'C.UTF-8' };

export function tmp(prefix = 'fat-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `tree` to an in-memory FAT image of `size` bytes and save it to `path`. */
export async function makeImage(tree: FileTree, path: string, size: number, opts: FatOptions = {}) {
  const dev = new MemoryDevice(size);
  const summary = await writeFat(tree, dev, opts);
  writeFileSync(path, dev.bytes);
  return { dev, summary };
}

/** fsck.fat -n: exit 0 and nothing but the banner and the summary line. */
export function expectFsckClean(image: string): string {
  const r = run('fsck.fat', ['-n', image]);
  const out = r.stdout + r.stderr;
  const lines = out.split('\n').filter((l) => l.trim() !== '');
  const noise = lines.filter((l) => !/^fsck\.fat \d/.test(l) && !/: \d+ files, \d+\/\d+ clusters$/.test(l));
  expect(noise, out).toEqual([]);
  expect(r.code, out).toBe(0);
  return out;
}

/** Full verbose fsck (checks the backup boot sector etc.): same cleanliness rules for its warnings. */
export function fsckVerboseText(image: string): string {
  const r = run('fsck.fat', ['-n', '-v', image]);
  return r.stdout + r.stderr;
}

/** Copy the whole image out with mcopy -s -n into `dest`. */
export function mcopyOut(image: string, dest: string): void {
  const r = runEnv('mcopy', ['-s', '-n', '-m', '-i', image, '::/*', dest]);
  if (r.code !== 0 && !/no match|"::\/\*" not found/i.test(r.stderr))
    throw new Error(`mcopy failed (${r.code}): ${r.stderr}`);
}

export function runEnv(cmd: string, args: string[]): { code: number; stdout: string; stderr: string } {
  try {
    const stdout = execFileSync(cmd, args, {
      encoding: 'utf8',
      env: MTOOLS_ENV,
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 28,
    });
    return { code: 0, stdout, stderr: '' };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    return { code: err.status ?? 1, stdout: err.stdout ?? '', stderr: err.stderr ?? '' };
  }
}

/**
 * The tree FAT should hold for `tree`: names and file contents, directories
 * nested, symlinks resolved by the caller's expectation (`resolve`), other
 * types dropped. Returns path -> 'dir' | file bytes.
 */
export async function flatten(
  tree: FileTree,
  opts: { resolveLinks?: boolean } = {},
): Promise<Map<string, 'dir' | Uint8Array>> {
  const out = new Map<string, 'dir' | Uint8Array>();
  const visit = async (node: TreeNode, path: string) => {
    if (node.type === 'dir') {
      if (path !== '') out.set(path, 'dir');
      for (const [name, child] of node.children) await visit(child, `${path}/${name}`);
    } else if (node.type === 'file') {
      out.set(path, await readContent(node.content));
    } else if (node.type === 'symlink' && opts.resolveLinks) {
      throw new Error('resolveLinks not supported in flatten');
    }
  };
  await visit(tree.root, '');
  return out;
}

/**
 * mtools 4.0.32 turns each half of a UTF-16 surrogate pair (characters
 * outside the BMP, e.g. emoji) into '_' when it prints names: compare with
 * that mapping when reading back through mtools.
 */
export const mtoolsNames = (p: string) => p.replace(/[\u{10000}-\u{10FFFF}]/gu, '__');

export async function expectSameFiles(
  actual: FileTree,
  expected: FileTree,
  mapName: (p: string) => string = (p) => p,
): Promise<void> {
  const a = await flatten(actual);
  const e = new Map([...(await flatten(expected))].map(([k, v]) => [mapName(k), v]));
  expect([...a.keys()].sort()).toEqual([...e.keys()].sort());
  for (const [k, v] of e) {
    const got = a.get(k)!;
    if (v === 'dir') expect(got, k).toBe('dir');
    else {
      expect(got, k).toBeInstanceOf(Uint8Array);
      expect(Buffer.from(got as Uint8Array).equals(Buffer.from(v)), `content of ${k}`).toBe(true);
    }
  }
}

/** mcopy everything out and compare with `expected`. */
export async function expectMtoolsReadBack(image: string, expected: FileTree): Promise<void> {
  const t = tmp('fat-mcopy-');
  try {
    mcopyOut(image, t.dir);
    await expectSameFiles(treeFromHostDir(t.dir), expected, mtoolsNames);
  } finally {
    t.cleanup();
  }
}
