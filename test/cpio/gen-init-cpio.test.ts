/**
 * gen_init_cpio compatibility: the kernel's own list tool (compiled from the
 * kernel source the project fetches) and `tinyimage cpio --list
 * --kernel-compat` write the same bytes; our reader reads its archives
 * (symlinks whose stored target ends in a NUL included), and list syntax
 * follows its parser: '#' only in the first column, ${VAR} in locations,
 * host mtimes kept.
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { CACHE, missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { treeFromCpioList } from '../../src/core/tree/cpiolist.js';
import { bytesContent } from '../../src/core/tree/content.js';
import { treeFromCpioListFile } from '../../src/node/host/tree.js';

const SOURCES = join(CACHE, 'sources/linux-source-6.1.tar.xz');
const skip = missing({ tools: ['gcc', 'tar', 'cpio'], files: [SOURCES, join(REPO, 'dist/node/cli/main.js')] });
const t = tmpDir('tinyimage-gic-');
afterAll(() => t.cleanup());
const EPOCH = 1_700_000_000;

/** gen_init_cpio built once per cache from the kernel tarball's usr/gen_init_cpio.c. */
function genInitCpio(): string {
  const dir = join(CACHE, 'gen_init_cpio');
  const bin = join(dir, 'gen_init_cpio');
  if (existsSync(bin)) return bin;
  mkdirSync(dir, { recursive: true });
  execFileSync('tar', ['-xJf', SOURCES, '-C', t.dir, '--wildcards', '*/usr/gen_init_cpio.c', '--strip-components=2']);
  execFileSync('gcc', ['-O2', '-o', bin + '.tmp', t.path('gen_init_cpio.c')]);
  execFileSync('mv', [bin + '.tmp', bin]);
  return bin;
}

describe.skipIf(skip)('gen_init_cpio compatibility', () => {
  let gic = '';
  let list = '';
  beforeAll(() => {
    gic = genInitCpio();
    const files = t.path('files');
    mkdirSync(files);
    writeFileSync(
      join(files, 'busybox'),
      new Uint8Array(5000).map((_, i) => (i * 13) % 256),
    );
    writeFileSync(join(files, 'init'), '#!/bin/sh\necho hi\n');
    writeFileSync(join(files, 'empty'), '');
    utimesSync(join(files, 'busybox'), EPOCH - 1000, EPOCH - 1000);
    utimesSync(join(files, 'init'), EPOCH - 2000, EPOCH - 2000);
    utimesSync(join(files, 'empty'), EPOCH - 3000, EPOCH - 3000);
    list = t.path('list');
    writeFileSync(
      list,
      [
        '# a comment',
        'dir /dev 0755 0 0',
        'nod /dev/console 0600 0 0 c 5 1',
        'nod /dev/sda 0660 0 6 b 8 0',
        'dir /bin 0755 0 0',
        `file /bin/busybox \${FILES}/busybox 0755 0 0 /bin/sh /sbin/init`,
        '',
        `file /init ${files}/init 0755 0 0`,
        `file /empty ${files}/empty 0644 1000 1000`,
        'slink /bin/ls busybox 0777 0 0',
        'slink /linuxrc /bin/busybox 0777 0 0',
        'pipe /run/fifo 0644 0 0',
        'sock /run/sock 0755 0 0',
        'dir /name#hash 0700 0 0',
      ].join('\n') + '\n',
    );
  });

  const env = () => ({ ...process.env, FILES: t.path('files'), SOURCE_DATE_EPOCH: String(EPOCH) });

  it('tinyimage cpio --list --kernel-compat is byte-identical to gen_init_cpio -t EPOCH', () => {
    const want = execFileSync(gic, ['-t', String(EPOCH), list], { env: env() });
    const out = t.path('ours.cpio');
    const r = run('node', [join(REPO, 'bin/tinyimage.js'), 'cpio', '--list', list, '--kernel-compat', '-o', out], {
      env: env(),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(out), want)).toBe(0);
  });

  it('our reader reads gen_init_cpio archives with every symlink (target stored with its NUL)', async () => {
    const archive = execFileSync(gic, ['-t', String(EPOCH), '-c', list], { env: env() });
    const tree = await readCpioTree(archive);
    const ls = tree.get('/bin/ls');
    expect(ls?.type === 'symlink' && ls.target).toBe('busybox');
    const linuxrc = tree.get('/linuxrc');
    expect(linuxrc?.type === 'symlink' && linuxrc.target).toBe('/bin/busybox');
    expect(tree.get('/bin/sh')).toBe(tree.get('/bin/busybox'));
    expect(tree.get('/name#hash')?.type).toBe('dir');
    const init = tree.get('/init');
    expect(init?.mtime.sec).toBe(EPOCH - 2000);
    // and GNU cpio agrees on what is there
    const listing = run('cpio', ['-it', '--quiet'], { input: archive }).stdout.split('\n');
    expect(listing).toEqual(expect.arrayContaining(['bin/ls', 'linuxrc', 'run/fifo', 'run/sock', 'name#hash']));
  });

  it('the list parser takes what gen_init_cpio takes: host mtimes, ${VAR}, "#" in names', () => {
    const tree = treeFromCpioListFile(list, { defaultTime: EPOCH, env: { FILES: t.path('files') } });
    expect(tree.get('/bin/busybox')?.mtime.sec).toBe(EPOCH - 1000);
    expect(tree.get('/dev')?.mtime.sec).toBe(EPOCH);
    expect(tree.get('/name#hash')?.type).toBe('dir');
    const parsed = treeFromCpioList('  # indented comment\nfile\n\t\ndir /a 755 0 0 extra fields\r\n', {
      resolve: () => bytesContent(''),
    });
    expect(parsed.get('/a')?.type).toBe('dir');
  });
});
