/** `tinyimage cpio`: exit codes, atomic output, compression by suffix, owner squash, SOURCE_DATE_EPOCH. */
import { describe, expect, test } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { listCpio, readCpioTree } from '../../src/core/archive/cpio/index.js';
import { missing, run } from '../helpers/prereq.js';

const cli = (args: string[], env: Record<string, string> = {}) => runCli(['cpio', ...args], env);

function workdir(): string {
  const d = mkdtempSync(join(tmpdir(), 'tinyimage-cpio-cli-'));
  mkdirSync(join(d, 'root/etc'), { recursive: true });
  writeFileSync(join(d, 'root/etc/motd'), 'hello\n');
  writeFileSync(join(d, 'init.sh'), '#!/bin/sh\necho hi\n');
  writeFileSync(
    join(d, 'list.txt'),
    [
      'dir /dev 0755 0 0',
      'nod /dev/console 0600 0 0 c 5 1',
      'file /init init.sh 0755 0 0',
      'slink /bin/sh busybox 0777 0 0',
    ].join('\n') + '\n',
  );
  return d;
}

describe('tinyimage cpio', () => {
  test('--help and usage errors exit 0 / 2', async () => {
    expect((await cli(['--help'])).code).toBe(0);
    expect((await cli([])).code).toBe(2);
    expect((await cli(['--root', '/x', '--list', '/y', '-o', '/tmp/z'])).code).toBe(2);
    expect((await cli(['--root', '/x'])).code).toBe(2);
    expect((await cli(['--root', '/x', '-o', '/tmp/z', '--compress', 'xz'])).code).toBe(2);
    expect((await cli(['--root', '/x', '-o', '/tmp/z', '--owner', 'root'])).code).toBe(2);
    expect((await cli(['--root', '/x', '-o', '/tmp/z', '--bogus'])).code).toBe(2);
  });

  test('--root DIR -o OUT.cpio.gz writes gzip (by suffix), --owner squashes, SOURCE_DATE_EPOCH clamps', async () => {
    const d = workdir();
    try {
      const out = join(d, 'out.cpio.gz');
      const r = await cli(['--root', join(d, 'root'), '-o', out, '--owner', '0:0', '--json', '-q'], {
        SOURCE_DATE_EPOCH: '1000',
      });
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ wrote: 'cpio.gz', output: out, details: { compress: 'gzip' } });
      const bytes = readFileSync(out);
      expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
      if (!missing({ tools: ['gzip'] })) expect(run('gzip', ['-t', out]).code).toBe(0);
      const entries = [];
      for await (const e of listCpio(bytes)) entries.push(e);
      expect(entries.map((e) => e.path)).toEqual(['/', '/etc', '/etc/motd']);
      for (const e of entries) {
        expect([e.uid, e.gid]).toEqual([0, 0]);
        expect(e.mtime).toBeLessThanOrEqual(1000);
      }
      // the name says what is written: --compress must agree with it, and nothing is written when it does not
      const plain = await cli(['--root', join(d, 'root'), '-o', join(d, 'plain.gz'), '--compress', 'none']);
      expect(plain.code).toBe(2);
      expect(plain.stderr).toMatch(/--compress none does not match the output name .*plain\.gz: name it .*plain,/);
      expect(existsSync(join(d, 'plain.gz'))).toBe(false);
      expect((await cli(['--root', join(d, 'root'), '-o', join(d, 'plain.cpio.gz'), '--compress', 'gzip'])).code).toBe(
        0,
      );
      expect((await cli(['--root', join(d, 'root'), '-o', join(d, 'plain.cpio'), '--compress', 'gzip'])).code).toBe(2);
      expect((await cli(['--root', join(d, 'root'), '-o', join(d, 'plain.img'), '--compress', 'none'])).code).toBe(0);
      expect(readFileSync(join(d, 'plain.img')).subarray(0, 6).toString()).toBe('070701');
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('--list FILE makes device nodes without root; GNU cpio lists them', async () => {
    const d = workdir();
    try {
      const out = join(d, 'list.cpio');
      expect((await cli(['--list', join(d, 'list.txt'), '-o', out])).code).toBe(0);
      const tree = await readCpioTree(readFileSync(out));
      expect(tree.get('/dev/console')).toMatchObject({ type: 'chardev', major: 5, minor: 1, mode: 0o600 });
      expect(tree.get('/init')).toMatchObject({ type: 'file', mode: 0o755 });
      if (!missing({ tools: ['cpio'] })) {
        const r = run('cpio', ['-itv', '--quiet', '-F', out]);
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/crw------- .* 5,\s+1 .*dev\/console/);
      }
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('a list referencing a missing file fails with exit 1 and leaves no output (not even a temp file)', async () => {
    const d = workdir();
    try {
      writeFileSync(join(d, 'bad.txt'), 'file /init does-not-exist 0755 0 0\n');
      const out = join(d, 'bad.cpio');
      const r = await cli(['--list', join(d, 'bad.txt'), '-o', out]);
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/does-not-exist/);
      expect(existsSync(out)).toBe(false);
      // a failure while streaming (file vanishes after the tree was read) leaves nothing either, and keeps an old output
      writeFileSync(out, 'previous');
      writeFileSync(join(d, 'root/etc/vanishing'), 'x'.repeat(100));
      const { treeFromHostDir } = await import('../../src/node/host/tree.js');
      const { cpioChunks } = await import('../../src/core/archive/cpio/index.js');
      const { writeChunksToFile } = await import('../../src/node/host/stream.js');
      const tree = treeFromHostDir(join(d, 'root'));
      rmSync(join(d, 'root/etc/vanishing'));
      await expect(writeChunksToFile(out, cpioChunks(tree))).rejects.toMatchObject({ code: 'E_IO_ENOENT' });
      expect(readFileSync(out, 'utf8')).toBe('previous');
      expect(readdirSync(d).filter((n) => n.includes('tmp'))).toEqual([]);
    } finally {
      rmSync(d, { recursive: true, force: true });
    }
  });

  test('a missing --root directory is exit 1 with the path in the message', async () => {
    const r = await cli(['--root', '/nonexistent/dir', '-o', join(tmpdir(), 'never.cpio')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('/nonexistent/dir');
    expect(existsSync(join(tmpdir(), 'never.cpio'))).toBe(false);
  });
});
