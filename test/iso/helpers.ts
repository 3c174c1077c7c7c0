/** What the ISO 9660 tests share: writing an image file, the tree ISO 9660 can keep, extraction with xorriso. */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { expect } from 'vitest';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { TreeNode } from '../../src/core/tree/types.js';
import { clampRecordSeconds } from '../../src/core/fs/iso9660/dates.js';
import { iso9660Size, writeIso9660, type IsoOptions, type IsoSummary } from '../../src/core/fs/iso9660/index.js';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { run } from '../helpers/prereq.js';

/** Write `tree` as an ISO image file at `path`. */
export async function writeIsoFile(tree: FileTree, path: string, opts: IsoOptions = {}): Promise<IsoSummary> {
  const dev = FileDevice.create(path, iso9660Size(tree, opts));
  try {
    return await writeIso9660(tree, dev, opts);
  } finally {
    dev.close();
  }
}

/**
 * What ISO 9660 with Rock Ridge keeps of a tree: times in whole seconds
 * between 1900 and 2155, no extended attributes. Changes the tree in place.
 */
export function isoKeeps(tree: FileTree): FileTree {
  const seen = new Set<TreeNode>();
  for (const e of tree.walk()) {
    if (seen.has(e.node)) continue;
    seen.add(e.node);
    // times are immutable values (and may be shared): replace them
    const keep = (t: { sec: number }) => ({ sec: clampRecordSeconds(t.sec), nsec: 0 });
    e.node.mtime = keep(e.node.mtime);
    e.node.atime = keep(e.node.atime);
    e.node.ctime = keep(e.node.ctime);
    e.node.xattrs = new Map();
  }
  return tree;
}

/** Assert two trees hold the same paths, types, modes, owners, sizes, contents, targets, devices and mtimes. */
export async function expectSameTree(a: FileTree, b: FileTree, opts: DiffOptions = {}): Promise<void> {
  const d = await diffTrees(a, b, { mtime: true, ...opts });
  expect(formatDiff(d)).toBe('');
}

/** Extract an image with xorriso as root (device files too) into `dir`, hard links restored; the tree it gives. */
export function xorrisoExtract(image: string, dir: string): FileTree {
  // xorriso makes `dir` itself, so it gets the root's attributes
  mkdirSync(dirname(dir), { recursive: true });
  const r = run('xorriso', ['-osirrox', 'on:device_files', '-hardlinks', 'on', '-indev', image, '-extract', '/', dir]);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  return treeFromHostDir(dir);
}

/** `xorriso -as mkisofs -R -J` of a host directory. */
export function xorrisoMkisofs(dir: string, image: string, extra: string[] = []): void {
  const r = run('xorriso', ['-as', 'mkisofs', '-R', '-J', ...extra, '-o', image, dir]);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
}

/** `ls -l` permission letters of a mode, as xorriso lists them. */
function permString(mode: number): string {
  const r = (b: number, c: string) => (mode & b ? c : '-');
  const x = (exec: number, special: number, set: string) =>
    mode & special ? (mode & exec ? set : set.toUpperCase()) : r(exec, 'x');
  return (
    r(0o400, 'r') +
    r(0o200, 'w') +
    x(0o100, 0o4000, 's') +
    r(0o40, 'r') +
    r(0o20, 'w') +
    x(0o10, 0o2000, 's') +
    r(0o4, 'r') +
    r(0o2, 'w') +
    x(0o1, 0o1000, 't')
  );
}

/**
 * Compare a tree with what `xorrisoExtract` gave. What a Linux host cannot
 * hold or xorriso does not restore is checked in xorriso's own listing of
 * the image instead: sockets (it makes none), and the mode and owner of
 * symbolic links (Linux links are always 0777; xorriso neither chowns links
 * nor sets their times, whose day the listing shows).
 */
export async function expectExtractedTree(image: string, source: FileTree, extracted: FileTree): Promise<void> {
  const special = new Map<string, TreeNode>();
  for (const e of source.walk()) if (e.node.type === 'socket' || e.node.type === 'symlink') special.set(e.path, e.node);
  const sockets = [...special].filter(([, n]) => n.type === 'socket').map(([p]) => p);
  const d = await diffTrees(source, extracted, { mtime: true, ignore: sockets });
  const linkFields = new Set(['mtime', 'mode', 'uid', 'gid']);
  const rest = d.filter(
    (x) => !(special.has(x.path) && x.change === 'changed' && x.fields?.every((f) => linkFields.has(f.field))),
  );
  expect(formatDiff(rest)).toBe('');
  if (special.size === 0) return;
  const listing = run('xorriso', ['-indev', image, '-find', '/', '-exec', 'lsdl']).stdout;
  const listed = new Map<string, string>();
  for (const m of listing.matchAll(
    /^([lsp-])([rwxsStT-]{9})\s+\d+\s+(\d+)\s+(\d+)\s+\d+\s+.*? '(.*?)'(?: -> '.*')?$/gm,
  ))
    listed.set(m[5]!, `${m[1]}${m[2]} ${m[3]} ${m[4]}`);
  for (const [path, n] of special) {
    const type = n.type === 'symlink' ? 'l' : 's';
    expect(listed.get(path), path).toBe(`${type}${permString(n.mode)} ${n.uid} ${n.gid}`);
  }
}
