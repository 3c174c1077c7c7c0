/** Shared helpers for the ext4 reader tests: fixtures, host comparison. */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { expect } from 'vitest';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { Content, TreeNode } from '../../src/core/tree/types.js';
import { REPO } from '../helpers/prereq.js';

export const FIXTURES = join(REPO, 'fixtures/ext4');
export const FIXTURE_NAMES = [
  'ext4-1k',
  'ext4-4k',
  'ext4-inline',
  'ext4-128',
  'ext4-nocsum',
  'ext4-metabg',
  'ext4-bigalloc',
  'ext4-64k',
  'ext3-1k',
  'ext2-1k',
  'ext2-4k',
] as const;

export function fixtureBytes(name: string, dir = FIXTURES): Uint8Array {
  return gunzipSync(readFileSync(join(dir, `${name}.img.gz`)));
}

export function fixtureDevice(name: string, dir = FIXTURES): MemoryDevice {
  return new MemoryDevice(fixtureBytes(name, dir));
}

/** Hash of a content read through stream(), checking readAt agrees on a few windows. */
export async function contentDigest(c: Content): Promise<string> {
  const h = createHash('sha256');
  let n = 0;
  for await (const chunk of c.stream()) {
    h.update(chunk);
    n += chunk.length;
  }
  expect(n).toBe(c.size);
  return h.digest('hex');
}

function hostDigest(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/** Every xattr of every entry under dir, read by Python (Node has no xattr API). */
export function hostXattrs(dir: string): Map<string, Map<string, string>> {
  const script = `
import os, sys, json, base64
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in dirs + files + ([] if d != root else ['']):
        p = os.path.join(d, n) if n else d
        try:
            names = os.listxattr(p, follow_symlinks=False)
        except OSError:
            names = []
        rel = '/' + os.path.relpath(p, root) if p != root else '/'
        out[rel] = {k: base64.b64encode(os.getxattr(p, k, follow_symlinks=False)).decode() for k in names}
print(json.dumps(out))
`;
  const json = JSON.parse(
    execFileSync('python3', ['-c', script, dir], { encoding: 'utf8', maxBuffer: 1 << 26 }),
  ) as Record<string, Record<string, string>>;
  return new Map(Object.entries(json).map(([p, x]) => [p.replace(/\/\.$/, ''), new Map(Object.entries(x))]));
}

export interface CompareOptions {
  /** Compare mtimes only for these paths (all when undefined). */
  mtimePaths?: Set<string>;
  /**
   * 'exact': mtimes equal the host's. 'mke2fs': mke2fs -d stores 32-bit
   * seconds only (no nanoseconds, no epoch bits), except for the paths in
   * `exactPaths` (patched by make.sh with debugfs), compared exactly.
   */
  times?: 'exact' | 'mke2fs';
  exactPaths?: Set<string>;
  /** Paths whose size/content (or device numbers) the source tool got wrong (checked separately). */
  skipContent?: Set<string>;
  /** The source tool keeps 16-bit ids only (genext2fs). */
  ids16?: boolean;
  /** Compare xattrs (host listing by Python). */
  xattrs?: boolean;
}

/**
 * Compare an ext4 tree with the host directory it was made from, entry by
 * entry: type, mode, owner, size, content, link target, device numbers,
 * hard-link grouping, mtime, xattrs. /lost+found (made by mke2fs) is skipped.
 */
export async function compareWithHost(tree: FileTree, hostDir: string, opts: CompareOptions = {}): Promise<number> {
  const host = treeFromHostDir(hostDir);
  const hx = opts.xattrs ? hostXattrs(hostDir) : undefined;
  const hostPaths = new Map<string, TreeNode>();
  for (const e of host.walk()) hostPaths.set(e.path, e.node);
  const ours = new Map<string, TreeNode>();
  for (const e of tree.walk()) if (e.path !== '/lost+found') ours.set(e.path, e.node);
  expect([...ours.keys()].sort()).toEqual([...hostPaths.keys()].sort());
  const groupsOurs = new Map<TreeNode, string[]>();
  const groupsHost = new Map<TreeNode, string[]>();
  let checked = 0;
  for (const [path, h] of hostPaths) {
    const o = ours.get(path)!;
    if (o.type !== 'dir') {
      groupsOurs.set(o, [...(groupsOurs.get(o) ?? []), path]);
      groupsHost.set(h, [...(groupsHost.get(h) ?? []), path]);
    }
    const where = `${path}`;
    expect(o.type, where).toBe(h.type);
    if (path !== '/') {
      expect(o.mode.toString(8), where).toBe(h.mode.toString(8));
      const m = opts.ids16 ? 0xffff : 0xffffffff;
      expect([o.uid, o.gid], where).toEqual([(h.uid & m) >>> 0, (h.gid & m) >>> 0]);
    }
    if (path !== '/' && (!opts.mtimePaths || opts.mtimePaths.has(path))) {
      if (opts.times === 'mke2fs' && !opts.exactPaths?.has(path)) {
        const wrapped = ((((h.mtime.sec + 2 ** 31) % 2 ** 32) + 2 ** 32) % 2 ** 32) - 2 ** 31;
        expect(o.mtime, where).toEqual({ sec: wrapped, nsec: 0 });
      } else {
        expect(o.mtime, where).toEqual(h.mtime);
      }
    }
    if (o.type === 'file' && h.type === 'file' && !opts.skipContent?.has(path)) {
      expect(o.content.size, where).toBe(h.content.size);
      const d = await contentDigest(o.content);
      expect(d, where).toBe(hostDigest(join(hostDir, path)));
    }
    if (o.type === 'symlink' && h.type === 'symlink') expect(o.target, where).toBe(h.target);
    if (
      (o.type === 'chardev' || o.type === 'blockdev') &&
      (h.type === 'chardev' || h.type === 'blockdev') &&
      !opts.skipContent?.has(path)
    ) {
      expect([o.major, o.minor], where).toEqual([h.major, h.minor]);
    }
    if (hx && path !== '/') {
      const want = hx.get(path) ?? new Map<string, string>();
      const got = new Map([...o.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('base64')]));
      expect(Object.fromEntries(got), where).toEqual(Object.fromEntries(want));
    }
    checked++;
  }
  const norm = (g: Map<TreeNode, string[]>) => [...g.values()].map((p) => p.sort().join('|')).sort();
  expect(norm(groupsOurs)).toEqual(norm(groupsHost));
  return checked;
}

