/**
 * A running QEMU with its serial console on a pipe: wait for text, type
 * text, read everything so far, stop. Kernel panics are detected and fail
 * pending waits at once. The QEMU process never outlives the session's
 * owner: every path kills it, the Node process's 'exit' (and SIGINT/SIGTERM/
 * SIGHUP) kills any still running, and where util-linux `setpriv` exists
 * QEMU also gets SIGKILL from the kernel when Node dies (PR_SET_PDEATHSIG).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, openSync, type WriteStream } from 'node:fs';
import { hostError } from '../io/file.js';
import { ToolError } from '../../core/errors.js';
import {
  effectiveFirmware,
  qemuArgs,
  QEMU_BINARIES,
  type Accel,
  type QemuOptions,
  type ResolvedFirmware,
} from './args.js';
import { chooseAccel, requireQemu, resolveOvmf, which } from './host.js';

/** The kernel's panic banner. */
export const PANIC_RE = /Kernel panic - not syncing/;
/** Printed after the panic message and stack; waiting for it gives a complete message. */
const PANIC_END_RE = /---\[ end Kernel panic[^\n]*/;
const PANIC_GRACE_MS = 2000;

export interface SessionOptions extends QemuOptions {
  /** Also copy the console to this stream or file path (the file is replaced). */
  console?: NodeJS.WritableStream | string;
  /** Called with each piece of console text as it arrives. */
  onOutput?: (text: string) => void;
  /** What counts as a kernel panic (default PANIC_RE); false: no panic detection. */
  panic?: RegExp | false;
  /** Console characters kept in memory (default 16 Mi); older text is dropped. */
  keep?: number;
}

export interface QemuExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface QemuSession {
  /** The QEMU command line (binary first). */
  readonly command: readonly string[];
  readonly accel: Accel;
  readonly pid: number | undefined;
  /** Resolves when QEMU has exited (never rejects). */
  readonly exited: Promise<QemuExit>;
  running(): boolean;
  /**
   * Wait until `re` matches console text after the previous match (expect
   * style), then resolve with the match. Rejects with ToolError
   * E_TOOL_QEMU_TIMEOUT, E_TOOL_QEMU_PANIC or E_TOOL_QEMU_EXIT (data.tail
   * holds the end of the console).
   */
  waitFor(re: RegExp, timeoutMs?: number): Promise<RegExpExecArray>;
  /** Wait for QEMU to exit by itself (guest power-off); same rejections as waitFor. */
  waitExit(timeoutMs?: number): Promise<QemuExit>;
  /** Type text on the serial console. */
  send(text: string | Uint8Array): void;
  /** All console text so far (up to `keep` characters). */
  output(): string;
  /** The last `lines` lines of the console. */
  tail(lines?: number): string;
  /** Stop QEMU (SIGTERM, SIGKILL after 2 s) and release temporary files. Idempotent. */
  stop(): Promise<QemuExit>;
}

// ---- process-wide cleanup -------------------------------------------------

/** Running QEMUs and the cleanup of their temporary files (OVMF vars copy). */
const live = new Map<ChildProcess, () => void>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
let hooksInstalled = false;

function killAll(): void {
  for (const [c, cleanup] of live) {
    try {
      c.kill('SIGKILL');
    } catch {
      /* already gone */
    }
    try {
      cleanup();
    } catch {
      /* best effort */
    }
  }
  live.clear();
}

function onSignal(sig: NodeJS.Signals): void {
  killAll();
  removeHooks();
  // Nobody else handles this signal: behave as if we had not been here (die by it).
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}
const signalHandlers = new Map<NodeJS.Signals, () => void>(SIGNALS.map((s) => [s, () => onSignal(s)]));

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAll);
  for (const [s, h] of signalHandlers) process.on(s, h);
}
function removeHooks(): void {
  if (!hooksInstalled) return;
  hooksInstalled = false;
  process.removeListener('exit', killAll);
  for (const [s, h] of signalHandlers) process.removeListener(s, h);
}

/** Number of QEMU processes started by this process that are still running (for tests). */
export function liveQemuCount(): number {
  return live.size;
}

// ---- the session ---------------------------------------------------------

function tailOf(text: string, lines: number): string {
  const parts = text.replace(/\r/g, '').split('\n');
  while (parts.length && parts[parts.length - 1] === '') parts.pop();
  return parts.slice(-lines).join('\n');
}

function plain(re: RegExp): RegExp {
  return new RegExp(re.source, re.flags.replace(/[gy]/g, ''));
}

