/**
 * openImage(): open an image file by path ("disk.img", "disk.img:2" for
 * partition 2) or a BlockDevice, detecting and nesting every format the
 * core reads (see src/core/open).
 */
import { existsSync } from 'node:fs';
import type { BlockDevice } from '../core/io/device.js';
import { openDevice, type DiskImage, type FsImage } from '../core/open/index.js';

export { isDisk, type DiskImage, type FsImage, type ImageKind, type FsKind } from '../core/open/index.js';
import { FileDevice } from './io/file.js';

export type OpenedImage = (FsImage | DiskImage) & { close(): void; path?: string };

/** Split "disk.img:2" into path and partition, unless a file with the full name exists. */
export function parseImageRef(ref: string): { path: string; partition?: number } {
  const m = /^(.*):(\d+)$/.exec(ref);
  if (m && !existsSync(ref)) return { path: m[1]!, partition: Number(m[2]) };
  return { path: ref };
}

/**
 * Open an image: a path (optionally "path:N" for partition N) or a BlockDevice.
 * A partitioned disk without a partition number opens as a DiskImage.
 */
export async function openImage(ref: string | BlockDevice, opts: { partition?: number } = {}): Promise<OpenedImage> {
  if (typeof ref !== 'string') {
    const img = await openDevice(ref, opts);
    return Object.assign(img, { close: () => {} });
  }
  const r = parseImageRef(ref);
  const f = FileDevice.open(r.path);
  try {
    const partition = opts.partition ?? r.partition;
    const img = await openDevice(f, { name: r.path, ...(partition !== undefined ? { partition } : {}) });
    return Object.assign(img, { close: () => f.close(), path: r.path });
  } catch (e) {
    f.close();
    throw e;
  }
}
