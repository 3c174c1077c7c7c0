/**
 * Independent checks of our newc writer and reader against GNU cpio (as
 * root, so owners, devices and setuid bits are really restored), the
 * cpio-stream npm package and pako.
 */
import { describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { ungzip } from 'pako';
import { cpioChunks, listCpio, readCpioTree } from '../../src/core/archive/cpio/index.js';
import { concatChunks, gzipBytes } from '../../src/core/compress/gzip.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { missing, run } from '../helpers/prereq.js';
import { describeTree, everythingTree } from './helpers.js';

const skip = missing({ tools: ['cpio', 'find'] });
const isRoot = process.getuid?.() === 0;

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'tinyimage-cpio-'));
}

describe.skipIf(skip)('GNU cpio', () => {
  test.skipIf(!isRoot)('extracts our archive of every entry type into the same tree (cpio -idm as root)', async () => {
    const tree = everythingTree();
    const archive = await concatChunks(cpioChunks(tree));
    const dir = tmp();
    try {
      const out = join(dir, 'x');
      execFileSync('mkdir', [out]);
      const r = run('cpio', ['-idm', '--no-absolute-filenames', '--quiet'], { cwd: out, input: archive });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const back = treeFromHostDir(out);
      // GNU cpio sets a directory's mtime before extracting its children, so only file times survive
      expect(await describeTree(back, { times: 'files' })).toEqual(await describeTree(tree, { times: 'files' }));
      // hard links share an inode on disk
      expect(statSync(join(out, 'bin/ls')).ino).toBe(statSync(join(out, 'bin/dir')).ino);
      expect(statSync(join(out, 'bin/ls')).ino).toBe(statSync(join(out, 'etc/ls-too')).ino);
      expect(statSync(join(out, 'bin/ls')).nlink).toBe(3);
      expect(statSync(join(out, 'etc/zero-a')).ino).toBe(statSync(join(out, 'etc/zero-b')).ino);
      expect(statSync(join(out, 'bin/su')).mode & 0o7777).toBe(0o4755);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('lists our archive with the same names, sizes and modes (cpio -tv)', async () => {
    const tree = everythingTree();
    const archive = await concatChunks(cpioChunks(tree));
    const r = run('cpio', ['-it', '--quiet'], { input: archive });
    expect(r.code).toBe(0);
    const expected = [...tree.walk()].map((e) => (e.path === '/' ? '.' : e.path.slice(1)));
    expect(r.stdout.trimEnd().split('\n')).toEqual(expected);
  });

  test('archives made by `find . | cpio -o -H newc` read back as the host tree', async () => {
    const tree = everythingTree();
    const archive = await concatChunks(cpioChunks(tree));
    const dir = tmp();
    try {
      const src = join(dir, 'src');
      execFileSync('mkdir', [src]);
      // materialize the tree on disk (GNU cpio as the extractor), then let GNU cpio archive it
      expect(run('cpio', ['-idm', '--no-absolute-filenames', '--quiet'], { cwd: src, input: archive }).code).toBe(0);
      execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet > ../gnu.cpio'], { cwd: src });
      const gnu = readFileSync(join(dir, 'gnu.cpio'));
      const ours = await readCpioTree(gnu);
      const host = treeFromHostDir(src);
      expect(await describeTree(ours, { times: 'all' })).toEqual(await describeTree(host, { times: 'all' }));
      // the gzip'd GNU archive (gzip -6) reads the same
      execFileSync('sh', ['-c', 'gzip -6 -c gnu.cpio > gnu.cpio.gz'], { cwd: dir });
      const viaGz = await readCpioTree(readFileSync(join(dir, 'gnu.cpio.gz')));
      expect(await describeTree(viaGz, { times: 'all' })).toEqual(await describeTree(host, { times: 'all' }));
      if (isRoot) expect(await describeTree(ours)).toEqual(await describeTree(tree));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('GNU cpio -t accepts our gzip output after gunzip, and the content matches byte for byte', async () => {
    const tree = everythingTree();
    const archive = await concatChunks(cpioChunks(tree));
    const gz = await gzipBytes(archive);
    const dir = tmp();
    try {
      writeFileSync(join(dir, 'a.cpio.gz'), gz);
      expect(run('gzip', ['-t', join(dir, 'a.cpio.gz')]).code).toBe(0);
      const r = run('sh', ['-c', 'gzip -dc a.cpio.gz | cpio -it --quiet | wc -l'], { cwd: dir });
      expect(Number(r.stdout.trim())).toBe([...tree.walk()].length);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('other independent readers', () => {
  test('cpio-stream (npm) extracts the same entries, sizes, modes and data', async () => {
    const tree = everythingTree({ ascii: true });
    const archive = await concatChunks(cpioChunks(tree));
    // @ts-expect-error no types for cpio-stream
    const cpio = (await import('cpio-stream')).default as { extract(): NodeJS.ReadWriteStream };
    const extract = cpio.extract();
    const seen: Record<
      string,
      { mode: number; uid: number; gid: number; size: number; data: Buffer; linkname?: string; rdev?: string }
    > = {};
    const done = new Promise<void>((resolve, reject) => {
      extract.on(
        'entry',
        (
          h: {
            name: string;
            mode: number;
            uid: number;
            gid: number;
            size: number;
            linkname?: string;
            rdevmajor: number;
            rdevminor: number;
          },
          stream: NodeJS.ReadableStream,
          cb: () => void,
        ) => {
          const parts: Buffer[] = [];
          stream.on('data', (c: Buffer) => parts.push(c));
          stream.on('end', () => {
            seen[h.name] = {
              mode: h.mode,
              uid: h.uid,
              gid: h.gid,
              size: h.size,
              data: Buffer.concat(parts),
              ...(h.linkname !== undefined ? { linkname: h.linkname } : {}),
              rdev: `${h.rdevmajor}:${h.rdevminor}`,
            };
            cb();
          });
          stream.resume();
        },
      );
      extract.on('finish', resolve);
      extract.on('error', reject);
    });
    Readable.from([Buffer.from(archive)]).pipe(extract as unknown as NodeJS.WritableStream);
    await done;
    const counts = tree.linkCounts();
    const seenNodes = new Map<unknown, number>();
    for (const e of tree.walk()) {
      const name = e.path === '/' ? '.' : e.path.slice(1);
      const s = seen[name];
      expect(s, name).toBeDefined();
      const n = e.node;
      expect(s!.mode & 0o7777, name).toBe(n.mode);
      expect(s!.uid, name).toBe(n.uid);
      expect(s!.gid, name).toBe(n.gid);
      if (n.type === 'file') {
        const k = (seenNodes.get(n) ?? 0) + 1;
        seenNodes.set(n, k);
        // data rides with the last name of a hard-link group
        const last = k === (counts.get(n) ?? 1);
        expect(s!.size, name).toBe(last ? n.content.size : 0);
        if (last) expect(Buffer.compare(s!.data, Buffer.from(await concatChunks(n.content.stream()))), name).toBe(0);
      }
      if (n.type === 'symlink') expect(s!.linkname, name).toBe(n.target);
      if (n.type === 'chardev' || n.type === 'blockdev') expect(s!.rdev, name).toBe(`${n.major}:${n.minor}`);
    }
    expect(Object.keys(seen).length).toBe([...tree.walk()].length);
  });

  test('pako inflates our gzip of the archive to the exact archive bytes', async () => {
    const archive = await concatChunks(cpioChunks(everythingTree()));
    const gz = await gzipBytes(archive, { blockSize: 64 * 1024 });
    const back = ungzip(gz);
    expect(Buffer.compare(Buffer.from(back), Buffer.from(archive))).toBe(0);
    const tree = await readCpioTree(back);
    expect(await describeTree(tree)).toEqual(await describeTree(everythingTree()));
  });

  test('listCpio reports headers as stored', async () => {
    const tree = everythingTree();
    const archive = await concatChunks(cpioChunks(tree));
    const list = [];
    for await (const e of listCpio(archive)) list.push(e);
    expect(list.map((e) => e.path)).toEqual([...tree.walk()].map((e) => e.path));
    const ls = list.filter((e) => ['/bin/ls', '/bin/dir', '/etc/ls-too'].includes(e.path));
    expect(new Set(ls.map((e) => e.ino)).size).toBe(1);
    expect(ls.map((e) => e.nlink)).toEqual([3, 3, 3]);
    expect(ls.map((e) => e.size)).toEqual([0, 0, 1400]); // walk order: /bin/dir, /bin/ls, /etc/ls-too
    const dev = list.find((e) => e.path === '/dev/big')!;
    expect([dev.rdevmajor, dev.rdevminor]).toEqual([259, 1_000_000]);
    const inos = list
      .filter(
        (e) =>
          e.type === 'dir' || !['/bin/ls', '/bin/dir', '/etc/ls-too', '/etc/zero-a', '/etc/zero-b'].includes(e.path),
      )
      .map((e) => e.ino);
    expect(new Set(inos).size).toBe(inos.length);
  });
});
