/**
 * Output conventions shared by every writing command: `-o -` streams where
 * the format can, the name says what is written, a missing directory is an
 * error, nothing partial is ever left (failure or signal), and one summary
 * line (or one JSON object) says what was written.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { main } from '../../src/node/cli/main.js';
import { capture, cliBundle, runCli } from '../helpers/cli.js';
import { missing, run } from '../helpers/prereq.js';
import { tmpDir, type TmpDir } from '../helpers/tmp.js';

const SUMMARY =
  /^tinyimage: wrote (\S+) (.+): ([\d.]+ (?:bytes|KiB|MiB|GiB)), ([\d,]+) entries, (?:.+, )?\d+\.\d\d s\n$/;

let t: TmpDir;
let root: string;
beforeAll(() => {
  t = tmpDir('tinyimage-cli-output-');
  root = t.path('root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/motd'), 'hello\n');
  writeFileSync(join(root, 'init'), '#!/bin/sh\n', { mode: 0o755 });
});
afterAll(() => t.cleanup());

/** A fresh empty directory for one test's outputs. */
const outDir = (name: string) => {
  const d = t.path(name);
  mkdirSync(d);
  return d;
};

describe('-o - streams to standard output where the format can stream', () => {
  it('cpio --compress gzip -o -: the bytes on stdout are the archive a file would get', async () => {
    const d = outDir('stream');
    const r = await runCli(['cpio', '--root', root, '--compress', 'gzip', '-o', '-']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(SUMMARY);
    expect(r.stderr).toMatch(/^tinyimage: wrote cpio\.gz to standard output: /);
    const f = await runCli(['cpio', '--root', root, '-o', join(d, 'a.cpio.gz'), '-q']);
    expect(f.code).toBe(0);
    expect(Buffer.from(r.bytes).equals(readFileSync(join(d, 'a.cpio.gz')))).toBe(true);
    const tree = await readCpioTree(gunzipSync(r.bytes));
    expect(tree.get('/etc/motd')?.type).toBe('file');
    expect(existsSync('-')).toBe(false);
  });

  it.skipIf(missing({ tools: ['gzip', 'cpio', 'bash'] }))(
    'a real pipe: tinyimage cpio -o - | gzip -dc | cpio -it',
    async () => {
      const bin = await cliBundle(t.dir);
      const sh = `"${process.execPath}" "${bin}" cpio --root "${root}" --compress gzip -o - | gzip -dc | cpio -it --quiet`;
      const r = spawnSync('bash', ['-c', `set -o pipefail; ${sh}`], { encoding: 'utf8' });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.split('\n').filter(Boolean).sort()).toEqual(['.', 'etc', 'etc/motd', 'init']);
      expect(r.stderr).toMatch(/tinyimage: wrote cpio\.gz to standard output: [\d.]+ bytes, 4 entries/);
    },
  );

  it.each([
    [['mkfs', 'ext4'], 'ext4'],
    [['mkfs', 'fat32'], 'fat32'],
  ])('%j -o - is a usage error that says why, and writes nothing', async (cmd, what) => {
    const r = await runCli([...cmd, '--root', root, '-o', '-']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(
      new RegExp(`-o - \\(standard output\\) is not possible for ${what}: it is written with random access`),
    );
    expect(r.bytes.length).toBe(0);
    expect(existsSync('-')).toBe(false);
  });

  it('-o - refuses a terminal as standard output', async () => {
    const c = capture();
    Object.assign(c.stdout, { isTTY: true });
    expect(await main(['cpio', '--root', root, '-o', '-'], c)).toBe(2);
    expect(c.err()).toMatch(/-o - would write cpio to the terminal; redirect standard output/);
    expect(c.bytes().length).toBe(0);
  });

  it('build -o - is a usage error; --json with -o - too (stdout carries the data)', async () => {
    const b = await runCli(['build', '--preset', 'initramfs', '-o', '-']);
    expect(b.code).toBe(2);
    expect(b.stderr).toMatch(/not possible for a build: it writes a directory of files/);
    const j = await runCli(['cpio', '--root', root, '-o', '-', '--json']);
    expect(j.code).toBe(2);
    expect(j.stderr).toMatch(/--json prints on standard output, which -o - already uses/);
    expect(j.bytes.length).toBe(0);
  });
});

describe('the output name is what is written', () => {
  it('cpio: the suffix picks the compression; a --compress that contradicts it is refused', async () => {
    const d = outDir('names');
    expect((await runCli(['cpio', '--root', root, '-o', join(d, 'a.cpio.gz'), '-q'])).code).toBe(0);
    expect((await runCli(['cpio', '--root', root, '-o', join(d, 'a.cpio'), '-q'])).code).toBe(0);
    expect([...readFileSync(join(d, 'a.cpio.gz')).subarray(0, 2)]).toEqual([0x1f, 0x8b]);
    expect(readFileSync(join(d, 'a.cpio')).subarray(0, 6).toString()).toBe('070701');
    const bad = await runCli(['cpio', '--root', root, '-o', join(d, 'b.cpio.gz'), '--compress', 'none']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--compress none does not match the output name .*b\.cpio\.gz: name it .*b\.cpio,/);
    expect(readdirSync(d).sort()).toEqual(['a.cpio', 'a.cpio.gz']);
  });

  it.skipIf(missing({ files: ['/bin/busybox'] }))(
    'build: initramfs.compress none writes DIR/initramfs.cpio',
    async () => {
      const d = outDir('build-names');
      const spec = join(d, 'spec.yaml');
      writeFileSync(spec, 'preset: initramfs\ninitramfs:\n  compress: none\n');
      const r = await runCli(['build', spec, '--busybox', '/bin/busybox', '-o', join(d, 'out'), '-q']);
      expect(r.code, r.stderr).toBe(0);
      expect(readdirSync(join(d, 'out'))).toEqual(['initramfs.cpio']);
      expect(readFileSync(join(d, 'out/initramfs.cpio')).subarray(0, 6).toString()).toBe('070701');
      writeFileSync(spec, 'preset: initramfs\ninitramfs:\n  compress: none\n  output: rd.cpio.gz\n');
      const bad = await runCli(['build', spec, '--busybox', '/bin/busybox', '-o', join(d, 'out2')]);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toMatch(/initramfs\.compress none does not match the output name rd\.cpio\.gz/);
      expect(existsSync(join(d, 'out2'))).toBe(false);
    },
  );
});

describe('a missing output directory is an error naming it', () => {
  const cases: string[][] = [
    ['cpio', '--root', '%root', '-o', '%missing/x.cpio'],
    ['mkfs', 'ext4', '--root', '%root', '-o', '%missing/x.img'],
    ['mkfs', 'fat32', '--root', '%root', '-o', '%missing/x.img'],
    ['initramfs', '--busybox', '/bin/busybox', '-o', '%missing/x.cpio.gz'],
    ['build', '--preset', 'initramfs', '--busybox', '/bin/busybox', '-o', '%missing/out'],
  ];
  it.each(cases)('%s %s', async (...argv) => {
    const missingDir = t.path('no-such-dir');
    const r = await runCli(argv.map((a) => a.replace('%root', root).replace('%missing', missingDir)));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`directory ${missingDir} does not exist \\(create it first\\)\\n$`));
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(existsSync(missingDir)).toBe(false);
  });
});

