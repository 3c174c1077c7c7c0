/**
 * Images written inside a virtual disk container, one way for the CLI
 * (`--format`, `--subformat`) and build specs (`disk.format`): the format
 * given, or the output's name (`.qcow2`, `.vhd`, `.vmdk`, `.simg`). A name
 * that says one format and an option that says another is a usage error, as
 * with `.gz` and `--compress`. Then the image is built straight into the
 * container file, or spooled for formats written front to back.
 */
import { rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { containerFormatFromName } from '../../core/container/name.js';
import type { ContainerFormat, ContainerOptions, ContainerSummary } from '../../core/container/types.js';
import type { BlockDevice } from '../../core/io/device.js';
import { trackTemp, untrackTemp } from '../host/output.js';

export const DISK_FORMATS = ['raw', 'qcow2', 'vhd', 'vmdk', 'sparse'] as const;
export type DiskFormat = (typeof DISK_FORMATS)[number];
const SUBFORMATS: Record<DiskFormat, readonly string[]> = {
  raw: [],
  qcow2: [],
  vhd: ['dynamic', 'fixed'],
  vmdk: ['monolithicSparse', 'streamOptimized'],
  sparse: [],
};
export const SUBFORMAT_CHOICES = ['dynamic', 'fixed', 'monolithicSparse', 'streamOptimized'] as const;
/** The file name extension each format is usually given. */
export const DISK_EXTENSIONS: Record<DiskFormat, string> = {
  raw: 'img',
  qcow2: 'qcow2',
  vhd: 'vhd',
  vmdk: 'vmdk',
  sparse: 'simg',
};

/** The format a file name says (`x.qcow2`), or undefined when it says none (`x.img`, `-`). */
export function diskFormatOfName(name: string): DiskFormat | undefined {
  return containerFormatFromName(name)?.format;
}

/**
 * The container to write `output` as: `format` when given (it must agree
 * with the name), else what the name says, else raw (undefined). `field`
 * names the option in messages (`--format`, `disk.format`).
 */
export function containerFor(
  output: string,
  v: { format?: DiskFormat | undefined; subformat?: string | undefined },
  field = '--format',
  epoch?: number,
): ContainerOptions | undefined {
  const named = output === '-' ? undefined : diskFormatOfName(output);
  if (v.format !== undefined && named !== undefined && v.format !== named) {
    const better = `${output.replace(/\.[^./]+$/, '')}.${DISK_EXTENSIONS[v.format]}`;
    throw new UsageError(
      'E_USAGE_OUTPUT_NAME',
      `${field} ${v.format} does not match the output name ${output}: name it ${better}, or leave ${field} out`,
      { field, expected: named, actual: v.format, path: output },
    );
  }
  const format = v.format ?? named ?? 'raw';
  const sub = field.replace(/format$/, 'subformat');
  if (v.subformat !== undefined && !SUBFORMATS[format].includes(v.subformat))
    throw new UsageError(
      'E_USAGE_SUBFORMAT',
      SUBFORMATS[format].length
        ? `${sub} ${v.subformat} is not a ${format} subformat (${SUBFORMATS[format].join(', ')})`
        : `${sub} ${v.subformat}: ${format} has no subformats`,
      { field: sub, expected: SUBFORMATS[format], actual: v.subformat },
    );
  if (format === 'raw') return undefined;
  return {
    format: format as ContainerFormat,
    ...(v.subformat !== undefined ? { subformat: v.subformat as ContainerOptions['subformat'] } : {}),
    ...(epoch !== undefined ? { epoch } : {}),
  };
}

/** What the summary line calls an image written in a container: `ext4 in qcow2`. */
export function containerWhat(what: string, c: ContainerOptions | undefined): string {
  return c ? `${what} in ${c.format}${c.subformat ? ` (${c.subformat})` : ''}` : what;
}

/**
 * Build an image of `size` bytes straight into the container file `output`
 * (allocate on write for qcow2, VHD and VMDK monolithicSparse; a qcow2 spool
 * for the others). The file appears under its name only when complete.
 */
export async function writeContainerImage<T>(
  output: string,
  size: number,
  c: ContainerOptions,
  sync: boolean,
  write: (dev: BlockDevice) => Promise<T>,
): Promise<{ value: T; container: ContainerSummary }> {
  const { createContainerFile } = await import('./file.js'); // the writers, only when a container is written
  const file = createContainerFile(output, size, c);
  try {
    const value = await write(file.device);
    const container = await file.finish({ sync });
    return { value, container };
  } catch (e) {
    file.abort();
    throw e;
  }
}

/**
 * An image that can only be written front to back as a file (squashfs) put
 * into a container: written to a temporary raw file beside `output` first,
 * then converted (only its data is read) and the raw file removed.
 */
export async function spoolToContainer<T>(
  output: string,
  c: ContainerOptions,
  sync: boolean,
  write: (rawPath: string) => Promise<T>,
): Promise<{ value: T; container: ContainerSummary }> {
  const raw = join(dirname(output), `.${basename(output)}.tinyimage-${process.pid}-raw.tmp`);
  trackTemp(raw);
  try {
    const value = await write(raw);
    const { convertToContainerFile } = await import('./file.js');
    const container = await convertToContainerFile(raw, output, { ...c, sync });
    return { value, container };
  } finally {
    rmSync(raw, { force: true });
    untrackTemp(raw);
  }
}
