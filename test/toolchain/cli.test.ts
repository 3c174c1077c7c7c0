import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.js';
import { missing } from '../helpers/prereq.js';

async function cli(argv: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runCli(argv);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

describe('tinyimage kernel / busybox CLI', () => {
  it('prints usage and rejects bad usage with exit 2, no stack trace', async () => {
    const h = await cli(['kernel', 'build', '--help']);
    expect(h.code).toBe(0);
    expect(h.out).toMatch(/--preset tiny\|disk/);
    const g = await cli(['kernel', '--help']);
    expect(g.code).toBe(0);
    expect(g.out).toMatch(/^ {2}build +build a Linux kernel image from source/m);
    for (const argv of [
      ['kernel'],
      ['kernel', 'frobnicate'],
      ['kernel', 'build', '-o', 'x'],
      ['kernel', 'build', '--source', '/nonexistent-tinyimage-src.tar.xz', '-o', 'x'],
      ['kernel', 'build', '--source', '.', '--preset', 'huge', '-o', 'x'],
      ['kernel', 'build', '--source', '.', '--jobs', '0', '-o', 'x'],
      ['kernel', 'build', '--source', '.', '--enable', 'BAD NAME', '-o', 'x'],
      ['busybox', 'build', '--source', '.', '--libc', 'bionic', '-o', 'x'],
      ['busybox', 'build', '--source', '/nonexistent-bb.tar.bz2', '-o', 'x'],
      ['busybox', 'applets'],
    ]) {
      const r = await cli(argv);
      expect(r.code, argv.join(' ')).toBe(2);
      expect(r.err).not.toMatch(/\n\s+at /);
    }
  });

  it('names a source directory that is not a kernel tree and leaves no output', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'tinyimage-cli-'));
    writeFileSync(join(dir, 'Makefile'), 'all:\n');
    const out = join(dir, 'bzImage');
    const r = await cli(['kernel', 'build', '--source', dir, '--cache', join(dir, 'cache'), '-o', out]);
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/does not look like a kernel source tree/);
    expect(existsSync(out)).toBe(false);
  });

  it('lists the applets of a busybox binary', async () => {
    if (missing({ files: ['/bin/busybox'] })) return;
    const r = await cli(['busybox', 'applets', '/bin/busybox']);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split('\n');
    expect(lines).toContain('/bin/sh');
    expect(lines).toContain('/bin/ls');
    const j = await cli(['busybox', 'applets', '/bin/busybox', '--json']);
    const list = JSON.parse(j.out) as Array<{ name: string; dir: string }>;
    expect(list.find((a) => a.name === 'ls')?.dir).toBe('/bin');
    expect(list.length).toBe(lines.length);
  });
});
