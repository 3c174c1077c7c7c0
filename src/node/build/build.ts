/**
 * Orchestration: turn a validated Spec into output files. This is the
 * application layer: it reads host files (kernel, busybox, directories),
 * calls the pure formats and the toolchain, and writes outputs atomically.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkEfiKernel } from '../../core/boot/uki.js';
import { concatChunks } from '../../core/compress/gzip.js';
import { TinyImageError, UsageError } from '../../core/errors.js';
import { parseListFull, readBusyboxApplets, type Applet } from '../../core/busybox/applets.js';
import { hostError } from '../io/file.js';
import { writeChunksToFile } from '../host/stream.js';
import { prepareOutputDir, withOutputFile } from '../host/output.js';
import { FileDevice } from '../io/file.js';
import type { BlockDevice } from '../../core/io/device.js';
import { containerFor, containerWhat, DISK_EXTENSIONS, writeContainerImage } from '../container/output.js';
import { compressionForName } from '../../core/compress/suffix.js';
import { treeFromHostDir } from '../host/tree.js';
import { silentProgress, type Progress } from '../../core/progress.js';
import { clampTimes, sourceDateEpoch, squashOwner } from '../../core/tree/transform.js';
import type { FileTree } from '../../core/tree/tree.js';
import type { Spec } from './spec.js';
import type { Arch } from '../../core/arch.js';
import { checkBuildArch, DEFAULT_ARCH } from './arch.js';

export interface BuildOptions {
  outDir: string;
  progress?: Progress;
  warn?: (message: string) => void;
  /** Informational messages ("building kernel ..."). */
  log?: (message: string) => void;
  env?: NodeJS.ProcessEnv;
  quiet?: boolean;
  jobs?: number;
}

export interface BuildOutput {
  name: string;
  path: string;
  size: number;
  description: string;
}
export interface BuildResult {
  outputs: BuildOutput[];
  partuuid?: string;
}

export interface BuildContext {
  spec: Spec;
  /** The architecture every part is for (spec.arch, default x86_64). */
  arch: Arch;
  opts: BuildOptions;
  epoch: number | undefined;
  progress: Progress;
  log: (m: string) => void;
  warn: (m: string) => void;
  outputs: BuildOutput[];
}

export function readHostFile(path: string, what: string): Uint8Array {
  try {
    const st = statSync(path);
    if (!st.isFile()) throw new UsageError('E_USAGE_NOT_FILE', `${what} ${path} is not a regular file`, { path });
    return readFileSync(path);
  } catch (e) {
    if (e instanceof UsageError) throw e;
    throw hostError(e, path, `read ${what}`);
  }
}

export function hostDir(path: string, what: string): FileTree {
  if (!existsSync(path)) throw new UsageError('E_USAGE_NOT_FOUND', `${what} ${path} does not exist`, { path });
  return treeFromHostDir(path);
}

