/**
 * Outputs are never left half-written: work goes to a temporary file beside
 * the target, renamed into place only on success and removed on failure.
 */
import { renameSync, rmSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

export async function withOutputFile<T>(path: string, fn: (tmpPath: string) => Promise<T> | T): Promise<T> {
  const dir = dirname(path);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(path)}.tinyimage-${process.pid}-${Date.now().toString(36)}.tmp`);
  try {
    const r = await fn(tmp);
    renameSync(tmp, path);
    return r;
  } catch (e) {
    rmSync(tmp, { force: true, recursive: true });
    throw e;
  }
}
