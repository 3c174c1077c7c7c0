// squashfs-tools as the independent checker: `unsquashfs -s` and `-stat`
// accept our images and report our counts, and `unsquashfs -lln` lists every
// path with the type, permissions, owner, size (or device numbers), mtime
// (to the minute, as it prints) and symlink target of the source tree.
// Random trees (fast-check, every node type, xattrs, hard links, holes) and
// the edge tree, with several block sizes and options.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import type { FileTree } from '../../src/core/tree/tree.js';
import { encodeDev, type TreeNode } from '../../src/core/tree/types.js';
import type { SquashfsOptions } from '../../src/core/fs/squashfs/index.js';
import { treeArb } from '../helpers/arbitrary.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { memImage, squashSeconds, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());

const TYPE_CHAR: Record<TreeNode['type'], string> = {
  file: '-',
  dir: 'd',
  symlink: 'l',
  chardev: 'c',
  blockdev: 'b',
  fifo: 'p',
  socket: 's',
};

function perms(n: TreeNode): string {
  const m = n.mode;
  const r = (bit: number, c: string) => (m & bit ? c : '-');
  const x = (bit: number, special: number, on: string, off: string) =>
    m & special ? (m & bit ? on : off) : m & bit ? 'x' : '-';
  return (
    TYPE_CHAR[n.type] +
    r(0o400, 'r') +
    r(0o200, 'w') +
    x(0o100, 0o4000, 's', 'S') +
    r(0o40, 'r') +
    r(0o20, 'w') +
    x(0o10, 0o2000, 's', 'S') +
    r(0o4, 'r') +
    r(0o2, 'w') +
    x(0o1, 0o1000, 't', 'T')
  );
}

function minute(sec: number): string {
  return new Date(squashSeconds(sec) * 1000).toISOString().slice(0, 16).replace('T', ' ');
}

/** What `unsquashfs -lln -UTC` should print for each path of `tree`. */
function expectedListing(tree: FileTree, allRoot = false): Map<string, string> {
  const m = new Map<string, string>();
  for (const e of tree.walk()) {
    const n = e.node;
    let size = '';
    if (n.type === 'file') size = String(n.content.size);
    else if (n.type === 'symlink') size = String(new TextEncoder().encode(n.target).length);
    else if (n.type === 'chardev' || n.type === 'blockdev') {
      const rdev = encodeDev(n.major, n.minor) | 0;
      size = `${rdev >> 8},${rdev & 0xff}`;
    } // unsquashfs prints rdev >> 8 (signed) and rdev & 0xff
    else if (n.type === 'fifo' || n.type === 'socket') size = '0';
    const owner = allRoot ? '0/0' : `${n.uid}/${n.gid}`;
    const link = n.type === 'symlink' ? ` -> ${n.target}` : '';
    m.set(e.path, `${perms(n)} ${owner} ${n.type === 'dir' ? '*' : size} ${minute(n.mtime.sec)}${link}`);
  }
  return m;
}

function actualListing(out: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of out.split('\n')) {
    const x = /^(\S{10}) (\d+\/\d+) +(\d+|-?\d+, *\d+) (\d{4}-\d\d-\d\d \d\d:\d\d) squashfs-root(.*)$/.exec(line);
    if (!x) continue;
    const [, p, owner, , time, rest] = x;
    let size = x[3];
    let path = rest!,
      link = '';
    if (p!.startsWith('l')) {
      const i = rest!.indexOf(' -> ');
      path = rest!.slice(0, i);
      link = rest!.slice(i);
    }
    if (p!.startsWith('d')) size = '*';
    m.set(path === '' ? '/' : path, `${p} ${owner} ${size!.replace(/, +/, ',')} ${time}${link}`);
  }
  return m;
}

async function check(tree: FileTree, opts: SquashfsOptions, name: string): Promise<void> {
  const { bytes, summary } = await memImage(tree, opts);
  const img = join(t.dir, `${name}.sqfs`);
  writeFileSync(img, bytes);
  const s = run('unsquashfs', ['-s', img]);
  expect(s.code, s.stderr).toBe(0);
  expect(s.stdout).toContain(`Number of inodes ${summary.inodes}`);
  expect(s.stdout).toContain(`Block size ${summary.blockSize}`);
  expect(s.stdout).toContain(`Number of fragments ${summary.fragments}`);
  const st = run('unsquashfs', ['-stat', img]);
  expect(st.code).toBe(0);
  expect(st.stdout).toContain(`Compression ${opts.compression ?? 'gzip'}`);
  const l = run('unsquashfs', ['-lln', '-UTC', img]);
  expect(l.code, l.stderr).toBe(0);
  const want = expectedListing(tree, opts.allRoot === true);
  const got = actualListing(l.stdout);
  const diffs: string[] = [];
  for (const [p, v] of want) if (got.get(p) !== v) diffs.push(`${p}: want ${v}, got ${got.get(p)}`);
  for (const p of got.keys()) if (!want.has(p)) diffs.push(`${p}: unexpected`);
  expect(diffs.slice(0, 10)).toEqual([]);
}

describe.skipIf(missing({ tools: ['unsquashfs'] }))('unsquashfs accepts our images', () => {
  it('random trees (fast-check)', async () => {
    let i = 0;
    await fc.assert(
      fc.asyncProperty(
        treeArb({ maxEntries: 30 }),
        fc.constantFrom(4096, 131072),
        fc.boolean(),
        async (tree, blockSize, tailPacking) => {
          await check(tree, { blockSize, tailPacking }, `random-${i++}`);
        },
      ),
      { numRuns: 40 },
    );
  }, 120000);

  it('the edge tree, default options and the unusual ones', async () => {
    const tree = edgeTree({ bigDir: 3000, sparseHuge: true });
    await check(tree, {}, 'edge');
    await check(tree, { blockSize: 1 << 20, tailPacking: true, allRoot: true }, 'edge-1m');
    // zstd from the WebAssembly encoder, through the core's default compressor for it
    await check(tree, { compression: 'zstd', compressor: undefined, level: 3 }, 'edge-zstd');
    // without hole detection the 5 GiB sparse file would be 5 GiB of zeros to compress
    await check(
      edgeTree({ bigDir: 3000, sparseHuge: false }),
      { fragments: false, exportTable: false, xattrs: false, dedupe: false, sparse: false, blockSize: 65536 },
      'edge-plain',
    );
  }, 120000);
});
