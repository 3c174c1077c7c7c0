/** Shared helpers for the EROFS tests: write images, check them with fsck.erofs, compare trees. */
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { DiffOptions } from '../../src/core/diff/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { prepareErofs, type ErofsOptions, type ErofsSummary } from '../../src/core/fs/erofs/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';

export { hostTree, mknod, setHostXattrs, generatedContent, equalBytes } from '../squashfs/helpers.js';
import { tmpDir } from '../helpers/tmp.js';
import { expectNoDiff } from '../helpers/diff.js';

export const tmp = () => tmpDir('tinyimage-erofs-');

/** Write `tree` to memory; returns the device, its bytes and the summary. */
export async function memImage(
  tree: FileTree,
  opts: ErofsOptions = {},
): Promise<{ dev: MemoryDevice; bytes: Uint8Array; summary: ErofsSummary }> {
  const p = prepareErofs(tree, opts);
  const dev = new MemoryDevice(p.size);
  const summary = await p.write(dev);
  return { dev, bytes: dev.bytes, summary };
}

/**
 * `bytes` to `path`, then fsck.erofs on it: returns its exit code and output.
 * erofs-utils 1.5 exits 0 after some errors it prints (a bad superblock
 * checksum), so any "<E>" line counts as a failure too.
 */
export function fsck(path: string, bytes?: Uint8Array, args: string[] = []): { code: number; out: string } {
  if (bytes) writeFileSync(path, bytes);
  // stderr even on success (prereq's run() keeps it only on failure)
  const r = spawnSync('fsck.erofs', [...args, path], { encoding: 'utf8', maxBuffer: 1 << 26 });
  const out = r.stdout + r.stderr;
  const code = r.status ?? 1;
  return { code: code !== 0 || /<E>/.test(out) ? Math.max(1, code) : 0, out };
}

/**
 * Assert `back` holds `src`: every path, type, mode, owner, size, content,
 * link target, device, hard-link group, xattr and mtime (EROFS keeps
 * nanoseconds and 64-bit seconds).
 */
export async function expectSameTree(
  src: FileTree,
  back: FileTree,
  opts: DiffOptions & { owners?: 'root' } = {},
): Promise<void> {
  await expectNoDiff(src, back, { mtime: true, ...opts });
  if (opts.owners === 'root') {
    const wrong: string[] = [];
    for (const e of back.walk()) if (e.node.uid !== 0 || e.node.gid !== 0) wrong.push(e.path);
    expect(wrong.slice(0, 20)).toEqual([]);
  }
}
