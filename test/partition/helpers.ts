import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDevice } from '../../src/node/io/file.js';
import type { BlockDevice } from '../../src/core/io/device.js';

export function tempDir(prefix = 'tinyimage-part-'): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Create a sparse image file, run `fn` on it as a device, close it. */
export function withImage<T>(path: string, size: number, fn: (dev: BlockDevice) => T): T {
  const dev = FileDevice.create(path, size);
  try {
    return fn(dev);
  } finally {
    dev.close();
  }
}

export const MiB = 1 << 20;
