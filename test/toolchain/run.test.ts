import { describe, expect, it } from 'vitest';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools, run, tarTools } from '../../src/node/toolchain/run.js';
import { buildBusybox } from '../../src/node/toolchain/busybox.js';
import { buildKernel } from '../../src/node/toolchain/kernel.js';
import { ToolError } from '../../src/core/errors.js';

const tmp = () => mkdtempSync(join(tmpdir(), 'tinyimage-run-'));

async function rejection(p: Promise<unknown>): Promise<ToolError> {
  try {
    await p;
  } catch (e) {
    expect(e).toBeInstanceOf(ToolError);
    return e as ToolError;
  }
  throw new Error('expected a rejection');
}

describe('run()', () => {
  it('passes arguments without a shell and returns output lines', async () => {
    const lines: string[] = [];
    const r = await run('printf', ['%s\\n', 'a b', '$(echo no)', "it's"], {
      onLine: (l) => lines.push(l),
      captureStdout: true,
    });
    expect(lines).toEqual(['a b', '$(echo no)', "it's"]);
    expect(r.stdout).toBe("a b\n$(echo no)\nit's\n");
  });

  it('raises E_TOOL_FAILED with command, exit code and the last 30 lines of output', async () => {
    const e = await rejection(run('sh', ['-c', 'for i in $(seq 1 100); do echo line$i; done; echo oops >&2; exit 3']));
    expect(e.code).toBe('E_TOOL_FAILED');
    expect(e.data.exitCode).toBe(3);
    expect(e.data.command).toContain('sh -c');
    const tail = e.data.tail as string[];
    expect(tail).toHaveLength(30);
    expect(tail[tail.length - 1]).toBe('oops');
    expect(tail[0]).toBe('line72');
    expect(e.message).toContain('exit code 3');
    expect(e.message).toContain('line100');
    expect(e.message).not.toContain('line71\n');
  });

  it('raises E_TOOL_MISSING for a command that does not exist', async () => {
    const e = await rejection(run('tinyimage-no-such-tool-xyz', ['--version']));
    expect(e.code).toBe('E_TOOL_MISSING');
    expect(e.message).toContain('tinyimage-no-such-tool-xyz');
  });

  it('writes the full output to the log file', async () => {
    const log = join(tmp(), 'sub', 'build.log');
    await run('sh', ['-c', 'echo out; echo err >&2'], { logFile: log });
    const text = readFileSync(log, 'utf8');
    expect(text).toContain('$ sh -c');
    expect(text).toContain('out\n');
    expect(text).toContain('err\n');
  });

  it('honours cwd, env and input', async () => {
    const dir = tmp();
    const r = await run('sh', ['-c', 'pwd; echo "$TI_X"; cat'], {
      cwd: dir,
      env: { PATH: process.env.PATH, TI_X: 'val' },
      input: 'from-stdin',
      captureStdout: true,
    });
    expect(r.stdout).toBe(`${dir}\nval\nfrom-stdin`);
  });

  it('kills the child (and its children) on abort', async () => {
    const ac = new AbortController();
    const t0 = Date.now();
    const dir = tmp();
    const p = run('sh', ['-c', `sleep 30 & echo $! > ${dir}/child; wait`], { signal: ac.signal });
    setTimeout(() => ac.abort(), 300);
    const e = await rejection(p);
    expect(e.code).toBe('E_TOOL_ABORTED');
    expect(Date.now() - t0).toBeLessThan(5000);
    const child = Number(readFileSync(join(dir, 'child'), 'utf8'));
    await new Promise((r) => setTimeout(r, 200));
    // Gone, or a zombie waiting for a reaper (some containers' PID 1 never reaps).
    let state = 'gone';
    try {
      state = readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.charAt(0);
    } catch {
      /* gone */
    }
    expect(['gone', 'Z']).toContain(state);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(run('true', [], { signal: ac.signal }));
    expect(e.code).toBe('E_TOOL_ABORTED');
  });
});

describe('requireTools(): every missing build tool named at once, before any work', () => {
  const bin = (names: string[]) => {
    const dir = tmp();
    for (const n of names) {
      writeFileSync(join(dir, n), '#!/bin/sh\n');
      chmodSync(join(dir, n), 0o755);
    }
    return dir;
  };

  it('passes when all are on PATH, and names all missing ones with their Debian packages', () => {
    const tools = [
      { command: 'make', debian: 'make' },
      { command: 'rsync', debian: 'rsync' },
      { command: 'xz', debian: 'xz-utils' },
      { command: 'unxz', debian: 'xz-utils' },
    ];
    expect(() => requireTools('x', tools, { PATH: bin(['make', 'rsync', 'xz', 'unxz']) })).not.toThrow();
    let e: unknown;
    try {
      requireTools('building it', tools, { PATH: bin(['make']) });
    } catch (err) {
      e = err;
    }
    expect(e).toBeInstanceOf(ToolError);
    const t = e as ToolError;
    expect(t.code).toBe('E_TOOL_MISSING');
    expect(t.message).toBe(
      'building it needs rsync, xz, unxz, not found on PATH. On Debian/Ubuntu: apt-get install rsync xz-utils',
    );
    expect(t.data).toMatchObject({ missing: ['rsync', 'xz', 'unxz'], packages: ['rsync', 'xz-utils'] });
  });

  it('takes a command given as a path', () => {
    const dir = bin(['mygcc']);
    expect(() => requireTools('x', [{ command: join(dir, 'mygcc'), debian: 'gcc' }], { PATH: '' })).not.toThrow();
    expect(() => requireTools('x', [{ command: join(dir, 'nogcc'), debian: 'gcc' }], { PATH: dir })).toThrow(/nogcc/);
  });

  it('asks for the decompressor a tarball needs, nothing for a source directory', () => {
    expect(tarTools('linux-source-6.1.tar.xz').map((t) => t.command)).toEqual(['tar', 'xz']);
    expect(tarTools('busybox_1.35.0.orig.tar.bz2').map((t) => t.command)).toEqual(['tar', 'bzip2']);
    const dir = tmp();
    mkdirSync(join(dir, 'src.tar.xz'));
    expect(tarTools(join(dir, 'src.tar.xz'))).toEqual([]);
  });

  it('buildKernel and buildBusybox fail at once when make and the compiler are missing', async () => {
    const env = { PATH: bin(['tar']) };
    const cacheDir = tmp();
    const k = await rejection(buildKernel({ source: 'linux-source-6.1.tar.xz', cacheDir, env, epoch: 0 }));
    expect(k.code).toBe('E_TOOL_MISSING');
    expect(k.message).toMatch(
      /^building the kernel needs make, gcc, flex, bison, bc, perl, xz, not found on PATH\. On Debian\/Ubuntu: apt-get install make gcc flex bison bc perl xz-utils$/,
    );
    const b = await rejection(
      buildBusybox({ source: 'busybox.tar.bz2', cacheDir, env, epoch: 0, libc: 'musl', kernelSource: 'linux.tar.xz' }),
    );
    expect(b.code).toBe('E_TOOL_MISSING');
    expect(b.message).toContain('apt-get install make musl-tools bzip2 rsync xz-utils');
  });
});
