/**
 * Outputs are never left half-written: work goes to a temporary file beside
 * the target, renamed into place only on success and removed on failure.
 * Temporary files still being written are tracked: on SIGINT, SIGTERM or
 * SIGHUP they are removed before the process dies by the signal.
 * A missing output directory is an error naming it, as with mke2fs: nothing
 * creates directories behind the caller's back.
 */
import { mkdirSync, readdirSync, renameSync, rmdirSync, rmSync, statSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { HostIOError } from '../../core/errors.js';
import { hostError } from '../io/file.js';

const pending = new Set<string>();
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP'];

/** While outputs are being written, a signal removes them first, then the process dies by it as usual. */
function onSignal(sig: NodeJS.Signals): void {
  removePendingOutputs();
  // Nobody else handles this signal: behave as if we had not been here (die by it).
  if (process.listenerCount(sig) === 0) process.kill(process.pid, sig);
}
/** Remove `tmp` if a signal ends the process while it is being written (untrackTemp when done). */
export function trackTemp(tmp: string): void {
  track(tmp);
}
export function untrackTemp(tmp: string): void {
  untrack(tmp);
}

function track(tmp: string): void {
  pending.add(tmp);
  if (pending.size === 1) for (const s of SIGNALS) process.on(s, onSignal);
}
function untrack(tmp: string): void {
  if (!pending.delete(tmp) || pending.size > 0) return;
  for (const s of SIGNALS) process.removeListener(s, onSignal);
}

/** Temporary output files being written right now (removed by removePendingOutputs). */
export function pendingOutputs(): ReadonlySet<string> {
  return pending;
}

/** Remove every temporary output still being written. Never throws. */
export function removePendingOutputs(): void {
  for (const p of pending) {
    try {
      rmSync(p, { force: true, recursive: true });
    } catch {
      // best effort: the process is going down
    }
    untrack(p);
  }
}

/** Throw a HostIOError naming `dir` unless it is an existing directory. */
export function checkOutputDir(dir: string, forPath: string): void {
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code !== 'ENOENT') throw hostError(e, dir, 'use output directory');
    throw new HostIOError(
      'E_IO_NO_OUTPUT_DIR',
      `cannot write ${forPath}: directory ${dir} does not exist (create it first)`,
      { path: dir },
    );
  }
  if (!isDir)
    throw new HostIOError('E_IO_ENOTDIR', `cannot write ${forPath}: ${dir} is not a directory`, { path: dir });
}

export async function withOutputFile<T>(path: string, fn: (tmpPath: string) => Promise<T> | T): Promise<T> {
  const dir = dirname(path);
  checkOutputDir(dir, path);
  const tmp = join(dir, `.${basename(path)}.tinyimage-${process.pid}-${Date.now().toString(36)}.tmp`);
  track(tmp);
  try {
    const r = await fn(tmp);
    renameSync(tmp, path);
    return r;
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw e;
  } finally {
    untrack(tmp);
  }
}

/**
 * Make the output directory of a multi-file build: `dir` itself is created
 * when missing (its parent must exist); the returned function removes it
 * again if it was created here and is still empty (after a failure).
 */
export function prepareOutputDir(dir: string): () => void {
  const abs = resolve(dir);
  try {
    if (statSync(abs).isDirectory()) return () => {};
    throw new HostIOError('E_IO_ENOTDIR', `output ${dir} exists and is not a directory`, { path: dir });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  checkOutputDir(dirname(abs), dir);
  try {
    mkdirSync(abs);
  } catch (e) {
    throw hostError(e, dir, 'create directory');
  }
  return () => {
    try {
      if (readdirSync(abs).length === 0) rmdirSync(abs);
    } catch {
      // left as is: it is the caller's directory now
    }
  };
}
