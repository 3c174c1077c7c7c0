/**
 * The declarative disk of a spec (`kind: disk`, or a spec with
 * `disk.partitions`): a GPT or MBR disk whose partitions are described by
 * type, size, filesystem and a source tree, in the spirit of systemd-repart
 * and genimage. Written as DIR/disk.img (or disk.output).
 */
import { UsageError } from '../../core/errors.js';
import { buildDisk, diskSize, type DiskLayout, type DiskPartition } from '../../core/image/disk.js';
import { FileTree } from '../../core/tree/tree.js';
import { parseSize } from '../../core/units.js';
import { finishTree, recordDisk, type BuildContext } from './build.js';
import { openSources } from './sources.js';
import type { OpenedSource } from '../host/source.js';
import type { PartitionSpec } from './spec.js';

function size(v: PartitionSpec['size'], field: string): DiskPartition['size'] {
  if (typeof v === 'number' || v === 'rest' || v === 'fit') return v;
  if (/^\d+%$/.test(v)) return v as `${number}%`;
  return parseSize(v, field);
}

function partitionType(t: string): string | number {
  return /^0x[0-9a-f]{1,2}$/i.test(t) ? parseInt(t, 16) : t;
}

async function partitionOf(
  ctx: BuildContext,
  p: PartitionSpec,
  i: number,
  open: OpenedSource[],
): Promise<DiskPartition> {
  const field = `disk.partitions[${i}]`;
  const fs = p.fs ?? 'none';
  let tree: FileTree | undefined;
  if (p.root !== undefined) {
    const src = await openSources(p.root, `${field}.root`, { warn: ctx.warn, progress: ctx.progress });
    open.push(src);
    tree = finishTree(ctx, src.tree);
  } else if (fs !== 'none') tree = new FileTree({ defaultTime: ctx.epoch ?? 0 });
  const options: Record<string, unknown> = {
    ...(p.label !== undefined ? { label: p.label } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
  };
  if (p.uuid !== undefined) {
    if (fs.startsWith('ext')) options.uuid = p.uuid;
    else if (fs.startsWith('fat')) {
      const m = /^([0-9a-f]{4})-?([0-9a-f]{4})$/i.exec(p.uuid);
      if (!m)
        throw new UsageError(
          'E_USAGE_SPEC',
          `${field}.uuid: a FAT volume id is 8 hex digits (ABCD-1234), got '${p.uuid}'`,
          { field: `${field}.uuid` },
        );
      options.volumeId = parseInt(m[1]! + m[2]!, 16);
    } else
      throw new UsageError('E_USAGE_SPEC', `${field}.uuid: a partition without a filesystem has no UUID`, {
        field: `${field}.uuid`,
      });
  }
  return {
    type: partitionType(p.type),
    size: size(p.size, `${field}.size`),
    fs,
    ...(p.name !== undefined ? { name: p.name } : {}),
    ...(p.bootable !== undefined ? { bootable: p.bootable } : {}),
    ...(tree ? { tree } : {}),
    ...(Object.keys(options).length ? { options } : {}),
  } as DiskPartition;
}

export async function buildDiskKind(ctx: BuildContext): Promise<void> {
  const d = ctx.spec.disk!;
  const open: OpenedSource[] = [];
  try {
    const partitions: DiskPartition[] = [];
    for (const [i, p] of d.partitions!.entries()) partitions.push(await partitionOf(ctx, p, i, open));
    const layout: DiskLayout = {
      table: d.table ?? 'gpt',
      ...(d.size !== undefined ? { size: typeof d.size === 'number' ? d.size : parseSize(d.size, 'disk.size') } : {}),
      ...(d.seed !== undefined ? { seed: d.seed } : {}),
      partitions,
      progress: ctx.progress,
    };
    const total = layout.size ?? diskSize(layout);
    const what = `${layout.table.toUpperCase()} disk, ${partitions.length} partitions`;
    await recordDisk(ctx, 'disk', what, total, (dev) => buildDisk({ ...layout, size: total }, dev).then(() => {}));
  } finally {
    for (const o of open) o.close();
  }
}
