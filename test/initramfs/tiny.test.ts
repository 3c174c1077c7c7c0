import { execFileSync } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { initramfsChunks, tinyInitramfsTree, WELCOME, DEFAULT_INIT } from '../../src/core/initramfs/tiny.js';
import { runCli } from '../helpers/cli.js';
import { readContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { missing, run } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const skip = missing({ tools: ['cpio', 'gzip', 'busybox'], files: [BUSYBOX] });
const work = mkdtempSync(join(tmpdir(), 'tinyimage-initramfs-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe.skipIf(skip)('tiny initramfs', () => {
  const busybox = new Uint8Array(readFileSync(BUSYBOX));
  const applets = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' })
    .split('\n')
    .filter((l) => l && l !== 'bin/busybox');

  it('GNU cpio lists the skeleton, device nodes, /init and one symlink per applet', async () => {
    const gz = await concatChunks(initramfsChunks(tinyInitramfsTree({ busybox, epoch: 1_700_000_000 })));
    const file = join(work, 'a.cpio.gz');
    writeFileSync(file, gz);
    expect(run('gzip', ['-t', file]).code).toBe(0);
    const raw = execFileSync('gzip', ['-dc', file], { maxBuffer: 1 << 26 });
    const listing = execFileSync('cpio', ['-itv', '--quiet'], { input: raw, encoding: 'utf8' });
    const lines = listing.split('\n').filter(Boolean);
    const byName = new Map(
      lines.map((l) => {
        const name = l.replace(/^.*? \d{4} /, '').replace(/^.*?\d\d:\d\d /, '');
        return [name.split(' -> ')[0]!, l] as const;
      }),
    );
    const expectLine = (name: string, re: RegExp) => {
      expect(byName.get(name), name).toMatch(re);
    };
    expectLine('init', /^-rwxr-xr-x\s+1 root\s+root\s+\d+/);
    expectLine('dev/console', /^crw-------\s+1 root\s+root\s+5,\s+1 /);
    expectLine('dev/null', /^crw-rw-rw-\s+1 root\s+root\s+1,\s+3 /);
    expectLine('tmp', /^drwxrwxrwt /);
    expectLine('root', /^drwx------ /);
    expectLine('bin/busybox', new RegExp(`^-rwxr-xr-x\\s+1 root\\s+root\\s+${busybox.length} `));
    for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'run', 'var', 'usr/bin', 'usr/sbin'])
      expectLine(d, /^d/);
    for (const a of applets) expectLine(a, /^lrwxrwxrwx\s+1 root\s+root\s+12 .* -> \/bin\/busybox$/);
    // Nothing else besides the skeleton, nodes, /init, busybox and the links.
    expect(lines.length).toBe(1 /* . */ + 13 /* dirs */ + 2 + 1 + 1 + applets.length);
  });

  it('GNU cpio -idm extracts what we put in; our reader gives the same tree back', async () => {
    const tree = tinyInitramfsTree({ busybox, epoch: 1_700_000_000 });
    const raw = await concatChunks(initramfsChunks(tree, { compress: 'none' }));
    const dir = join(work, 'x');
    mkdirSync(dir);
    execFileSync('cpio', ['-idm', '--quiet', '--no-absolute-filenames'], { input: raw, cwd: dir });
    expect(readFileSync(join(dir, 'init'), 'utf8')).toBe(DEFAULT_INIT);
    expect(statSync(join(dir, 'init')).mode & 0o7777).toBe(0o755);
    expect(Buffer.compare(readFileSync(join(dir, 'bin/busybox')), Buffer.from(busybox))).toBe(0);
    expect(readlinkSync(join(dir, 'sbin/init'))).toBe('/bin/busybox');
    expect(statSync(join(dir, 'init')).mtimeMs).toBe(1_700_000_000_000);
    if (process.getuid?.() === 0) {
      const c = statSync(join(dir, 'dev/console'));
      expect(c.isCharacterDevice()).toBe(true);
      expect(c.rdev).toBe((5 << 8) | 1);
    }
    const back = await readCpioTree(raw);
    const kinds = (t: FileTree) =>
      [...t.walk()].map(
        (e) =>
          `${e.path} ${e.node.type} ${e.node.mode.toString(8)} ${e.node.uid}:${e.node.gid} ${e.node.mtime.sec}` +
          (e.node.type === 'symlink' ? ` ${e.node.target}` : '') +
          (e.node.type === 'chardev' ? ` ${e.node.major},${e.node.minor}` : ''),
      );
    expect(kinds(back)).toEqual(kinds(tree));
    const init = back.get('/init');
    expect(init?.type === 'file' && new TextDecoder().decode(await readContent(init.content))).toBe(DEFAULT_INIT);
  });

  it('the default /init mounts proc, sysfs, devtmpfs, greets and starts a shell on the console', () => {
    expect(DEFAULT_INIT.startsWith('#!/bin/sh\n')).toBe(true);
    for (const fs of ['proc', 'sysfs', 'devtmpfs']) expect(DEFAULT_INIT).toMatch(new RegExp(`mount -t ${fs} `));
    expect(DEFAULT_INIT).toContain(`echo "${WELCOME}"`);
    expect(DEFAULT_INIT).toMatch(/command -v setsid .*command -v cttyhack[^\n]*\n\s*exec setsid cttyhack \/bin\/sh\n/);
    expect(DEFAULT_INIT).toMatch(/\nexec \/bin\/sh\n$/);
    // The script is valid sh.
    expect(run('sh', ['-n'], { input: DEFAULT_INIT }).code).toBe(0);
  });

  it('is deterministic, honours init/add, and add wins over generated files', async () => {
    const a = await concatChunks(initramfsChunks(tinyInitramfsTree({ busybox, epoch: 42 })));
    const b = await concatChunks(initramfsChunks(tinyInitramfsTree({ busybox, epoch: 42 })));
    expect(Buffer.compare(Buffer.from(a), Buffer.from(b))).toBe(0);
    const add = new FileTree();
    add.addFile('/etc/motd', 'hello\n');
    add.addFile('/bin/ls', 'not busybox', { mode: 0o700 });
    add.addHardLink('/etc/motd2', '/etc/motd');
    add.mkdir('/tmp', { mode: 0o700 }); // existing directories keep their metadata
    const t = tinyInitramfsTree({ busybox, init: '#!/bin/sh\necho custom\n', add, epoch: 42 });
    const init = t.get('/init');
    expect(init?.type === 'file' && new TextDecoder().decode(await readContent(init.content))).toBe(
      '#!/bin/sh\necho custom\n',
    );
    expect(t.get('/bin/ls')?.type).toBe('file');
    expect(t.get('/tmp')?.mode).toBe(0o1777);
    expect(t.get('/etc/motd')).toBe(t.get('/etc/motd2'));
  });

  it('CLI: tinyimage initramfs writes a gzip archive atomically; bad usage exits 2', async () => {
    mkdirSync(join(work, 'cli'));
    const out = join(work, 'cli', 'initrd.img');
    const addDir = join(work, 'adddir');
    mkdirSync(join(addDir, 'etc'), { recursive: true });
    writeFileSync(join(addDir, 'etc/hostname'), 'tiny\n');
    const r = await runCli(['initramfs', '--busybox', BUSYBOX, '--add', addDir, '-o', out, '--json', '-q']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.bytes).toBe(statSync(out).size);
    expect(summary.details.applets).toBe(applets.length + 1);
    const listing = execFileSync('sh', ['-c', 'gzip -dc "$0" | cpio -it --quiet', out], { encoding: 'utf8' });
    expect(listing.split('\n')).toContain('etc/hostname');
    expect(readdirSync(join(work, 'cli'))).toEqual(['initrd.img']);
    const u = await runCli(['initramfs', '-o', out]);
    expect(u.code).toBe(2);
    expect(u.stderr).toMatch(/--busybox/);
    expect((await runCli(['initramfs', '--busybox', BUSYBOX, '-o', out, '--compress', 'xz'])).code).toBe(2);
    // A "busybox" without readable tables: the CLI falls back to running it with --list-full, and says so.
    const fake = join(work, 'fakebox');
    writeFileSync(fake, '#!/bin/sh\n[ "$1" = --list-full ] && printf "bin/sh\\nsbin/init\\nusr/bin/env\\n"\n', {
      mode: 0o755,
    });
    // the name says uncompressed: no --compress needed
    const out3 = join(work, 'cli', 'fallback.cpio');
    const r3 = await runCli(['initramfs', '--busybox', fake, '-o', out3]);
    expect(r3.code).toBe(0);
    expect(r3.stderr).toMatch(/warning: no busybox applet name table found.*running '.*fakebox --list-full' instead/);
    expect(r3.stderr).toMatch(
      /^tinyimage: wrote initramfs \(cpio\) .*fallback\.cpio: [\d.]+ KiB, \d+ entries, 3 busybox/m,
    );
    const l3 = execFileSync('cpio', ['-itv', '--quiet', '-F', out3], { encoding: 'utf8' });
    expect(l3).toMatch(/bin\/sh -> \/bin\/busybox/);
    expect(l3).toMatch(/sbin\/init -> \/bin\/busybox/);
    expect(l3).toMatch(/usr\/bin\/env -> \/bin\/busybox/);
    // A failing run leaves no partial output behind.
    const bad = join(work, 'cli', 'x.img');
    expect((await runCli(['initramfs', '--busybox', '/etc/hostname', '-o', bad])).code).toBe(1);
    expect(readdirSync(join(work, 'cli')).sort()).toEqual(['fallback.cpio', 'initrd.img']);
  });
});
