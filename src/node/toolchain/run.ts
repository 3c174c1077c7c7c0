/**
 * The one way tinyimage runs an external build tool (make, gcc, tar, ...):
 * an argument array (never a shell string), output streamed line by line to
 * an optional log file and callback, and a typed ToolError on failure that
 * carries the command, the exit code and the last lines of output.
 */
import { spawn } from 'node:child_process';
import { createWriteStream, existsSync, mkdirSync, rmSync, statSync, type WriteStream } from 'node:fs';
import { dirname, join } from 'node:path';
import { ToolError } from '../../core/errors.js';

/**
 * Ready an out-of-tree build directory for a reproducible kconfig `make`
 * (kernel, busybox): create it, drop the last build.log, and give that log's
 * path and the environment: the caller's with SOURCE_DATE_EPOCH, LC_ALL=C, a
 * fixed build user and host and `extra`, without MAKEFLAGS and KBUILD_OUTPUT
 * (an outer make's or the user's; either would redirect the build).
 */
export function prepareMake(
  buildDir: string,
  env: NodeJS.ProcessEnv,
  epoch: number,
  extra: Record<string, string>,
): { logFile: string; makeEnv: NodeJS.ProcessEnv } {
  mkdirSync(buildDir, { recursive: true });
  const logFile = join(buildDir, 'build.log');
  rmSync(logFile, { force: true });
  const makeEnv: NodeJS.ProcessEnv = {
    ...env,
    SOURCE_DATE_EPOCH: String(epoch),
    LC_ALL: 'C',
    KBUILD_BUILD_USER: 'tinyimage',
    KBUILD_BUILD_HOST: 'tinyimage',
    ...extra,
  };
  delete makeEnv.MAKEFLAGS;
  delete makeEnv.KBUILD_OUTPUT;
  return { logFile, makeEnv };
}

/** A command a build runs, and the Debian package that provides it. */
export interface HostTool {
  command: string;
  debian: string;
}

/** Is `command` an existing file in one of the directories of env.PATH (or, with a slash, that file)? */
export function have(command: string, env: NodeJS.ProcessEnv = process.env): boolean {
  if (command.includes('/')) return existsSync(command);
  return (env.PATH ?? '').split(':').some((d) => d !== '' && existsSync(join(d, command)));
}

/**
 * Check, before any slow work, that every command `what` will run is on PATH;
 * otherwise throw one E_TOOL_MISSING naming all that are missing and the
 * Debian packages that provide them (rather than failing twenty minutes into
 * a build on the first one, with make's "rsync: not found" in a log).
 */
export function requireTools(what: string, tools: readonly HostTool[], env: NodeJS.ProcessEnv = process.env): void {
  const gone = [...new Map(tools.map((t) => [t.command, t])).values()].filter((t) => !have(t.command, env));
  if (gone.length === 0) return;
  const packages = [...new Set(gone.map((t) => t.debian))];
  throw new ToolError(
    'E_TOOL_MISSING',
    `${what} needs ${gone.map((t) => t.command).join(', ')}, not found on PATH. On Debian/Ubuntu: apt-get install ${packages.join(' ')}`,
    { what, missing: gone.map((t) => t.command), packages },
  );
}

/** What unpacking `source` needs: nothing for a directory, else tar and the decompressor its suffix names. */
export function tarTools(source: string): HostTool[] {
  if (statSync(source, { throwIfNoEntry: false })?.isDirectory()) return [];
  const tools: HostTool[] = [{ command: 'tar', debian: 'tar' }];
  if (/\.(tar\.xz|txz)$/.test(source)) tools.push({ command: 'xz', debian: 'xz-utils' });
  else if (/\.(tar\.bz2|tbz2?)$/.test(source)) tools.push({ command: 'bzip2', debian: 'bzip2' });
  else if (/\.(tar\.gz|tgz)$/.test(source)) tools.push({ command: 'gzip', debian: 'gzip' });
  else if (/\.tar\.zst$/.test(source)) tools.push({ command: 'zstd', debian: 'zstd' });
  return tools;
}

export interface RunOptions {
  cwd?: string;
  /** Environment for the child; defaults to process.env. Merged over nothing: pass {...process.env, X} to extend. */
  env?: NodeJS.ProcessEnv;
  /** Aborting kills the child (SIGTERM, then SIGKILL after 2 s) and rejects with E_TOOL_ABORTED. */
  signal?: AbortSignal;
  /** Append stdout+stderr (interleaved as they arrive) to this file. */
  logFile?: string;
  /** Called for every complete output line (stdout and stderr). */
  onLine?: (line: string, stream: 'stdout' | 'stderr') => void;
  /** Lines of output kept for the error message (default 30). */
  tailLines?: number;
  /** Also collect stdout and return it (for small outputs such as `gcc --version`). */
  captureStdout?: boolean;
  /** Bytes written to the child's stdin, then closed (default: stdin is /dev/null). */
  input?: string | Uint8Array;
}

export interface RunResult {
  /** Collected stdout when captureStdout was set, else ''. */
  stdout: string;
  /** The last `tailLines` lines of combined output. */
  tail: string[];
}

/**
 * Children run in their own process group (so an abort reaches make's
 * children). A terminal's ^C then no longer reaches them, so while any child
 * runs we forward SIGINT/SIGTERM/SIGHUP to every child group and re-raise the
 * signal, and kill them on process exit: no orphaned builds.
 */
