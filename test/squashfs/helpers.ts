/** Shared helpers for the squashfs tests: write images, compare trees the way squashfs keeps them. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/diff/index.js';
import { MemoryDevice } from '../../src/io/device.js';
import { MemoryOutput, writeSquashfs, type SquashfsOptions, type SquashfsSummary } from '../../src/fs/squashfs/index.js';
import type { FileTree } from '../../src/tree/tree.js';

export function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-squashfs-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Write `tree` to memory; returns the device and the summary. */
export async function memImage(tree: FileTree, opts: SquashfsOptions = {}): Promise<{ dev: MemoryDevice; bytes: Uint8Array; summary: SquashfsSummary }> {
  const out = new MemoryOutput();
  const summary = await writeSquashfs(tree, out, { mkfsTime: 1700000000, ...opts });
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
export async function expectSameTree(src: FileTree, back: FileTree, opts: DiffOptions & { owners?: 'root' } = {}): Promise<void> {
  const ignore = [...(opts.ignore ?? []), ...(opts.owners === 'root' ? (['uid', 'gid'] as const) : [])];
  const d = await diffTrees(src, back, { ...opts, ignore, mtime: false });
  if (d.length) console.log(formatDiff(d).slice(0, 3000));
  expect(d).toEqual([]);
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
