/**
 * Every tree format the CLI writes, as one table: how an output's name
 * names it, whether it is an image (random access, can go inside a virtual
 * disk container) and how a tree is written to it. `repack` picks from it;
 * `mkfs squashfs` shares its squashfs writer. A new format joins by adding a
 * row. Each row imports its writer when it writes, so naming one format
 * loads no other.
 */
import { statSync } from 'node:fs';
import { UsageError } from '../../core/errors.js';
import { gzipChunks } from '../../core/compress/gzip.js';
import { zstdChunks } from '../../core/compress/zstd.js';
import type { ContainerOptions, ContainerSummary } from '../../core/container/types.js';
import type { FatOptions } from '../../core/fs/fat/writer.js';
import type { IsoOptions } from '../../core/fs/iso9660/index.js';
import type { Progress } from '../../core/progress.js';
import type { FileTree } from '../../core/tree/tree.js';
import type { SquashfsFileOptions } from '../squashfs/write.js';
import { spoolToContainer } from './container.js';
import type { CliOutput, OutputFormat } from './output.js';
import { writeImageFile } from './sources.js';

/** What the writers of the table take besides the tree (the common options of `repack`). */
export interface TreeWriteOptions {
  epoch: number | undefined;
  progress: Progress;
  warn: (message: string) => void;
  /** Image size (filesystems); default the smallest that fits plus headroom. */
  size?: number | undefined;
  label?: string | undefined;
  /** gzip level (tar.gz, cpio.gz, squashfs). */
  level?: number | undefined;
  sync: boolean;
  container?: ContainerOptions | undefined;
  /** squashfs options beyond the common ones (mkfs squashfs). */
  squashfs?: SquashfsFileOptions;
}

export interface WriteResult {
  bytes: number;
  details?: unknown;
}

export interface TreeFormat {
  /** The key of OUTPUT_FORMATS: whether `-o -` can stream it. */
  output: OutputFormat;
  /** Name endings that say this format unambiguously. */
  suffixes: readonly string[];
  /** Written with random access: an image that can go inside a container (--format). */
  image: boolean;
  write(tree: FileTree, out: CliOutput, o: TreeWriteOptions): Promise<WriteResult>;
  /** Why this format cannot be written (yet), when it cannot. */
  unavailable?: string;
}

const level = (o: TreeWriteOptions) => (o.level !== undefined ? { level: o.level } : {});

function stream(chunks: (tree: FileTree, o: TreeWriteOptions) => Promise<AsyncIterable<Uint8Array>>) {
  return async (tree: FileTree, out: CliOutput, o: TreeWriteOptions): Promise<WriteResult> => ({
    bytes: await out.writeChunks(await chunks(tree, o)),
  });
}

const tar = async (t: FileTree, o: TreeWriteOptions) =>
  (await import('../../core/archive/tar/write.js')).tarChunks(t, { progress: o.progress });
const cpio = async (t: FileTree, o: TreeWriteOptions) =>
  (await import('../../core/archive/cpio/index.js')).cpioChunks(t, { progress: o.progress });

function ext(type: 'ext2' | 'ext3' | 'ext4'): TreeFormat {
  return {
    output: type,
    suffixes: [`.${type}`],
    image: true,
    async write(tree, out, o) {
      const { prepareExt4 } = await import('../../core/fs/ext4/write.js');
      const prepared = prepareExt4(tree, { type, label: o.label, epoch: o.epoch, progress: o.progress });
      const size = o.size ?? prepared.minimumSize;
      const r = await writeImageFile(out, size, o.sync, (dev) => prepared.write(dev, size), o.container);
      return { bytes: r.bytes, details: withContainer(r.value, r.container) };
    },
  };
}

function fat(type: 'fat12' | 'fat16' | 'fat32'): TreeFormat {
  return {
    output: type,
    suffixes: [],
    image: true,
    async write(tree, out, o) {
      const { fatMinimumSize, planFat, writeFat } = await import('../../core/fs/fat/writer.js');
      const opts: FatOptions = { type, label: o.label, epoch: o.epoch, progress: o.progress, warn: o.warn };
      opts.plan = planFat(tree, opts);
      const size = o.size ?? fatMinimumSize(tree, opts);
      const r = await writeImageFile(out, size, o.sync, (dev) => writeFat(tree, dev, opts), o.container, {
        writeBehind: true,
      });
      return { bytes: r.bytes, details: withContainer(r.value, r.container) };
    },
  };
}

/** EROFS, uncompressed, tails inline (the defaults of `mkfs erofs`); the epoch is its build time. */
const erofs: TreeFormat = {
  output: 'erofs',
  suffixes: ['.erofs'],
  image: true,
  async write(tree, out, o) {
    const { prepareErofs } = await import('../../core/fs/erofs/write.js');
    const prepared = prepareErofs(tree, {
      label: o.label,
      progress: o.progress,
      warn: o.warn,
      ...(o.epoch !== undefined ? { buildTime: o.epoch } : {}),
    });
    const r = await writeImageFile(out, prepared.size, o.sync, (dev) => prepared.write(dev), o.container);
    return { bytes: r.bytes, details: withContainer(r.value, r.container) };
  },
};

