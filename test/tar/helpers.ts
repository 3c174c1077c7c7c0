/** Shared helpers for the tar tests: the rich source directory, host trees with xattrs, GNU tar. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readContent } from '../../src/core/tree/content.js';
import { tarChunks } from '../../src/core/archive/tar/index.js';

export const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

export function tmp(prefix = 'tinyimage-tar-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Build the rich fixture directory (root only: owners, devices, trusted.* xattrs). */
export function makeFixtureDir(dir: string): void {
  execFileSync('python3', [join(import.meta.dirname, 'mkfixture.py'), dir]);
}

/** Every xattr of every entry under `dir` (symlinks excluded: Linux allows only trusted/security on them), read by the kernel. */
export function hostXattrs(dir: string): Map<string, Map<string, Uint8Array>> {
  const script = `
import os, sys, json
root = sys.argv[1]; out = {}
for d, dirs, files in os.walk(root):
    for n in [''] + dirs + files:
        p = os.path.join(d, n) if n else d
        if os.path.islink(p): continue
        names = os.listxattr(p, follow_symlinks=False)
        if names:
            rel = '/' + os.path.relpath(p, root) if p != root else '/'
            out[rel.replace('/.', '/') if rel == '/.' else rel] = {k: os.getxattr(p, k, follow_symlinks=False).hex() for k in names}
print(json.dumps(out))`;
  const raw = JSON.parse(execFileSync('python3', ['-c', script, dir], { encoding: 'utf8' })) as Record<
    string,
    Record<string, string>
  >;
  const m = new Map<string, Map<string, Uint8Array>>();
  for (const [p, x] of Object.entries(raw))
    m.set(p, new Map(Object.entries(x).map(([k, v]) => [k, new Uint8Array(Buffer.from(v, 'hex'))])));
  return m;
}

/** A host directory as a tree, with the xattrs the kernel reports (treeFromHostDir cannot read them). */
export function hostTree(dir: string): FileTree {
  const t = treeFromHostDir(dir);
  for (const [p, x] of hostXattrs(dir)) {
    const n = t.get(p);
    if (n) n.xattrs = x;
  }
  return t;
}

/** Expect no differences, mtimes (with nanoseconds) included unless told otherwise. */
export async function expectSameTree(a: FileTree, b: FileTree, opts: DiffOptions = {}): Promise<void> {
  const d = await diffTrees(a, b, { mtime: true, ...opts });
  expect(formatDiff(d)).toBe('');
}

export function gnuTar(args: string[], opts: { cwd?: string; input?: Uint8Array } = {}): Buffer {
  return execFileSync('tar', args, {
    cwd: opts.cwd,
    input: opts.input,
    maxBuffer: 1 << 30,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** GNU tar's pax archive of everything under `dir` with xattrs, ACLs and sparse files: all it can keep. */
export function gnuPaxTar(dir: string): Buffer {
  return gnuTar(['--format=posix', '--xattrs', '--xattrs-include=*', '--acls', '--sparse', '-C', dir, '-cf', '-', '.']);
}

/** The whole archive our writer makes, in memory. */
export async function tarBytes(tree: FileTree, opts: Parameters<typeof tarChunks>[1] = {}): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  for await (const c of tarChunks(tree, opts)) parts.push(c);
  return new Uint8Array(Buffer.concat(parts));
}

export function mem(b: Uint8Array): MemoryDevice {
  return new MemoryDevice(b);
}

export async function fileText(tree: FileTree, path: string): Promise<string> {
  const n = tree.get(path);
  if (n?.type !== 'file') throw new Error(`${path} is not a file`);
  return new TextDecoder().decode(await readContent(n.content));
}