/** The busybox binary: a host file, or built from source by the toolchain. */
export async function resolveBusybox(ctx: BuildContext): Promise<Uint8Array> {
  const b = ctx.spec.busybox;
  if (b === undefined)
    throw new UsageError(
      'E_USAGE_SPEC',
      `the '${ctx.spec.kind}' build needs a busybox: --busybox BIN or 'busybox:' in the spec (a path, or { build: { source: TARBALL } })`,
      { field: 'busybox' },
    );
  if (typeof b === 'string') return readHostFile(b, 'busybox binary');
  const { buildBusybox } = await import('../toolchain/index.js');
  // the tiny UEFI system and the live ISO get the trimmed applet set unless the spec names a config
  const tiny = ctx.spec.kind === 'uefi' || ctx.spec.kind === 'iso';
  ctx.log(
    `building busybox from ${b.build.source} (${ctx.arch}, ${b.build.libc ?? 'default libc'}, ${b.build.config ?? (tiny ? 'tiny' : 'defconfig')})`,
  );
  const config = b.build.config ?? (tiny ? 'tiny' : undefined);
  const r = await buildBusybox({
    source: b.build.source,
    arch: ctx.arch,
    ...(config ? { config } : {}),
    ...(b.build.libc ? { libc: b.build.libc } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    ...(ctx.opts.jobs ? { jobs: ctx.opts.jobs } : {}),
    progress: ctx.progress,
    quiet: ctx.opts.quiet ?? false,
    ...(ctx.opts.env ? { env: ctx.opts.env } : {}),
  });
  ctx.log(`busybox: ${r.binary}${r.cached ? ' (cached)' : ''}`);
  return readHostFile(r.binary, 'busybox binary');
}

/** The kernel image: a host file, or built from source (with an optional built-in initramfs and cmdline). */
export async function resolveKernel(
  ctx: BuildContext,
  builtIn?: { initramfs?: string; cmdline?: string },
): Promise<{ bytes: Uint8Array; fromSource: boolean; dtbs?: string }> {
  const k = ctx.spec.kernel;
  if (k === undefined)
    throw new UsageError(
      'E_USAGE_SPEC',
      `the '${ctx.spec.kind}' build needs a kernel: --kernel FILE or 'kernel:' in the spec (a path, or { build: { source: TARBALL } })`,
      { field: 'kernel' },
    );
  if (typeof k === 'string') return { bytes: readHostFile(k, 'kernel image'), fromSource: false };
  const { buildKernel } = await import('../toolchain/index.js');
  const preset = k.build.preset ?? ctx.spec.kernelPreset;
  ctx.log(
    `building kernel from ${k.build.source} (${ctx.arch}, ${k.build.config ?? 'tinyconfig'}${preset ? ` + ${preset} options` : ''})`,
  );
  const r = await buildKernel({
    source: k.build.source,
    arch: ctx.arch,
    ...(k.build.config ? { config: k.build.config } : {}),
    ...(preset ? { preset } : {}),
    ...(k.build.enable ? { enable: k.build.enable } : {}),
    ...(k.build.disable ? { disable: k.build.disable } : {}),
    ...((k.build.jobs ?? ctx.opts.jobs) ? { jobs: k.build.jobs ?? ctx.opts.jobs } : {}),
    ...(builtIn?.initramfs ? { initramfs: builtIn.initramfs } : {}),
    ...(builtIn?.cmdline ? { cmdline: builtIn.cmdline } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
    progress: ctx.progress,
    quiet: ctx.opts.quiet ?? false,
    ...(ctx.opts.env ? { env: ctx.opts.env } : {}),
  });
  ctx.log(`kernel: ${r.image}${r.cached ? ' (cached)' : ''}`);
  return {
    bytes: readHostFile(r.image, 'kernel image'),
    fromSource: true,
    ...(r.dtbs ? { dtbs: r.dtbs } : {}),
  };
}

/**
 * The kernel built from source with `tree` as its built-in initramfs (an
 * uncompressed newc archive: the kernel build compresses it itself) and
 * `cmdline`, checked to be an EFI executable.
 */
export async function kernelWithBuiltInInitramfs(
  ctx: BuildContext,
  tree: FileTree,
  cmdline: string,
): Promise<Uint8Array> {
  const { initramfsChunks } = await import('../../core/initramfs/tiny.js');
  const tmp = mkdtempSync(join(tmpdir(), 'tinyimage-initramfs-'));
  try {
    const cpioPath = join(tmp, 'initramfs.cpio');
    writeFileSync(cpioPath, await concatChunks(initramfsChunks(tree, { compress: 'none' })));
    const k = await resolveKernel(ctx, { initramfs: cpioPath, cmdline });
    checkEfiKernel(k.bytes);
    return k.bytes;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Apply the spec's owner and SOURCE_DATE_EPOCH to a tree. */
export function finishTree(ctx: BuildContext, tree: FileTree): FileTree {
  if (ctx.spec.owner) {
    const [u, g] = ctx.spec.owner.split(':').map(Number) as [number, number];
    squashOwner(tree, u, g);
  }
  if (ctx.epoch !== undefined) clampTimes(tree, ctx.epoch);
  return tree;
}

/**
 * The applets of a busybox binary, read from its own tables; when they
 * cannot be found (an unusual build), `busybox --list-full` is run instead,
 * through the toolchain runner, provided the binary is a host file.
 */
export async function busyboxApplets(ctx: BuildContext, busybox: Uint8Array): Promise<Applet[]> {
  try {
    return readBusyboxApplets(busybox);
  } catch (e) {
    const path = typeof ctx.spec.busybox === 'string' ? ctx.spec.busybox : undefined;
    if (!(e instanceof TinyImageError) || e.code !== 'E_FORMAT_BUSYBOX' || !path) throw e;
    ctx.warn(`${e.message}; running '${path} --list-full' instead`);
    const { run } = await import('../toolchain/run.js');
    const r = await run(path, ['--list-full'], { captureStdout: true });
    return parseListFull(r.stdout);
  }
}

/** The tiny initramfs tree of the spec (busybox + /init + optional extra directory). */
export async function initramfsTree(ctx: BuildContext, busybox: Uint8Array): Promise<FileTree> {
  const { tinyInitramfsTree } = await import('../../core/initramfs/tiny.js');
  const i = ctx.spec.initramfs ?? {};
  const tree = tinyInitramfsTree({
    busybox,
    applets: await busyboxApplets(ctx, busybox),
    ...(i.init ? { init: readHostFile(i.init, 'init script') } : {}),
    ...(i.add ? { add: hostDir(i.add, 'initramfs.add directory') } : {}),
    ...(ctx.epoch !== undefined ? { epoch: ctx.epoch } : {}),
  });
  return finishTree(ctx, tree);
}

export async function record(
  ctx: BuildContext,
  name: string,
  description: string,
  write: (path: string) => Promise<unknown>,
): Promise<string> {
  const path = join(ctx.opts.outDir, name);
  await write(path);
  ctx.outputs.push({ name, path, size: statSync(path).size, description });
  return path;
}

/**
 * The spec's disk image, raw or straight into the container `disk.format`
 * (or the output's name) says: named `disk.output`, else BASE.img, BASE.qcow2,
 * BASE.vhd, BASE.vmdk or BASE.simg. Written atomically; returns its path.
 */
export async function recordDisk(
  ctx: BuildContext,
  base: string,
  description: string,
  size: number,
  write: (dev: BlockDevice) => Promise<number | void>,
): Promise<string> {
  const d = ctx.spec.disk;
  const want = { format: d?.format, subformat: d?.subformat };
  const name = d?.output ?? `${base}.${DISK_EXTENSIONS[d?.format ?? 'raw']}`;
  const c = containerFor(name, want, 'disk.format', ctx.epoch);
  return record(ctx, name, containerWhat(description, c), async (path) => {
    if (c) return writeContainerImage(path, size, c, false, write);
    return withOutputFile(path, async (tmp) => {
      const dev = FileDevice.create(tmp, size);
      let used: number | void;
      try {
        used = await write(dev);
        dev.flush();
      } finally {
        dev.close();
      }
      // a disk planned at an upper bound (a compressed root) ends where its data does
      if (typeof used === 'number' && used < size) truncateSync(tmp, used);
    });
  });
}

async function buildInitramfs(ctx: BuildContext): Promise<void> {
  const { initramfsChunks } = await import('../../core/initramfs/tiny.js');
  // the name says what is written: compress and output agree, or the build stops here
  const given = ctx.spec.initramfs?.output;
  const compress = compressionForName(given ?? '', ctx.spec.initramfs?.compress, 'gzip', 'initramfs.compress');
  const name = given ?? (compress === 'gzip' ? 'initramfs.cpio.gz' : 'initramfs.cpio');
  const busybox = await resolveBusybox(ctx);
  const tree = await initramfsTree(ctx, busybox);
  ctx.progress.start('writing initramfs', tree.stats().bytes, 'bytes');
  await record(ctx, name, `initramfs (newc cpio${compress === 'gzip' ? ', gzip' : ''})`, (p) =>
    writeChunksToFile(p, initramfsChunks(tree, { compress, progress: ctx.progress })),
  );
  ctx.progress.done();
}

export async function build(spec: Spec, opts: BuildOptions): Promise<BuildResult> {
  const env = opts.env ?? process.env;
  const arch = spec.arch ?? DEFAULT_ARCH;
  // every part given as a file is for the build's architecture, or nothing is written
  checkBuildArch(arch, {
    kernel: spec.kernel,
    busybox: spec.busybox,
    ...(spec.kind === 'uefi' || spec.kind === 'iso' ? { stub: spec.uki?.stub } : {}),
  });
  const ctx: BuildContext = {
    spec,
    arch,
    opts,
    epoch: sourceDateEpoch(env),
    progress: opts.progress ?? silentProgress,
    log: opts.log ?? (() => {}),
    warn: opts.warn ?? (() => {}),
    outputs: [],
  };
  // DIR is made when missing (its parent must exist), and removed again if a failure leaves it empty
  const removeIfEmpty = prepareOutputDir(opts.outDir);
  try {
    const partuuid = await buildKind(ctx);
    return { outputs: ctx.outputs, ...(partuuid ? { partuuid } : {}) };
  } catch (e) {
    removeIfEmpty();
    throw e;
  }
}

async function buildKind(ctx: BuildContext): Promise<string | undefined> {
  switch (ctx.spec.kind) {
    case 'initramfs':
      await buildInitramfs(ctx);
      return undefined;
    case 'uefi': {
      const { buildUefiKind } = await import('./uefi.js');
      await buildUefiKind(ctx);
      return undefined;
    }
    case 'bios': {
      const { buildBiosKind } = await import('./bios.js');
      return buildBiosKind(ctx);
    }
    case 'rpi': {
      const { buildRpiKind } = await import('./rpi.js');
      return buildRpiKind(ctx);
    }
    case 'iso': {
      const { buildIsoKind } = await import('./iso.js');
      await buildIsoKind(ctx);
      return undefined;
    }
    case 'disk': {
      const { buildDiskKind } = await import('./disk.js');
      await buildDiskKind(ctx);
      break;
    }
  }
}
