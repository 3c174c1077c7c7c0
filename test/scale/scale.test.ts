/**
 * Scale (issue 16): a tree of 200,000 files through `mkfs ext4` and `cpio`,
 * checked by the real tools: e2fsck -fn finds nothing and counts every inode,
 * file, directory and special file; cpio -t lists every entry.
 *
 * The tree is a gen_init_cpio list whose 200,000 files name a few host files:
 * the list is written in well under a second, where 200,000 host files take
 * 40 s and more on a loaded machine. The writers, not the host filesystem,
 * are what this measures. The shape is that of bench/mksmalltree (files of
 * 0-2 KiB over N/40 nested directories, every tenth file in one flat
 * directory, an htree of N/10 names), plus symlinks (fast and slow), device
 * nodes, fifos and sockets.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const FILES = 200_000;
const DIRS = FILES / 40;
const FLAT = '/flat';
const SPECIAL = 20; // of each: fast symlinks, slow symlinks, char devices, block devices, fifos, sockets
const SIZES = [0, 1, 59, 60, 150, 700, 1024, 2047, 2048];
const ENV = { SOURCE_DATE_EPOCH: '1700000000' };

/** Counts the list makes (the root included). */
const DIR_ENTRIES = 1 + DIRS + 1;
const ENTRIES = DIR_ENTRIES + FILES + 6 * SPECIAL;

const skip = missing({ tools: ['e2fsck', 'cpio'] });

describe.skipIf(skip)(`a ${FILES.toLocaleString('en')}-file tree`, () => {
  const tmp = tmpDir('tinyimage-scale-');
  const list = tmp.path('tree.list');

  beforeAll(() => {
    const blob = new Uint8Array(2048).map((_, i) => (i * 131 + 7) & 0xff);
    const srcs = SIZES.map((n, i) => {
      const p = tmp.path(`src${i}`);
      writeFileSync(p, blob.subarray(0, n));
      return p;
    });
    let seed = 7;
    const rnd = (n: number) => {
      seed ^= seed << 13;
      seed >>>= 0;
      seed ^= seed >>> 17;
      seed ^= seed << 5;
      seed >>>= 0;
      return Math.floor((seed / 2 ** 32) * n);
    };
    const lines: string[] = [`dir ${FLAT} 755 0 0`];
    const dirs = [''];
    for (let i = 0; i < DIRS; i++) {
      const p = `${dirs[rnd(dirs.length)]}/d${i}`;
      lines.push(`dir ${p} 755 0 0`);
      dirs.push(p);
    }
    for (let i = 0; i < FILES; i++) {
      const d = i % 10 === 0 ? FLAT : dirs[rnd(dirs.length)];
      lines.push(`file ${d}/file-${String(i).padStart(7, '0')}.txt ${srcs[rnd(srcs.length)]} 644 0 0`);
    }
    for (let i = 0; i < SPECIAL; i++) {
      const d = dirs[rnd(dirs.length)];
      lines.push(`slink ${d}/fast${i} ../file 777 0 0`);
      lines.push(`slink ${d}/slow${i} ${'t'.repeat(80)}/${i} 777 0 0`);
      lines.push(`nod ${d}/char${i} 600 0 0 c 1 ${i}`);
      lines.push(`nod ${d}/block${i} 600 0 0 b 8 ${i}`);
      lines.push(`pipe ${d}/fifo${i} 644 0 0`);
      lines.push(`sock ${d}/sock${i} 644 0 0`);
    }
    writeFileSync(list, lines.join('\n') + '\n');
  });
  afterAll(() => tmp.cleanup());

  it('mkfs ext4: e2fsck -fn is clean and counts every inode, file, directory and special file', async () => {
    const img = tmp.path('tree.img');
    const r = await runCli(['mkfs', 'ext4', '--list', list, '-o', img, '--json'], ENV);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout) as { entries: number; details: { inodesCount: number; freeInodes: number } };
    expect(out.entries).toBe(ENTRIES);
    // entries, lost+found (11) and the reserved inodes 1 and 3..10
    expect(out.details.inodesCount - out.details.freeInodes).toBe(ENTRIES + 10);
    let report: string;
    try {
      report = execFileSync('e2fsck', ['-fnv', img], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (e) {
      const x = e as { status: number; stdout: string; stderr: string };
      throw new Error(`e2fsck -fn exit ${x.status}:\n${x.stdout}\n${x.stderr}`, { cause: e });
    }
    const count = (what: string) => Number(new RegExp(`^\\s*(\\d+) ${what}\\b`, 'm').exec(report)?.[1]);
    expect(count('inodes used')).toBe(ENTRIES + 10);
    expect(count('regular files')).toBe(FILES);
    expect(count('directories')).toBe(DIR_ENTRIES + 1); // and lost+found
    expect(count('symbolic links')).toBe(2 * SPECIAL);
    expect(Number(/\((\d+) fast symbolic links\)/.exec(report)?.[1])).toBe(SPECIAL);
    expect(count('character device files')).toBe(SPECIAL);
    expect(count('block device files')).toBe(SPECIAL);
    expect(count('fifos')).toBe(SPECIAL);
    expect(count('sockets')).toBe(SPECIAL);
    expect(count('files')).toBe(ENTRIES + 1);
  });

  it('cpio: cpio -t lists every entry', async () => {
    const archive = tmp.path('tree.cpio');
    const r = await runCli(['cpio', '--list', list, '-o', archive, '--json'], ENV);
    expect(r.code, r.stderr).toBe(0);
    expect((JSON.parse(r.stdout) as { entries: number }).entries).toBe(ENTRIES);
    const fd = openSync(archive, 'r');
    let names: string;
    try {
      names = execFileSync('cpio', ['-it', '--quiet'], { stdio: [fd, 'pipe', 'pipe'], maxBuffer: 64 << 20 }).toString();
    } finally {
      closeSync(fd);
    }
    const lines = names.split('\n').filter((l) => l !== '');
    expect(lines.length).toBe(ENTRIES);
    expect(lines[0]).toBe('.');
    expect(new Set(lines).size).toBe(ENTRIES);
    // a directory's entry comes before what it holds
    const flat = lines.indexOf('flat');
    expect(flat).toBeGreaterThan(0);
    expect(lines.indexOf('flat/file-0000000.txt')).toBeGreaterThan(flat);
  });
});