const liveGroups = new Set<number>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];
function killAll(sig: NodeJS.Signals): void {
  for (const pid of liveGroups) {
    try {
      process.kill(-pid, sig);
    } catch {
      /* gone */
    }
  }
}
function onParentSignal(sig: NodeJS.Signals): void {
  killAll('SIGTERM');
  unhook();
  // Default behaviour for the signal now that our handler is gone.
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}
function onParentExit(): void {
  killAll('SIGKILL');
}
function hook(): void {
  if (liveGroups.size !== 1) return;
  for (const s of SIGNALS) process.on(s, onParentSignal);
  process.on('exit', onParentExit);
}
function unhook(): void {
  for (const s of SIGNALS) process.removeListener(s, onParentSignal);
  process.removeListener('exit', onParentExit);
}

function commandLine(command: string, args: readonly string[]): string {
  const q = (s: string) => (/^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`);
  return [command, ...args].map(q).join(' ');
}

export function run(command: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const keep = opts.tailLines ?? 30;
  const tail: string[] = [];
  const pushTail = (line: string) => {
    tail.push(line);
    if (tail.length > keep) tail.shift();
  };
  const cmdline = commandLine(command, args);
  let log: WriteStream | undefined;
  if (opts.logFile) {
    mkdirSync(dirname(opts.logFile), { recursive: true });
    log = createWriteStream(opts.logFile, { flags: 'a' });
    log.write(`$ ${cmdline}${opts.cwd ? `   (in ${opts.cwd})` : ''}\n`);
  }
  const closeLog = () => new Promise<void>((res) => (log ? log.end(res) : res()));

  return new Promise<RunResult>((resolve, reject) => {
    if (opts.signal?.aborted) {
      void closeLog().then(() =>
        reject(new ToolError('E_TOOL_ABORTED', `${command}: aborted before start`, { command: cmdline })),
      );
      return;
    }
    const child = spawn(command, [...args], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: [opts.input !== undefined ? 'pipe' : 'ignore', 'pipe', 'pipe'],
      // Own process group, so an abort reaches make's children too.
      detached: true,
    });
    if (child.pid !== undefined) {
      liveGroups.add(child.pid);
      hook();
    }
    let stdout = '';
    let spawnError: NodeJS.ErrnoException | undefined;
    let aborted = false;
    let killTimer: NodeJS.Timeout | undefined;
    const killGroup = (sig: NodeJS.Signals) => {
      if (child.pid === undefined) return;
      try {
        process.kill(-child.pid, sig);
      } catch {
        try {
          child.kill(sig);
        } catch {
          /* gone */
        }
      }
    };
    const onAbort = () => {
      aborted = true;
      killGroup('SIGTERM');
      killTimer = setTimeout(() => killGroup('SIGKILL'), 2000);
      killTimer.unref();
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    const lineSplitter = (stream: 'stdout' | 'stderr') => {
      let partial = '';
      return {
        data(chunk: Buffer) {
          log?.write(chunk);
          const text = partial + chunk.toString('utf8');
          const lines = text.split('\n');
          partial = lines.pop()!;
          for (const l of lines) {
            pushTail(l);
            opts.onLine?.(l, stream);
          }
        },
        end() {
          if (partial) {
            pushTail(partial);
            opts.onLine?.(partial, stream);
            partial = '';
          }
        },
      };
    };
    const out = lineSplitter('stdout');
    const err = lineSplitter('stderr');
    child.stdout!.on('data', (c: Buffer) => {
      if (opts.captureStdout) stdout += c.toString('utf8');
      out.data(c);
    });
    child.stderr!.on('data', (c: Buffer) => err.data(c));
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {
        /* child exited early; reported by exit code */
      });
      child.stdin!.end(opts.input);
    }
    child.on('error', (e: NodeJS.ErrnoException) => {
      spawnError = e;
    });
    child.on('close', (code, sig) => {
      if (child.pid !== undefined && liveGroups.delete(child.pid) && liveGroups.size === 0) unhook();
      out.end();
      err.end();
      opts.signal?.removeEventListener('abort', onAbort);
      if (killTimer) clearTimeout(killTimer);
      void closeLog().then(() => {
        const data = {
          command: cmdline,
          cwd: opts.cwd,
          exitCode: code ?? undefined,
          signal: sig ?? undefined,
          tail: [...tail],
          logFile: opts.logFile,
        };
        const logHint = opts.logFile ? `\n(full log: ${opts.logFile})` : '';
        if (spawnError) {
          if (spawnError.code === 'ENOENT') {
            reject(
              new ToolError('E_TOOL_MISSING', `${command}: command not found (is it installed and on PATH?)`, data, {
                cause: spawnError,
              }),
            );
          } else {
            reject(
              new ToolError('E_TOOL_FAILED', `${command}: cannot start: ${spawnError.message}`, data, {
                cause: spawnError,
              }),
            );
          }
          return;
        }
        if (aborted) {
          reject(new ToolError('E_TOOL_ABORTED', `${command}: aborted`, data));
          return;
        }
        if (code !== 0) {
          const why = code === null ? `killed by ${sig}` : `exit code ${code}`;
          const shown = tail.length ? `\n--- last ${tail.length} lines of output ---\n${tail.join('\n')}` : '';
          reject(new ToolError('E_TOOL_FAILED', `${cmdline} failed (${why})${shown}${logHint}`, data));
          return;
        }
        resolve({ stdout, tail: [...tail] });
      });
    });
  });
}
