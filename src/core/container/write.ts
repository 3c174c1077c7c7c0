/**
 * One entry point per direction of writing, for every container format:
 * `writeContainer` streams a source device (and its data extents) into a
 * container; `createContainerDevice` returns a device to build straight
 * into. Formats that can only be written in one pass at the end (VMDK
 * streamOptimized, Android sparse, compressed qcow2) build into a qcow2
 * spool on a second target, then stream from it.
 */
import { UsageError } from '../errors.js';
import type { BlockDevice } from '../io/device.js';
import { createQcow2Device, writeQcow2 } from './qcow2/write.js';
import { writeSparse } from './sparse/write.js';
import type { ContainerDevice, ContainerOptions, ContainerSummary, ContainerTarget, Extent } from './types.js';
import { createVhdDevice, writeVhd } from './vhd/write.js';
import { createVmdkDevice, writeVmdk } from './vmdk/write.js';

export { containerFormatFromName } from './name.js';

export type WriteContainerOptions = ContainerOptions & { extents?: readonly Extent[] };

const FORMATS = ['qcow2', 'vhd', 'vmdk', 'sparse'];

function checkSubformat(o: ContainerOptions): void {
  if (!FORMATS.includes(o.format))
    throw new UsageError('E_USAGE_FORMAT', `unknown container format '${o.format}' (expected ${FORMATS.join(', ')})`, {
      field: 'format',
      actual: o.format,
    });
  const allowed: Record<string, string[]> = {
    vhd: ['dynamic', 'fixed'],
    vmdk: ['monolithicSparse', 'streamOptimized'],
  };
  const sub = o.subformat;
  if (sub !== undefined && !(allowed[o.format] ?? []).includes(sub)) {
    throw new UsageError(
      'E_USAGE_SUBFORMAT',
      `${o.format} has no subformat '${sub}'` +
        (allowed[o.format] ? ` (expected ${allowed[o.format]!.join(' or ')})` : ''),
      { field: 'subformat', actual: sub },
    );
  }
}

/** Stream `src` into a container on `target`. Only the data extents are read; all-zero units are not stored. */
export async function writeContainer(
  src: BlockDevice,
  target: ContainerTarget,
  opts: WriteContainerOptions,
): Promise<ContainerSummary> {
  checkSubformat(opts);
  const write = { qcow2: writeQcow2, vhd: writeVhd, vmdk: writeVmdk, sparse: writeSparse }[opts.format];
  const summary = await write(src, target, opts);
  target.setSize?.(summary.fileSize);
  return summary;
}

/** Can this format be built in place (allocate on write), without a spool? */
export function buildsInPlace(o: ContainerOptions): boolean {
  return (
    (o.format === 'qcow2' && !o.compress) ||
    o.format === 'vhd' ||
    (o.format === 'vmdk' && o.subformat !== 'streamOptimized')
  );
}

/**
 * A device of `size` bytes that becomes a container on `target` when
 * finished. `spool` is called once, only for the formats that need one
 * (see buildsInPlace), and must return an empty target of its own.
 */
export function createContainerDevice(
  target: ContainerTarget,
  size: number,
  opts: ContainerOptions,
  spool?: () => ContainerTarget,
): ContainerDevice {
  checkSubformat(opts);
  const direct =
    opts.format === 'qcow2' && !opts.compress
      ? createQcow2Device(target, size, opts)
      : opts.format === 'vhd'
        ? createVhdDevice(target, size, opts)
        : opts.format === 'vmdk' && opts.subformat !== 'streamOptimized'
          ? createVmdkDevice(target, size, opts)
          : undefined;
  if (direct) {
    const finish = direct.finish.bind(direct);
    direct.finish = async () => {
      const summary = await finish();
      target.setSize?.(summary.fileSize);
      return summary;
    };
    return direct;
  }
  if (!spool)
    throw new UsageError(
      'E_USAGE_SPOOL',
      `${opts.format}${opts.subformat ? ` ${opts.subformat}` : ''}${opts.compress ? ' (compressed)' : ''} is written ` +
        'in one pass at the end: give createContainerDevice a spool target',
      { field: 'spool' },
    );
  const inner = createQcow2Device(spool(), size, {});
  return Object.assign(inner, {
    async finish(): Promise<ContainerSummary> {
      inner.seal();
      return writeContainer(inner, target, { ...opts, extents: inner.extents() });
    },
  });
}