/**
 * Two trees are the same: paths, types, modes, owners, times (all three,
 * 32-bit seconds only when `secondsOnly`: wrapped like mke2fs or clamped like
 * the kernel and our writer), xattrs, contents, link targets, device
 * numbers and hard-link grouping. `skip` paths exist only in `got`.
 */
export async function expectSameTree(
  got: FileTree,
  want: FileTree,
  opts: { skip?: string[]; secondsOnly?: 'wrap' | 'clamp'; times?: boolean } = {},
): Promise<void> {
  const skip = new Set(opts.skip ?? ['/lost+found']);
  const g = new Map<string, TreeNode>();
  for (const e of got.walk()) if (!skip.has(e.path)) g.set(e.path, e.node);
  const w = new Map<string, TreeNode>();
  for (const e of want.walk()) w.set(e.path, e.node);
  expect([...g.keys()]).toEqual([...w.keys()]);
  const groups = (m: Map<string, TreeNode>) => {
    const by = new Map<TreeNode, string[]>();
    for (const [p, n] of m) if (n.type !== 'dir') by.set(n, [...(by.get(n) ?? []), p]);
    return [...by.values()].map((x) => x.join('|')).sort();
  };
  expect(groups(g)).toEqual(groups(w));
  const t = (x: { sec: number; nsec: number }) =>
    opts.secondsOnly === 'wrap'
      ? { sec: ((((x.sec + 2 ** 31) % 2 ** 32) + 2 ** 32) % 2 ** 32) - 2 ** 31, nsec: 0 }
      : opts.secondsOnly === 'clamp'
        ? { sec: Math.max(-(2 ** 31), Math.min(2 ** 31 - 1, x.sec)), nsec: 0 }
        : x;
  for (const [path, o] of g) {
    const h = w.get(path)!;
    expect(o.type, path).toBe(h.type);
    expect(o.mode.toString(8), path).toBe(h.mode.toString(8));
    expect([o.uid, o.gid], path).toEqual([h.uid, h.gid]);
    if (opts.times !== false) {
      expect(o.mtime, path).toEqual(t(h.mtime));
      expect(o.atime, path).toEqual(t(h.atime));
      expect(o.ctime, path).toEqual(t(h.ctime));
    }
    expect(Object.fromEntries([...o.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')])), path).toEqual(
      Object.fromEntries([...h.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')])),
    );
    if (o.type === 'file' && h.type === 'file') {
      expect(o.content.size, path).toBe(h.content.size);
      if (h.content.size <= 64 << 20) {
        const [a, b] = [await readAllBytes(o.content), await readAllBytes(h.content)];
        expect(Buffer.compare(Buffer.from(a), Buffer.from(b)), path).toBe(0);
      } else {
        // huge sparse sources: compare their data ranges and a window after each
        for (const [s, e] of h.content.dataRanges!()) {
          const len = Math.min(e - s + 4096, h.content.size - s);
          expect(
            Buffer.compare(Buffer.from(o.content.readAt!(s, len)), Buffer.from(h.content.readAt!(s, len))),
            `${path} @${s}`,
          ).toBe(0);
        }
      }
    }
    if (o.type === 'symlink' && h.type === 'symlink') expect(o.target, path).toBe(h.target);
    if ((o.type === 'chardev' || o.type === 'blockdev') && (h.type === 'chardev' || h.type === 'blockdev'))
      expect([o.major, o.minor], path).toEqual([h.major, h.minor]);
  }
}

async function readAllBytes(c: Content): Promise<Uint8Array> {
  const out = new Uint8Array(c.size);
  let n = 0;
  for await (const chunk of c.stream()) {
    out.set(chunk, n);
    n += chunk.length;
  }
  expect(n).toBe(c.size);
  return out;
}