interface Waiter {
  re?: RegExp;
  resolve(v: unknown): void;
  reject(e: Error): void;
  timer: NodeJS.Timeout;
}

/** Start QEMU; the console is live at once. Throws ToolError when QEMU or OVMF is missing. */
export function startQemu(opts: SessionOptions): QemuSession {
  const qemu = opts.qemu ?? QEMU_BINARIES[opts.arch ?? 'x86_64'];
  requireQemu(qemu);
  const accel = chooseAccel(opts.accel, qemu, opts);
  let fw: ResolvedFirmware & { cleanup(): void } = { cleanup() {} };
  if (effectiveFirmware(opts) === 'uefi') fw = resolveOvmf(opts);
  let args: string[];
  try {
    args = qemuArgs(opts, accel, fw);
  } catch (e) {
    fw.cleanup();
    throw e;
  }

  let sink: NodeJS.WritableStream | undefined;
  let ownSink: WriteStream | undefined;
  if (typeof opts.console === 'string') {
    let fd: number;
    try {
      fd = openSync(opts.console, 'w');
    } catch (e) {
      fw.cleanup();
      throw hostError(e, opts.console, 'write');
    }
    sink = ownSink = createWriteStream('', { fd });
    ownSink.on('error', () => {
      /* reported by nothing better: the console copy is best effort */
    });
  } else if (opts.console) sink = opts.console;

  const setpriv = which('setpriv');
  const [bin, argv] = setpriv ? [setpriv, ['--pdeathsig', 'SIGKILL', '--', qemu, ...args]] : [qemu, args];
  const child = spawn(bin, argv, { stdio: ['pipe', 'pipe', 'pipe'], detached: false });
  installHooks();
  live.set(child, () => fw.cleanup());
  const started = Date.now();

  const keep = opts.keep ?? 16 * 1024 * 1024;
  const panicRe = opts.panic === false ? undefined : plain(opts.panic ?? PANIC_RE);
  let out = '';
  let dropped = 0; // characters dropped from the front of `out`
  let cursor = 0; // absolute position after the last waitFor match
  let stderr = '';
  let panicAt: number | undefined; // absolute position of the panic banner
  let panicDone = false;
  let panicTimer: NodeJS.Timeout | undefined;
  let exit: QemuExit | undefined;
  let spawnError: Error | undefined;
  const waiters = new Set<Waiter>();

  const command = [qemu, ...args];
  const cmdline = command.map((s) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`)).join(' ');
  const fail = (code: string, why: string, extra: Record<string, unknown> = {}) => {
    const tail = tailOf(out, 40);
    const err = stderr.trim();
    return new ToolError(
      code,
      `${why}\n--- console (last lines) ---\n${tail || '(no console output)'}${err ? `\n--- qemu stderr ---\n${tailOf(err, 10)}` : ''}`,
      {
        command: cmdline,
        tail,
        stderr: err,
        elapsedMs: Date.now() - started,
        ...extra,
      },
    );
  };
  const settle = (w: Waiter, e?: Error, v?: unknown) => {
    clearTimeout(w.timer);
    waiters.delete(w);
    if (e) w.reject(e);
    else w.resolve(v);
  };
  const panicError = () => {
    const from = Math.max(0, (panicAt ?? 0) - dropped);
    const line = out.slice(from).split(/\r?\n/)[0] ?? 'Kernel panic';
    return fail(
      'E_TOOL_QEMU_PANIC',
      `kernel panic after ${((Date.now() - started) / 1000).toFixed(1)} s: ${line.trim()}`,
      { panic: line.trim() },
    );
  };
  const check = () => {
    for (const w of [...waiters]) {
      if (!w.re) continue;
      const from = Math.max(0, cursor - dropped);
      const m = w.re.exec(out.slice(from));
      if (m && (panicAt === undefined || from + m.index < panicAt - dropped)) {
        cursor = dropped + from + m.index + m[0].length;
        settle(w, undefined, m);
      }
    }
    if (panicAt !== undefined && panicDone) for (const w of [...waiters]) settle(w, panicError());
  };

  const decoder = new TextDecoder();
  child.stdout!.on('data', (chunk: Buffer) => {
    const text = decoder.decode(chunk, { stream: true });
    if (!text) return;
    sink?.write(text);
    opts.onOutput?.(text);
    const prevLen = out.length;
    out += text;
    if (panicRe && panicAt === undefined) {
      // Rescan a little of the old text: the banner may straddle two chunks.
      const from = Math.max(0, prevLen - 200);
      const m = panicRe.exec(out.slice(from));
      if (m) {
        panicAt = dropped + from + m.index;
        panicTimer = setTimeout(() => {
          panicDone = true;
          check();
        }, PANIC_GRACE_MS);
      }
    }
    if (out.length > keep) {
      const cut = out.length - keep;
      out = out.slice(cut);
      dropped += cut;
    }
    if (panicAt !== undefined && !panicDone && PANIC_END_RE.test(out.slice(Math.max(0, panicAt - dropped)))) {
      panicDone = true;
      clearTimeout(panicTimer);
    }
    check();
  });
  child.stderr!.on('data', (chunk: Buffer) => {
    stderr += chunk.toString('utf8');
    if (stderr.length > 65536) stderr = stderr.slice(-65536);
  });
  child.stdin!.on('error', () => {
    /* QEMU gone: writes fail quietly, waits report the exit */
  });

  const exited = new Promise<QemuExit>((resolve) => {
    const done = (e: QemuExit) => {
      if (exit) return;
      exit = e;
      live.delete(child);
      if (live.size === 0) removeHooks();
      clearTimeout(panicTimer);
      fw.cleanup();
      if (ownSink) ownSink.end(() => resolve(e));
      else resolve(e);
      // Flush any final text, then fail what is still waiting.
      panicDone = panicAt !== undefined;
      check();
      for (const w of [...waiters]) {
        if (!w.re) settle(w, undefined, e);
        else if (spawnError) settle(w, spawnError);
        else
          settle(
            w,
            fail(
              'E_TOOL_QEMU_EXIT',
              `QEMU exited (${e.code !== null ? `status ${e.code}` : `signal ${e.signal}`}) before ${w.re} appeared on the console`,
              { exitCode: e.code },
            ),
          );
      }
    };
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = new ToolError(
        e.code === 'ENOENT' ? 'E_TOOL_MISSING' : 'E_TOOL_QEMU_EXIT',
        `cannot start ${bin}: ${e.message}`,
        { command: cmdline },
      );
      done({ code: null, signal: null });
    });
    child.on('close', (code, signal) => done({ code, signal }));
  });

  const addWaiter = <T>(re: RegExp | undefined, timeoutMs: number, what: string): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const w: Waiter = {
        ...(re ? { re: plain(re) } : {}),
        resolve: resolve as (v: unknown) => void,
        reject,
        timer: setTimeout(
          () =>
            settle(
              w,
              fail('E_TOOL_QEMU_TIMEOUT', `timed out after ${(timeoutMs / 1000).toFixed(1)} s waiting for ${what}`, {
                timeoutMs,
              }),
            ),
          timeoutMs,
        ),
      };
      waiters.add(w);
      if (exit) {
        // Already finished: decide at once.
        if (!re) return settle(w, undefined, exit);
        check();
        if (waiters.has(w))
          settle(
            w,
            spawnError ??
              (panicAt !== undefined
                ? panicError()
                : fail('E_TOOL_QEMU_EXIT', `QEMU has exited; ${re} did not appear on the console`, {
                    exitCode: exit.code,
                  })),
          );
        return;
      }
      check();
    });

  let stopping: Promise<QemuExit> | undefined;
  return {
    command,
    accel,
    get pid() {
      return child.pid;
    },
    exited,
    running: () => exit === undefined,
    waitFor: (re, timeoutMs = 60_000) => addWaiter<RegExpExecArray>(re, timeoutMs, String(re)),
    waitExit: (timeoutMs = 60_000) =>
      addWaiter<QemuExit>(undefined, timeoutMs, 'QEMU to exit').then((e) => {
        if (panicAt !== undefined) throw panicError();
        return e;
      }),
    send(text) {
      if (exit) throw fail('E_TOOL_QEMU_EXIT', 'cannot type on the console: QEMU has exited');
      child.stdin!.write(text);
    },
    output: () => out,
    tail: (lines = 40) => tailOf(out, lines),
    stop() {
      if (stopping) return stopping;
      if (exit) return (stopping = Promise.resolve(exit));
      try {
        child.kill('SIGTERM');
      } catch {
        /* gone */
      }
      const hard = setTimeout(() => {
        try {
          child.kill('SIGKILL');
        } catch {
          /* gone */
        }
      }, 2000);
      stopping = exited.finally(() => clearTimeout(hard));
      return stopping;
    },
  };
}