/** ISO 9660 with Rock Ridge and Joliet (the defaults of `mkfs iso9660`); its size is what the plan says. */
const iso9660: TreeFormat = {
  output: 'iso9660',
  suffixes: ['.iso'],
  image: true,
  async write(tree, out, o) {
    const { planIso9660, writeIso9660 } = await import('../../core/fs/iso9660/write.js');
    const opts: IsoOptions = { label: o.label, epoch: o.epoch, progress: o.progress, warn: o.warn };
    opts.plan = planIso9660(tree, opts);
    const r = await writeImageFile(out, opts.plan.size, o.sync, (dev) => writeIso9660(tree, dev, opts), o.container, {
      writeBehind: true,
    });
    return { bytes: r.bytes, details: withContainer(r.value, r.container) };
  },
};

function withContainer<T>(value: T, container: ContainerSummary | undefined): T | (T & { container: unknown }) {
  return container ? { ...value, container } : value;
}

/** squashfs to `out` (atomically), or inside a container through a raw spool file; mkfsTime from the epoch. */
export async function writeSquashfsOutput(tree: FileTree, out: CliOutput, o: TreeWriteOptions): Promise<WriteResult> {
  const opts: SquashfsFileOptions = {
    ...level(o),
    ...(o.epoch !== undefined ? { mkfsTime: o.epoch } : {}),
    progress: o.progress,
    warn: o.warn,
    sync: o.sync,
    ...o.squashfs,
  };
  const { writeSquashfsFile } = await import('../squashfs/write.js');
  if (!o.container) {
    const s = await writeSquashfsFile(tree, out.path, opts);
    return { bytes: statSync(out.path).size, details: s };
  }
  const r = await spoolToContainer(out.path, o.container, o.sync, (raw) => writeSquashfsFile(tree, raw, opts));
  return { bytes: r.container.fileSize, details: { ...r.value, container: r.container } };
}

/** Every format `repack --to` knows, by name. */
export const TREE_FORMATS: Record<string, TreeFormat> = {
  tar: {
    output: 'tar',
    suffixes: ['.tar'],
    image: false,
    write: stream(tar),
  },
  'tar.gz': {
    output: 'tar.gz',
    suffixes: ['.tar.gz', '.tgz'],
    image: false,
    write: stream(async (t, o) => gzipChunks(await tar(t, o), level(o))),
  },
  'tar.zst': {
    output: 'tar.zst',
    suffixes: ['.tar.zst', '.tzst'],
    image: false,
    write: stream(async (t, o) => zstdChunks(await tar(t, o), level(o))),
  },
  cpio: {
    output: 'cpio',
    suffixes: ['.cpio'],
    image: false,
    write: stream(cpio),
  },
  'cpio.gz': {
    output: 'cpio.gz',
    suffixes: ['.cpio.gz'],
    image: false,
    write: stream(async (t, o) => gzipChunks(await cpio(t, o), level(o))),
  },
  ext2: ext('ext2'),
  ext3: ext('ext3'),
  ext4: ext('ext4'),
  fat12: fat('fat12'),
  fat16: fat('fat16'),
  fat32: fat('fat32'),
  squashfs: { output: 'squashfs', suffixes: ['.sqfs', '.squashfs'], image: true, write: writeSquashfsOutput },
  erofs,
  iso9660,
};

/** The format `name` says by its ending (longest match), or undefined. */
export function treeFormatOfName(name: string): string | undefined {
  let best: [string, number] | undefined;
  for (const [k, f] of Object.entries(TREE_FORMATS))
    for (const s of f.suffixes) if (name.endsWith(s) && (!best || s.length > best[1])) best = [k, s.length];
  return best?.[0];
}

/**
 * The format to write `output` as: `to` when given (it must agree with the
 * name), else what the name says; a name that says nothing needs `--to`.
 * Container names (.qcow2) say nothing about the filesystem inside.
 */
export function treeFormatFor(output: string, to: string | undefined): [string, TreeFormat] {
  const named = output === '-' ? undefined : treeFormatOfName(output);
  if (to !== undefined && named !== undefined && to !== named)
    throw new UsageError(
      'E_USAGE_OUTPUT_NAME',
      `--to ${to} does not match the output name ${output} (which says ${named}): rename it, or leave --to out`,
      { field: '--to', expected: named, actual: to, path: output },
    );
  const key = to ?? named;
  if (key === undefined)
    throw new UsageError(
      'E_USAGE_FORMAT',
      `cannot tell the format from ${output === '-' ? 'standard output' : `the name ${output}`}: give --to ` +
        `(${Object.keys(TREE_FORMATS).join(', ')})`,
      { field: '--to', path: output },
    );
  const f = TREE_FORMATS[key]!;
  if (f.unavailable) throw new UsageError('E_USAGE_FORMAT', `${key}: ${f.unavailable}`, { field: '--to', actual: key });
  return [key, f];
}
