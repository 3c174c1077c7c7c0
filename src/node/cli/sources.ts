/**
 * What the writing commands share: the source tree options, a sparse image
 * file behind a BlockDevice, and the toolchain builds' options.
 */
import { copyFileSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { UsageError } from '../../core/errors.js';
import { TreeView } from '../../core/open/view.js';
import type { BlockDevice } from '../../core/io/device.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../core/tree/transform.js';
import type { FileTree } from '../../core/tree/tree.js';
import { checkOutputDir, withOutputFile } from '../host/output.js';
import { treeFromCpioListFile } from '../host/tree.js';
import {
  openSource,
  parseSourceRef,
  sniffFile,
  stackSources,
  type OpenedSource,
  type SourceKind,
  type SourceOptions,
} from '../host/source.js';
import type { DiskImage, OpenedImage } from '../open.js';
import { FileDevice } from '../io/file.js';
import type { ContainerOptions, ContainerSummary } from '../../core/container/types.js';
import type { CommandContext } from './command.js';
import type { CliOutput } from './output.js';
import type { OptionTable, Owner } from './options.js';

/** --root SRC... | --list FILE (declare `oneOf: [['root', 'list']]` with them). */
export const SOURCE_OPTIONS = {
  root: {
    type: 'path',
    value: 'SRC',
    repeatable: true,
    help:
      'the root directory: a directory, a tar or cpio archive (any codec), an image or IMAGE:N, - (standard ' +
      'input), oci:DIR[:TAG] or docker-archive:FILE[:REF]; repeat to stack (later wins, whiteouts honoured)',
  },
  list: { type: 'path', value: 'FILE', help: 'what a gen_init_cpio list describes (device nodes need no root)' },
} as const satisfies OptionTable;

/** What the source commands pass to openSource: standard input, warnings and progress from the command. */
export function sourceOptions(ctx: CommandContext): SourceOptions {
  return { ...(ctx.stdin ? { stdin: ctx.stdin } : {}), warn: ctx.warn, progress: ctx.progress };
}

/** Several sources stacked into one tree (later wins); '-' at most once. */
export async function openStack(specs: string[], ctx: CommandContext, option = '--root'): Promise<OpenedSource> {
  if (specs.filter((s) => s === '-').length > 1)
    throw new UsageError('E_USAGE_SOURCE', `${option} -: standard input can be read only once`, { field: option });
  ctx.log(`reading ${specs.join(' + ')}`);
  return stackSources(specs, sourceOptions(ctx));
}

export interface SourceTree {
  tree: FileTree;
  epoch: number | undefined;
  /** Release the sources (archives, spools, images); the tree's contents cannot be read after. */
  close(): void;
}

/** The source tree with --owner and SOURCE_DATE_EPOCH applied; close() it when the output is written. */
export async function sourceTree(
  values: { root?: string[] | undefined; list?: string | undefined; owner?: Owner | undefined },
  ctx: CommandContext,
): Promise<SourceTree> {
  const epoch = sourceDateEpoch(ctx.env);
  let tree: FileTree;
  let close = () => {};
  if (values.root?.length) {
    const s = await openStack(values.root, ctx);
    ({ tree, close } = s);
  } else {
    ctx.log(`reading list ${values.list}`);
    tree = treeFromCpioListFile(values.list!, { defaultTime: epoch ?? 0, env: ctx.env });
  }
  if (values.owner) squashOwner(tree, values.owner.uid, values.owner.gid);
  if (epoch !== undefined) clampTimes(tree, epoch);
  return { tree, epoch, close };
}

/** Run `fn` on the source tree, closing the sources after (also on failure). */
export async function withSourceTree<T>(
  values: { root?: string[] | undefined; list?: string | undefined; owner?: Owner | undefined },
  ctx: CommandContext,
  fn: (s: SourceTree) => Promise<T>,
): Promise<T> {
  const s = await sourceTree(values, ctx);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** What a reading command opened: an image (with disks and containers) or any other source, as a tree view. */
export type ReadSource =
  | OpenedImage
  | (TreeView & {
      kind: SourceKind;
      info: Record<string, unknown>;
      offset: number;
      size: number;
      warnings: string[];
      close(): void;
      container?: undefined;
    });

export function isDiskSource(s: ReadSource): s is OpenedImage & DiskImage {
  return s.kind === 'mbr' || s.kind === 'gpt';
}

/** The image or tree of a reading command's argument, not a whole disk (which names a partition instead). */
export function fsOf(s: ReadSource, ref: string): Exclude<ReadSource, DiskImage> {
  if (isDiskSource(s))
    throw new UsageError('E_USAGE_IS_DISK', `${ref} is a partitioned disk; name a partition, e.g. ${ref}:1`, {
      path: ref,
    });
  return s as Exclude<ReadSource, DiskImage>;
}

/**
 * Open what `ls`, `cat`, `extract`, `diff` and `inspect` read: images
 * (filesystems, cpio, disks, `IMAGE:N`, containers) through openImage,
 * everything else a source names (directories, tar in any codec, compressed
 * cpio, `-`, `oci:`, `docker-archive:`) through openSource.
 */
export async function openReadSource(ref: string, ctx: CommandContext): Promise<ReadSource> {
  const r = parseSourceRef(ref);
  if (r.kind === 'path') {
    const { openImage, parseImageRef } = await import('../open.js');
    const st = statSync(r.path, { throwIfNoEntry: false });
    const image = parseImageRef(r.path);
    if (st === undefined && image.partition !== undefined) return openImage(ref);
    if (st?.isFile() || st?.isBlockDevice()) {
      const k = await sniffFile(r.path);
      if (k.inner === 'other' || (k.inner === 'cpio' && (k.codec === 'none' || k.codec === 'gzip')))
        return openImage(ref);
    }
  }
  const s = await openSource(ref, sourceOptions(ctx));
  const info = { source: s.kind, ...(s.codec ? { codec: s.codec } : {}), spooled: s.spooled };
  // an archive file's own size; a directory, a layout or standard input: the bytes of its files
  const file = r.kind === 'path' ? statSync(r.path, { throwIfNoEntry: false }) : undefined;
  return Object.assign(new TreeView(s.tree), {
    kind: s.kind,
    info,
    offset: 0,
    size: file?.isFile() ? file.size : s.tree.stats().bytes,
    warnings: s.warnings,
    close: () => s.close(),
  });
}

/**
 * A sparse image file of `size` bytes written atomically through `out`, or
 * with `container` the same image built straight into a container file.
 * fsync only with `sync`: like cp and mcopy the image is complete when the
 * rename happens; durability across a power cut is left to the page cache.
 * With `writeBehind` (the writers that fill lent buffers front to back: FAT,
 * ISO 9660) a worker thread writes while the writer reads the next files
 * (FileDevice); the ext4 writer's own writes measured more CPU for no wall
 * time that way (docs/benchmarks.md).
 * Returns the writer's value and the bytes of the file written.
 */
export async function writeImageFile<T>(
  out: CliOutput,
  size: number,
  sync: boolean,
  write: (dev: BlockDevice) => Promise<T>,
  container?: ContainerOptions,
  opts: { writeBehind?: boolean } = {},
): Promise<{ value: T; bytes: number; container?: ContainerSummary }> {
  if (container) {
    const { writeContainerImage } = await import('./container.js');
    const r = await writeContainerImage(out.path, size, container, sync, write);
    return { ...r, bytes: r.container.fileSize };
  }
  const value = await out.writeFile(async (tmp) => {
    const file = FileDevice.create(tmp, size, { writeBehind: opts.writeBehind === true });
    const dev: BlockDevice = {
      size: file.size,
      readAt: (o, l) => file.readAt(o, l),
      writeAt: (o, d) => file.writeAt(o, d),
      ...(opts.writeBehind ? { lend: (n: number) => file.lend(n) } : {}),
      ...(opts.writeBehind ? { writeLent: (o: number, b: Uint8Array, n: number) => file.writeLent(o, b, n) } : {}),
      flush: () => {
        if (sync) file.flush();
      },
    };
    let r: T;
    try {
      r = await write(dev);
    } catch (e) {
      file.close({ quiet: true });
      throw e;
    }
    // waits for the last writes: a failed one throws here, and the output is removed
    file.close();
    return r;
  });
  return { value, bytes: size };
}

/** Options shared by `kernel build` and `busybox build`. */
export const TOOLCHAIN_OPTIONS = {
  enable: {
    type: 'string',
    value: 'OPT',
    repeatable: true,
    help: 'set an option: NAME, NAME=m, NAME=123, NAME="text"',
  },
  disable: { type: 'string', value: 'OPT', repeatable: true, help: 'unset an option' },
  jobs: { type: 'integer', short: 'j', min: 1, help: 'parallel make jobs (default: number of CPUs)' },
  saveConfig: { type: 'path', value: 'FILE', help: 'also write the final .config here' },
  cache: { type: 'path', value: 'DIR', help: 'cache directory (default $TINYIMAGE_CACHE or ~/.cache/tinyimage)' },
  arch: {
    type: 'enum',
    choices: ['x86_64', 'arm64'],
    default: 'x86_64',
    help: "target architecture; another than the host's is cross-compiled (gcc-aarch64-linux-gnu)",
  },
} as const satisfies OptionTable;

/** What `kernel build` and `busybox build` pass alike to the toolchain (--save-config's directory checked first). */
export function toolchainInputs(
  v: {
    enable: string[];
    disable: string[];
    jobs?: number | undefined;
    cache?: string | undefined;
    saveConfig?: string | undefined;
    arch: 'x86_64' | 'arm64';
  },
  ctx: CommandContext,
) {
  if (v.saveConfig !== undefined) checkOutputDir(dirname(v.saveConfig), v.saveConfig);
  const epoch = sourceDateEpoch(ctx.env);
  const common = { enable: v.enable, disable: v.disable, jobs: v.jobs, cacheDir: v.cache, epoch, arch: v.arch };
  return { ...common, progress: ctx.progress, quiet: ctx.quiet, env: ctx.env };
}

/** Copy a toolchain build's product to the output (and its .config to --save-config), then the summary line. */
export async function writeToolchainProduct(
  out: CliOutput,
  product: string,
  r: { config: string; cached: boolean },
  saveConfig: string | undefined,
  mode?: number,
): Promise<void> {
  const bytes = await out.copyFile(product, mode);
  if (saveConfig !== undefined) await withOutputFile(saveConfig, (tmp) => copyFileSync(r.config, tmp));
  out.done({ bytes, note: r.cached ? 'from cache' : 'built', details: { cached: r.cached } });
}
