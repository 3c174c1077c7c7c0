/** Shared helpers for the squashfs tests: write images, compare trees the way squashfs keeps them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import type { DiffOptions } from '../../src/core/diff/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import {
  MemoryOutput,
  writeSquashfs,
  type SquashfsOptions,
  type SquashfsSummary,
} from '../../src/core/fs/squashfs/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { Content, TreeNode } from '../../src/core/tree/types.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { run } from '../helpers/prereq.js';
import { expectNoDiff } from '../helpers/diff.js';
import { nodeGzipCompressor } from '../../src/node/squashfs/compress.js';

export function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-squashfs-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `tree` to memory (node:zlib unless `opts.compressor` says otherwise); returns the device and the summary. */
export async function memImage(
  tree: FileTree,
  opts: SquashfsOptions = {},
): Promise<{ dev: MemoryDevice; bytes: Uint8Array; summary: SquashfsSummary }> {
  const out = new MemoryOutput();
  const summary = await writeSquashfs(tree, out, { mkfsTime: 1700000000, compressor: nodeGzipCompressor(), ...opts });
  const bytes = out.bytes().slice();
  return { dev: new MemoryDevice(bytes), bytes, summary };
}

/** squashfs keeps modification times as unsigned 32-bit seconds. */
export function squashSeconds(sec: number): number {
  return Math.min(0xffffffff, Math.max(0, sec));
}

/**
 * Assert `back` (read from an image, or a mounted copy) holds `src`: every
 * path, type, mode, owner, size, content, link target, device, hard-link
 * group and (unless ignored) xattr, plus mtimes in whole seconds.
 */
export async function expectSameTree(
  src: FileTree,
  back: FileTree,
  opts: DiffOptions & { owners?: 'root' } = {},
): Promise<void> {
  await expectNoDiff(src, back, { ...opts, mtime: false });
  const times = new Map<string, number>();
  for (const e of back.walk()) times.set(e.path, e.node.mtime.sec);
  const wrong: string[] = [];
  for (const e of src.walk()) {
    const want = squashSeconds(e.node.mtime.sec);
    if (times.get(e.path) !== want) wrong.push(`${e.path}: ${times.get(e.path)} != ${want}`);
    if (opts.owners === 'root') {
      const b = back.get(e.path)!;
      if (b.uid !== 0 || b.gid !== 0) wrong.push(`${e.path}: owner ${b.uid}:${b.gid}, expected 0:0`);
    }
  }
  expect(wrong.slice(0, 20)).toEqual([]);
}

const PY_GET = `
import os, sys, json
root = sys.argv[1]
out = {}
for d, dirs, files in os.walk(root):
    for n in [''] + dirs + files:
        p = os.path.join(d, n) if n else d
        rel = '/' + os.path.relpath(p, root) if p != root else '/'
        if rel.startswith('/./'): rel = rel[2:]
        try: names = os.listxattr(p, follow_symlinks=False)
        except OSError: continue
        got = {}
        for k in names:
            try: got[k] = os.getxattr(p, k, follow_symlinks=False).hex()
            except OSError: pass  # e.g. user.* on a symlink or device: listed, but the VFS will not read it
        if got: out[rel] = got
print(json.dumps(out))
`;

const PY_SET = `
import os, sys, json
root = sys.argv[1]
for rel, attrs in json.load(sys.stdin).items():
    p = os.path.join(root, rel.lstrip('/'))
    for k, v in attrs.items(): os.setxattr(p, k, bytes.fromhex(v), follow_symlinks=False)
`;

/** Extended attributes of every path under `dir` (python3's os.listxattr: node:fs has none). */
export function hostXattrs(dir: string): Map<string, Map<string, Uint8Array>> {
  const r = run('python3', ['-c', PY_GET, dir]);
  if (r.code !== 0) throw new Error(`python3 listxattr failed: ${r.stderr}`);
  const m = new Map<string, Map<string, Uint8Array>>();
  for (const [p, attrs] of Object.entries(JSON.parse(r.stdout) as Record<string, Record<string, string>>)) {
    m.set(p, new Map(Object.entries(attrs).map(([k, v]) => [k, Uint8Array.from(Buffer.from(v, 'hex'))])));
  }
  return m;
}

/** Set the tree's xattrs on its extracted copy under `dir`. */
export function setHostXattrs(dir: string, tree: FileTree): void {
  const want: Record<string, Record<string, string>> = {};
  for (const e of tree.walk()) {
    if (e.node.xattrs.size === 0 || e.node.type === 'symlink') continue;
    want[e.path] = Object.fromEntries([...e.node.xattrs].map(([k, v]) => [k, Buffer.from(v).toString('hex')]));
  }
  const r = run('python3', ['-c', PY_SET, dir], { input: JSON.stringify(want) });
  if (r.code !== 0) throw new Error(`python3 setxattr failed: ${r.stderr}`);
}

/** A host directory read back as a tree, xattrs included. */
export function hostTree(dir: string): FileTree {
  const tree = treeFromHostDir(dir);
  const x = hostXattrs(dir);
  for (const e of tree.walk()) e.node.xattrs = x.get(e.path) ?? new Map();
  return tree;
}

/** mknod for extractTree: devices and FIFOs with mknod(1), sockets by binding one with python3. */
export function mknod(path: string, node: TreeNode): void {
  const r =
    node.type === 'socket'
      ? run('python3', ['-c', 'import socket,sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])', path])
      : node.type === 'fifo'
        ? run('mknod', [path, 'p'])
        : node.type === 'chardev' || node.type === 'blockdev'
          ? run('mknod', [path, node.type === 'chardev' ? 'c' : 'b', String(node.major), String(node.minor)])
          : { code: 1, stderr: `cannot mknod a ${node.type}`, stdout: '' };
  if (r.code !== 0) throw new Error(`mknod ${path}: ${r.stderr}`);
}

/** `size` bytes that compress somewhat, generated on demand (never held whole). */
export function generatedContent(size: number, seed = 1): Content {
  const mix = Math.imul(seed, 0x9e3779b1);
  const byte = (i: number) => (Math.imul(i ^ mix, 2654435761) >>> 24) & (i & 0x100000 ? 0xff : 0x0f);
  const readInto = (pos: number, target: Uint8Array): number => {
    const n = Math.max(0, Math.min(target.length, size - pos));
    for (let i = 0; i < n; i++) target[i] = byte(pos + i);
    return n;
  };
  const readAt = (pos: number, len: number) => {
    const b = new Uint8Array(Math.max(0, Math.min(len, size - pos)));
    readInto(pos, b);
    return b;
  };
  return {
    size,
    readInto,
    readAt,
    async *stream() {
      for (let p = 0; p < size; p += 1 << 20) yield readAt(p, 1 << 20);
    },
  };
}

/** Byte equality without vitest's element-by-element deep equality (slow on megabytes). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
