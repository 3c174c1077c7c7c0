/**
 * openImage(): open an image file by path ("disk.img", "disk.img:2" for
 * partition 2) or a BlockDevice, detecting and nesting every format the
 * core reads (see src/core/open).
 */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import type { ContainerInfo } from '../core/container/types.js';
import type { BlockDevice } from '../core/io/device.js';
import { openDevice, type DiskImage, type FsImage } from '../core/open/index.js';

export { isDisk, type DiskImage, type FsImage, type ImageKind, type FsKind } from '../core/open/index.js';
import { FileDevice } from './io/file.js';

export type OpenedImage = (FsImage | DiskImage) & {
  close(): void;
  path?: string;
  /** The virtual disk container the image was inside (qcow2, VHD, VMDK, Android sparse), if any. */
  container?: ContainerInfo;
};

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
  const opened: FileDevice[] = [FileDevice.open(r.path)];
  const close = () => {
    for (const f of opened.splice(0)) f.close();
  };
  // a VMDK descriptor names its extent files relative to itself
  const resolve = (name: string) => {
    const p = isAbsolute(name) ? name : join(dirname(r.path), name);
    if (!existsSync(p)) return undefined;
    const f = FileDevice.open(p);
    opened.push(f);
    return f;
  };
  try {
    const partition = opts.partition ?? r.partition;
    const img = await openDevice(opened[0]!, {
      name: r.path,
      resolve,
      ...(partition !== undefined ? { partition } : {}),
    });
    return Object.assign(img, { close, path: r.path });
  } catch (e) {
    close();
    throw e;
  }
}
