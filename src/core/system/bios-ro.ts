/**
 * A read-only root for the BIOS disk: the root filesystem is squashfs or
 * EROFS in partition 2, found by root=PARTUUID=<signature>-02 and mounted
 * read-only; partition 1 is a small ext4 /boot holding the kernel, the
 * module initramfs and GRUB's files, because GRUB cannot read EROFS (and
 * squashfs only with a module its core image would need). GRUB's core image
 * and configuration stay exactly those of the ext4 root disk.
 *
 * EROFS sizes are exact before writing. A squashfs image's size is known
 * only once compressed, so its partition is planned at an upper bound (the
 * file bytes uncompressed plus generous metadata), the image is written into
 * it, and the partition table then records the size actually used.
 */
import type { BlockDevice } from '../io/device.js';
import { SubDevice } from '../io/device.js';
import type { FileTree } from '../tree/tree.js';
import { prepareErofs, type ErofsOptions, type ErofsSummary, type PreparedErofs } from '../fs/erofs/index.js';
import { DeviceOutput, writeSquashfs, type SquashfsOptions, type SquashfsSummary } from '../fs/squashfs/index.js';
import { CapacityError } from '../errors.js';
import type { Progress } from '../progress.js';

const MiB = 1 << 20;

export type ReadOnlyFormat = 'squashfs' | 'erofs';

export interface ReadOnlyRootOptions {
  squashfs?: Omit<SquashfsOptions, 'progress' | 'mkfsTime'>;
  erofs?: Omit<ErofsOptions, 'progress' | 'buildTime'>;
}

/** A planned read-only root: its partition size (exact for EROFS, an upper bound for squashfs) and how to write it. */
export interface ReadOnlyRoot {
  format: ReadOnlyFormat;
  partitionSize: number;
  write(dev: BlockDevice, progress?: Progress): Promise<{ bytes: number; summary: SquashfsSummary | ErofsSummary }>;
}

function roundUp(n: number, m: number): number {
  return Math.ceil(n / m) * m;
}

/**
 * Most bytes a squashfs image of `tree` can take: every file stored
 * uncompressed, and per entry more than its inode, directory entry and name
 * can need, plus the tables.
 */
function squashfsBound(tree: FileTree): number {
  let bytes = 0;
  let entries = 0;
  let xattrs = 0;
  for (const e of tree.walk()) {
    entries++;
    const n = e.node;
    if (n.type === 'file') bytes += n.content.size + Math.ceil(n.content.size / 4096) * 4;
    else if (n.type === 'symlink') bytes += n.target.length * 3;
    for (const [k, v] of n.xattrs) xattrs += k.length + v.length + 16;
  }
  return bytes + entries * 400 + 2 * xattrs + 2 * MiB;
}

export function planReadOnlyRoot(
  tree: FileTree,
  format: ReadOnlyFormat,
  epoch: number,
  o: ReadOnlyRootOptions,
): ReadOnlyRoot {
  if (format === 'erofs') {
    const prepared: PreparedErofs = prepareErofs(tree, { ...(o.erofs ?? {}), buildTime: epoch });
    return {
      format,
      partitionSize: roundUp(prepared.size, MiB),
      async write(dev) {
        const summary = await prepared.write(dev);
        return { bytes: summary.size, summary };
      },
    };
  }
  return {
    format,
    partitionSize: roundUp(squashfsBound(tree), MiB),
    async write(dev, progress) {
      const summary = await writeSquashfs(tree, new DeviceOutput(dev), {
        ...(o.squashfs ?? {}),
        mkfsTime: epoch,
        ...(progress ? { progress } : {}),
      });
      return { bytes: summary.size, summary };
    },
  };
}

/** Write the planned root into its partition window; returns the bytes its partition needs (whole MiB). */
export async function writeReadOnlyRoot(
  root: ReadOnlyRoot,
  dev: BlockDevice,
  offset: number,
  size: number,
  progress?: Progress,
): Promise<{ partitionSize: number; summary: SquashfsSummary | ErofsSummary }> {
  if (size < root.partitionSize && root.format === 'erofs')
    throw new CapacityError('E_SPACE_ROOT', `the root partition has ${size} bytes, EROFS needs ${root.partitionSize}`, {
      expected: root.partitionSize,
      actual: size,
    });
  const r = await root.write(new SubDevice(dev, offset, size), progress);
  return { partitionSize: roundUp(r.bytes, MiB), summary: r.summary };
}