describe('never a partial output', () => {
  it('a failing source leaves nothing, and an existing output stays as it was', async () => {
    const d = outDir('failing');
    const list = join(d, 'list.txt');
    writeFileSync(
      list,
      `file /ok ${join(root, 'etc/motd')} 0644 0 0\nfile /gone ${join(d, 'no-such-file')} 0644 0 0\n`,
    );
    const r = await runCli(['cpio', '--list', list, '-o', join(d, 'x.cpio')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no-such-file/);
    writeFileSync(join(d, 'y.img'), 'previous');
    const s = await runCli(['mkfs', 'ext4', '--root', root, '-o', join(d, 'y.img'), '--size', '64K']);
    expect(s.code).toBe(1);
    expect(readdirSync(d).sort()).toEqual(['list.txt', 'y.img']);
    expect(readFileSync(join(d, 'y.img'), 'utf8')).toBe('previous');
  });

  /** Start a long gzip of a big sparse file, wait until its temporary file exists, then send `signal`. */
  async function interrupted(signal: NodeJS.Signals) {
    const d = outDir(`signal-${signal}`);
    const src = join(d, 'src');
    mkdirSync(src);
    writeFileSync(join(src, 'big'), '');
    truncateSync(join(src, 'big'), 3 * 2 ** 30); // 3 GiB of holes: seconds of gzip, no disk space
    const out = join(d, 'out');
    mkdirSync(out);
    writeFileSync(join(out, 'x.cpio.gz'), 'previous');
    const bin = await cliBundle(t.dir);
    const child = spawn(process.execPath, [bin, 'cpio', '--root', src, '-o', join(out, 'x.cpio.gz')], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c) => (stderr += c));
    const exited = new Promise<[number | null, NodeJS.Signals | null]>((r) => child.on('exit', (c, s) => r([c, s])));
    const deadline = Date.now() + 20_000;
    while (!readdirSync(out).some((n) => n.endsWith('.tmp')) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 20));
    const sawTmp = readdirSync(out).some((n) => n.endsWith('.tmp'));
    child.kill(signal);
    const [code, sig] = await exited;
    return {
      sawTmp,
      code,
      sig,
      left: readdirSync(out),
      previous: readFileSync(join(out, 'x.cpio.gz'), 'utf8'),
      stderr,
    };
  }

  it.each(['SIGINT', 'SIGTERM'] as const)(
    '%s while writing removes the temporary file and the process dies by the signal',
    async (signal) => {
      const r = await interrupted(signal);
      expect(r.sawTmp, r.stderr).toBe(true);
      expect([r.code, r.sig]).toEqual([null, signal]);
      expect(r.left).toEqual(['x.cpio.gz']);
      expect(r.previous).toBe('previous');
    },
    60_000,
  );
});

