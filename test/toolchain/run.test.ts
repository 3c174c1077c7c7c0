import { describe, expect, it } from 'vitest';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run } from '../../src/toolchain/run.js';
import { ToolError } from '../../src/errors.js';

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
    const r = await run('printf', ['%s\\n', 'a b', '$(echo no)', "it's"], { onLine: (l) => lines.push(l), captureStdout: true });
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
    const r = await run('sh', ['-c', 'pwd; echo "$TI_X"; cat'], { cwd: dir, env: { PATH: process.env.PATH, TI_X: 'val' }, input: 'from-stdin', captureStdout: true });
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
    try { state = readFileSync(`/proc/${child}/stat`, 'utf8').split(') ')[1]!.charAt(0); } catch { /* gone */ }
    expect(['gone', 'Z']).toContain(state);
  });

  it('rejects at once when the signal is already aborted', async () => {
    const ac = new AbortController();
    ac.abort();
    const e = await rejection(run('true', [], { signal: ac.signal }));
    expect(e.code).toBe('E_TOOL_ABORTED');
  });
});
