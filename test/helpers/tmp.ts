/** Temporary directories for tests: one per file or test, removed in afterAll. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface TmpDir {
  dir: string;
  /** A path inside the directory. */
  path(name: string): string;
  cleanup(): void;
}

export function tmpDir(prefix = 'tinyimage-'): TmpDir {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, path: (name) => join(dir, name), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