describe('one summary line on stderr, the same as JSON with --json; -q and -v', () => {
  it('mkfs ext4: the line names format, path, size, entries and time; --json has the same facts', async () => {
    const d = outDir('summary');
    const img = join(d, 'root.img');
    const r = await runCli(['mkfs', 'ext4', '--root', root, '-o', img]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const m = SUMMARY.exec(r.stderr)!;
    expect(m, r.stderr).not.toBeNull();
    expect([m[1], m[2], m[3], m[4]]).toEqual(['ext4', img, `${statSync(img).size / 2 ** 20}.0 MiB`, '4']);
    const j = await runCli(['mkfs', 'ext4', '--root', root, '-o', img, '--json']);
    expect(j.stderr).toMatch(SUMMARY);
    expect(j.stdout.trim().split('\n')).toHaveLength(1);
    const o = JSON.parse(j.stdout);
    expect(o).toMatchObject({ wrote: 'ext4', output: img, bytes: statSync(img).size, entries: 4 });
    expect(o.seconds).toBeGreaterThanOrEqual(0);
    expect(o.details).toMatchObject({ type: 'ext4', size: statSync(img).size });
  });

  it('every writer prints exactly one line: cpio, mkfs fat, mkfs ext2, initramfs', async () => {
    const d = outDir('one-line');
    const runs = [
      ['cpio', '--root', root, '-o', join(d, 'a.cpio')],
      ['mkfs', 'fat', '--root', root, '-o', join(d, 'a.fat')],
      ['mkfs', 'ext2', '--list', writeList(d), '-o', join(d, 'a.ext2')],
      ...(existsSync('/bin/busybox') ? [['initramfs', '--busybox', '/bin/busybox', '-o', join(d, 'i.cpio.gz')]] : []),
    ];
    for (const argv of runs) {
      const r = await runCli(argv);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stderr, argv.join(' ')).toMatch(SUMMARY);
      expect(r.stdout).toBe('');
    }
  });

  it('-q prints nothing on success; -v adds the phases', async () => {
    const d = outDir('quiet');
    const q = await runCli(['mkfs', 'ext4', '--root', root, '-o', join(d, 'q.img'), '-q']);
    expect([q.code, q.stdout, q.stderr]).toEqual([0, '', '']);
    const v = await runCli(['mkfs', 'ext4', '--root', root, '-o', join(d, 'v.img'), '-v']);
    expect(v.code).toBe(0);
    const lines = v.stderr.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    expect(lines[0]).toBe(`tinyimage: reading ${root}`);
    expect(lines.at(-1)).toMatch(/^tinyimage: wrote ext4 /);
  });
});

function writeList(d: string): string {
  const list = join(d, 'list.txt');
  writeFileSync(list, 'dir /dev 0755 0 0\nnod /dev/console 0600 0 0 c 5 1\n');
  return list;
}

describe('tools agree with what the summary says', () => {
  it.skipIf(missing({ tools: ['e2fsck'] }))('the ext4 named in the summary passes e2fsck -fn', async () => {
    const d = outDir('fsck');
    const r = await runCli(['mkfs', 'ext4', '--root', root, '-o', join(d, 'x.img'), '--json', '-q']);
    expect(run('e2fsck', ['-fn', JSON.parse(r.stdout).output]).code).toBe(0);
  });
});
