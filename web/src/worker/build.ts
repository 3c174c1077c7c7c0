/**
 * One tree to one image, by CLI format name, into pieces that end as a
 * Blob: filesystems (ext2/4, FAT32) on a SparseDevice of the chosen size,
 * EROFS and ISO 9660 on one of the size their plan says, streams (cpio.gz,
 * tar, squashfs) into a BlobSpool. The same core writers and defaults as
 * `tinyimage mkfs`, `tinyimage cpio` and `tinyimage repack`.
 */
import { prepareExt4 } from '../../../src/core/fs/ext4/index.js';
import { fatMinimumSize, planFat, writeFat, type FatOptions } from '../../../src/core/fs/fat/index.js';
import { writeSquashfs } from '../../../src/core/fs/squashfs/index.js';
import { prepareErofs } from '../../../src/core/fs/erofs/index.js';
import { planIso9660, writeIso9660, type IsoOptions } from '../../../src/core/fs/iso9660/index.js';
import { cpioChunks } from '../../../src/core/archive/cpio/index.js';
import { tarChunks } from '../../../src/core/archive/tar/write.js';
import { gzipChunks } from '../../../src/core/compress/gzip.js';
import { CapacityError, UsageError } from '../../../src/core/errors.js';
import type { Progress } from '../../../src/core/progress.js';
import type { FileTree } from '../../../src/core/tree/tree.js';
import { parseSize } from '../../../src/core/units.js';
import { LABELLED, FORMATS, type Format } from '../protocol.js';
import { BlobSpool, SparseDevice } from './store.js';

export interface ImageOptions {
  format: Format;
  /** 64M, 1G, 4096...; empty for the smallest that fits (filesystems) or no limit (streams). */
  size?: string | undefined;
  label?: string | undefined;
  progress: Progress;
  warn: (message: string) => void;
}

export interface Image {
  blob: Blob;
  bytes: number;
  /** Bytes of pieces the worker held in memory when the writer finished (the rest were holes or sealed Blobs). */
  held: number;
}

/** Check the options before any source is read. */
export function checkImageOptions(o: Pick<ImageOptions, 'format' | 'size' | 'label'>): number | undefined {
  if (!(FORMATS as readonly string[]).includes(o.format))
    throw new UsageError('E_USAGE_ENUM', `format must be one of ${FORMATS.join(', ')}, got '${o.format}'`, {
      field: 'format',
      expected: FORMATS,
      actual: o.format,
    });
  if (o.label && !LABELLED.has(o.format))
    throw new UsageError('E_USAGE_LABEL', `${o.format} has no volume label; leave the label empty`, {
      field: 'label',
    });
  return o.size?.trim() ? parseSize(o.size, 'size') : undefined;
}

async function ext(tree: FileTree, type: 'ext4' | 'ext2', o: ImageOptions, size?: number): Promise<Image> {
  const prepared = prepareExt4(tree, { type, label: o.label || undefined, progress: o.progress });
  const bytes = size ?? prepared.minimumSize;
  const dev = new SparseDevice(bytes);
  await prepared.write(dev, bytes);
  const held = dev.allocated;
  return { blob: dev.toBlob(), bytes, held };
}

async function fat32(tree: FileTree, o: ImageOptions, size?: number): Promise<Image> {
  const opts: FatOptions = { type: 'fat32', label: o.label || undefined, warn: o.warn, progress: o.progress };
  opts.plan = planFat(tree, opts);
  const bytes = size ?? fatMinimumSize(tree, opts);
  const dev = new SparseDevice(bytes);
  await writeFat(tree, dev, opts);
  const held = dev.allocated;
  return { blob: dev.toBlob(), bytes, held };
}

/** An image whose size its plan fixes (EROFS, ISO 9660); a size given is a limit, as for streams. */
async function planned(
  bytes: number,
  limit: number | undefined,
  write: (dev: SparseDevice) => Promise<unknown>,
): Promise<Image> {
  if (limit !== undefined && bytes > limit)
    throw new CapacityError(
      'E_SPACE_SPOOL',
      `the output needs ${bytes} bytes, more than the ${limit} given; choose a larger size or a smaller tree`,
      { expected: bytes, actual: limit },
    );
  const dev = new SparseDevice(bytes);
  await write(dev);
  const held = dev.allocated;
  return { blob: dev.toBlob(), bytes, held };
}

async function stream(chunks: AsyncIterable<Uint8Array>, limit?: number): Promise<Image> {
  const spool = new BlobSpool(undefined, limit);
  for await (const c of chunks) spool.write(c);
  const { length: bytes, held } = spool;
  return { blob: spool.finish(), bytes, held };
}

/** Write `tree` as `o.format`; the image is a Blob made of pieces. */
export async function buildImage(tree: FileTree, o: ImageOptions): Promise<Image> {
  const size = checkImageOptions(o);
  const progress = o.progress;
  switch (o.format) {
    case 'ext4':
    case 'ext2':
      return ext(tree, o.format, o, size);
    case 'fat32':
      return fat32(tree, o, size);
    case 'cpio.gz':
      return stream(gzipChunks(cpioChunks(tree, { progress })), size);
    case 'erofs': {
      const prepared = prepareErofs(tree, { label: o.label || undefined, progress, warn: o.warn });
      return planned(prepared.size, size, (dev) => prepared.write(dev));
    }
    case 'iso9660': {
      const opts: IsoOptions = { label: o.label || undefined, progress, warn: o.warn };
      opts.plan = planIso9660(tree, opts);
      return planned(opts.plan.size, size, (dev) => writeIso9660(tree, dev, opts));
    }
    case 'tar':
      return stream(tarChunks(tree, { progress }), size);
    case 'squashfs': {
      const spool = new BlobSpool(undefined, size);
      await writeSquashfs(tree, { write: (c) => spool.write(c), patch: (at, b) => spool.patch(at, b) }, { progress });
      const { length: bytes, held } = spool;
      return { blob: spool.finish(), bytes, held };
    }
  }
}
