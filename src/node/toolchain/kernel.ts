/**
 * Build a Linux kernel image (x86 bzImage, arm64 Image with the device
 * trees of its enabled platforms) from a source tarball or tree, natively or
 * with Debian's cross compiler: extract once (cached),
 * out-of-tree build directory, base config + requested options, check every
 * requested option really ended up set, optional built-in initramfs and
 * command line, reproducible `make bzImage` / `make Image dtbs`, and a result cache keyed by
 * everything that goes in.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  readdirSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ToolError, UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { silentProgress } from '../../core/progress.js';
import {
  cachedFileHash,
  compilerVersion,
  defaultCacheDir,
  resolveSource,
  sha256,
  storeResult,
  withLock,
} from './cache.js';
import { readHead } from '../io/file.js';
import {
  explainUnsatisfied,
  parseDisable,
  parseDotConfig,
  parseEnable,
  scriptsConfigArgs,
  unsatisfied,
  type OptionRequest,
} from './kconfig.js';
import { compressionOptions, kernelPresetFor, KERNEL_PRESETS, type KernelPreset } from './presets.js';
import { prepareMake, requireTools, run, tarTools } from './run.js';
import { compilerFor, crossPrefix, TOOLCHAIN_ARCH } from './arch.js';
import type { Arch } from '../../core/arch.js';

/** Bump when the build procedure changes in a way that changes outputs. */
const RECIPE_VERSION = 1;

export interface BuildKernelOptions {
  /** Kernel source: a tarball (.tar.xz/.tar.gz/...) or an extracted tree. */
  source: string;
  /** Target architecture (default x86_64); another than the host's is cross-compiled (aarch64-linux-gnu-gcc). */
  arch?: Arch;
  /** Base configuration: a make target (tinyconfig, defconfig, allnoconfig) or a .config file. Default: the preset's base, else tinyconfig. */
  config?: string;
  /** Option set applied on top of the base: 'tiny' or 'disk'. */
  preset?: KernelPreset;
  /** Options to enable: NAME, NAME=y|m, NAME=123, NAME="string" (CONFIG_ prefix optional). Applied after the preset. */
  enable?: string[];
  /** Options to disable (NAME). Applied last. */
  disable?: string[];
  /** A cpio archive to build in (raw newc, or .gz/.xz compressed: used as is). */
  initramfs?: string;
  /** Built-in command line (CONFIG_CMDLINE_BOOL + CONFIG_CMDLINE). */
  cmdline?: string;
  /** Kernel and built-in initramfs compression (default xz: smallest). */
  compression?: 'xz' | 'gzip';
  /** make -j (default: number of CPUs). */
  jobs?: number;
  /** Cache root (default $TINYIMAGE_CACHE or ~/.cache/tinyimage). */
  cacheDir?: string;
  /** Build timestamp (seconds since 1970); default $SOURCE_DATE_EPOCH, else 0. */
  epoch?: number;
  progress?: Progress;
  /** Do not print anything (progress is also silenced). */
  quiet?: boolean;
  signal?: AbortSignal;
  /** C compiler (default gcc, or the cross compiler such as aarch64-linux-gnu-gcc). */
  cc?: string;
  /** Environment to take SOURCE_DATE_EPOCH / PATH from (default process.env). */
  env?: NodeJS.ProcessEnv;
}

export interface KernelBuildResult {
  /** Path of the kernel image inside the cache (copy it; do not modify): bzImage on x86, Image on arm64. */
  image: string;
  /** The same path (the name from before arm64). */
  bzImage: string;
  /** arm64: the installed device trees (make dtbs_install), when the config enables a platform that has some. */
  dtbs?: string;
  /** Path of the final .config inside the cache. */
  config: string;
  /** True when the result came from the cache without running make. */
  cached: boolean;
  /** Full make log (inside the cache). */
  log: string;
  /** Cache key (sha256 hex). */
  key: string;
}

const BASE_TARGETS = new Set(['tinyconfig', 'defconfig', 'allnoconfig', 'x86_64_defconfig']);

function isBaseTarget(c: string): boolean {
  return BASE_TARGETS.has(c) || (/^[\w.-]+config$/.test(c) && !existsSync(c));
}

/** File name the kernel's usr/Makefile understands: `.cpio` gets compressed per INITRAMFS_COMPRESSION_*, `.cpio.gz/.xz/...` is used as is. */
function initramfsName(path: string): string {
  const h = readHead(path, 6);
  const s = String.fromCharCode(...h);
  if (s.startsWith('07070')) return 'initramfs.cpio';
  if (h[0] === 0x1f && h[1] === 0x8b) return 'initramfs.cpio.gz';
  if (h[0] === 0xfd && s.slice(1, 6) === '7zXZ\0'.slice(0, 5)) return 'initramfs.cpio.xz';
  if (h[0] === 0x28 && h[1] === 0xb5 && h[2] === 0x2f && h[3] === 0xfd) return 'initramfs.cpio.zst';
  if (h[0] === 0x02 && h[1] === 0x21 && h[2] === 0x4c && h[3] === 0x18) return 'initramfs.cpio.lz4';
  if (h[0] === 0x5d && h[1] === 0x00) return 'initramfs.cpio.lzma';
  throw new UsageError('E_USAGE_INITRAMFS', `${path} is not a newc cpio archive (raw, gzip, xz, zstd, lz4 or lzma)`, {
    path,
  });
}

function kbuildTimestamp(epoch: number): string {
  // Same form as `date -u -d @EPOCH`: "Thu Jan  1 00:00:00 UTC 1970".
  const d = new Date(epoch * 1000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

export function resolveEpoch(epoch: number | undefined, env: NodeJS.ProcessEnv): number {
  if (epoch !== undefined) return epoch;
  const e = env.SOURCE_DATE_EPOCH;
  if (e !== undefined && /^\d+$/.test(e)) return Number(e);
  return 0;
}

/** All option requests in application order: preset, compression, initramfs/cmdline glue, user enable, user disable. */
export function kernelRequests(
  opts: Pick<BuildKernelOptions, 'preset' | 'enable' | 'disable' | 'cmdline' | 'compression' | 'arch'> & {
    initramfsPath?: string;
  },
): OptionRequest[] {
  const reqs: OptionRequest[] = [];
  if (opts.preset) {
    const p = kernelPresetFor(opts.preset, opts.arch);
    if (!p)
      throw new UsageError(
        'E_USAGE_PRESET',
        `unknown kernel preset '${opts.preset}' (expected ${Object.keys(KERNEL_PRESETS).join(' or ')})`,
        { actual: opts.preset },
      );
    for (const e of p.enable) reqs.push(parseEnable(e, `preset ${opts.preset}`));
    for (const d of p.disable) reqs.push(parseDisable(d, `preset ${opts.preset}`));
  }
  const compression = opts.compression ?? 'xz';
  if (compression !== 'xz' && compression !== 'gzip')
    throw new UsageError(
      'E_USAGE_COMPRESSION',
      `unknown kernel compression '${String(compression)}' (expected xz or gzip)`,
      { actual: compression },
    );
  const comp = compressionOptions(compression, opts.arch);
  // RD_* need BLK_DEV_INITRD; INITRAMFS_COMPRESSION_* also an initramfs source.
  const initrd =
    opts.initramfsPath !== undefined ||
    reqs.some((r) => r.name === 'BLK_DEV_INITRD' && r.value !== 'n') ||
    (opts.enable ?? []).some((e) => parseEnable(e).name === 'BLK_DEV_INITRD');
  for (const e of comp.enable) {
    if (e.startsWith('INITRAMFS_COMPRESSION_') && !opts.initramfsPath) continue;
    if (e.startsWith('RD_') && !initrd) continue;
    reqs.push(parseEnable(e, `compression ${compression}`));
  }
  if (opts.initramfsPath) {
    reqs.push(parseEnable('BLK_DEV_INITRD', 'initramfs'));
    reqs.push({ name: 'INITRAMFS_SOURCE', value: opts.initramfsPath, string: true, origin: 'initramfs' });
  } else {
    // Clear a value left in a reused build directory; invisible without BLK_DEV_INITRD, so not verified.
    reqs.push({ name: 'INITRAMFS_SOURCE', value: '', string: true, origin: 'initramfs', soft: true });
  }
  // x86 switches a built-in command line on with CMDLINE_BOOL; arm64 uses a non-empty CMDLINE when the
  // boot loader passes none (CMDLINE_FROM_BOOTLOADER, its default)
  const x86 = (opts.arch ?? 'x86_64') === 'x86_64';
  if (opts.cmdline !== undefined) {
    if (x86) reqs.push(parseEnable('CMDLINE_BOOL', 'cmdline'));
    reqs.push({ name: 'CMDLINE', value: opts.cmdline, string: true, origin: 'cmdline' });
  } else if (x86) {
    reqs.push(parseDisable('CMDLINE_BOOL', 'cmdline'));
  } else {
    reqs.push({ name: 'CMDLINE', value: '', string: true, origin: 'cmdline' });
  }
  for (const e of opts.enable ?? []) reqs.push(parseEnable(e));
  for (const d of opts.disable ?? []) reqs.push(parseDisable(d));
  return reqs;
}

function estimateFile(cacheDir: string): string {
  return join(cacheDir, 'kernel-estimates.json');
}

function readEstimate(cacheDir: string, slot: string): number | undefined {
  try {
    const j = JSON.parse(readFileSync(estimateFile(cacheDir), 'utf8')) as Record<string, number>;
    return j[slot];
  } catch {
    return undefined;
  }
}

function writeEstimate(cacheDir: string, slot: string, n: number): void {
  let j: Record<string, number> = {};
  try {
    j = JSON.parse(readFileSync(estimateFile(cacheDir), 'utf8')) as Record<string, number>;
  } catch {
    /* first */
  }
  j[slot] = n;
  writeFileSync(estimateFile(cacheDir), JSON.stringify(j, null, 1));
}

export async function buildKernel(opts: BuildKernelOptions): Promise<KernelBuildResult> {
  const env = opts.env ?? process.env;
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir(env));
  const progress = opts.quiet ? silentProgress : (opts.progress ?? silentProgress);
  const arch = opts.arch ?? 'x86_64';
  const ta = TOOLCHAIN_ARCH[arch];
  const compiler = opts.cc ? { command: opts.cc, debian: 'gcc' } : compilerFor(arch);
  const cc = compiler.command;
  const cross = opts.cc ? '' : crossPrefix(arch);
  const jobs = opts.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new UsageError('E_USAGE_JOBS', `jobs must be a positive integer, got ${jobs}`, { actual: jobs });
  const epoch = resolveEpoch(opts.epoch, env);
  const preset = opts.preset;
  const presetDef = preset ? kernelPresetFor(preset, arch) : undefined;
  const base = opts.config ?? presetDef?.base ?? 'tinyconfig';
  if (opts.initramfs !== undefined && !existsSync(opts.initramfs))
    throw new UsageError('E_USAGE_INITRAMFS', `initramfs '${opts.initramfs}' does not exist`, { path: opts.initramfs });
  const baseIsFile = !isBaseTarget(base);
  if (baseIsFile && !existsSync(base))
    throw new UsageError(
      'E_USAGE_CONFIG',
      `kernel config '${base}' is neither a make target (tinyconfig, defconfig, ...) nor an existing file`,
      { path: base },
    );
  mkdirSync(cacheDir, { recursive: true });

  // Validate options before any slow work.
  const initName = opts.initramfs !== undefined ? initramfsName(opts.initramfs) : undefined;
  kernelRequests({ ...opts, initramfsPath: initName });
  requireTools(
    'building the kernel',
    [
      { command: 'make', debian: 'make' },
      compiler,
      ...(cross ? [{ command: 'gcc', debian: 'gcc' }] : []),
      { command: 'flex', debian: 'flex' },
      { command: 'bison', debian: 'bison' },
      { command: 'bc', debian: 'bc' },
      { command: 'perl', debian: 'perl' },
      (opts.compression ?? 'xz') === 'xz' ? { command: 'xz', debian: 'xz-utils' } : { command: 'gzip', debian: 'gzip' },
      ...tarTools(opts.source),
    ],
    env,
  );

  progress.start('hashing kernel source');
  const src = await resolveSourceWithProgress(opts.source, cacheDir, opts.signal, progress);
  const gccVersion = await compilerVersion(cc, env);
  const initHash = opts.initramfs !== undefined ? await cachedFileHash(cacheDir, opts.initramfs) : null;
  const baseId = baseIsFile ? sha256(readFileSync(base)) : base;
  const key = sha256(
    JSON.stringify({
      recipe: RECIPE_VERSION,
      source: src.id,
      base: baseId,
      ...(arch !== 'x86_64' ? { arch } : {}),
      preset: preset ?? null,
      presetOptions: presetDef ? { base: presetDef.base, enable: presetDef.enable, disable: presetDef.disable } : null,
      enable: opts.enable ?? [],
      disable: opts.disable ?? [],
      compression: opts.compression ?? 'xz',
      initramfs: initHash,
      initramfsName: initName ?? null,
      cmdline: opts.cmdline ?? null,
      compiler: gccVersion,
      cc,
      epoch,
    }),
  );
  const resultDir = join(cacheDir, 'kernel', key.slice(0, 32));
  const imageName = ta.kernelTarget;
  const result = (cached: boolean): KernelBuildResult => ({
    image: join(resultDir, imageName),
    bzImage: join(resultDir, imageName),
    ...(existsSync(join(resultDir, 'dtbs')) ? { dtbs: join(resultDir, 'dtbs') } : {}),
    config: join(resultDir, 'config'),
    log: join(resultDir, 'build.log'),
    cached,
    key,
  });
  if (existsSync(join(resultDir, imageName)) && existsSync(join(resultDir, 'config'))) {
    progress.done();
    return result(true);
  }

  const archSuffix = arch === 'x86_64' ? '' : `-${arch}`;
  const slot = `${src.id.slice(0, 16)}-${preset ?? (baseIsFile ? 'file' : base)}${archSuffix}`;
  const buildDir = join(cacheDir, 'kernel-build', slot);
  return withLock(
    cacheDir,
    `kernel-build-${slot}`,
    async () => {
      if (existsSync(join(resultDir, imageName))) return result(true);
      // Only a from-scratch build gives a usable object count for progress estimates.
      const fresh = !existsSync(join(buildDir, 'vmlinux.o'));
      const { logFile, makeEnv } = prepareMake(buildDir, env, epoch, {
        KBUILD_BUILD_TIMESTAMP: kbuildTimestamp(epoch),
        KBUILD_BUILD_VERSION: '1',
        ARCH: ta.kbuild,
        ...(cross ? { CROSS_COMPILE: cross } : {}),
      });
      const make = (args: string[], onLine?: (l: string) => void) =>
        run('make', ['-C', src.dir, `O=${buildDir}`, ...(opts.cc && cc !== 'gcc' ? [`CC=${cc}`] : []), ...args], {
          env: makeEnv,
          logFile,
          signal: opts.signal,
          onLine,
        });

      // 1. base configuration
      progress.start('configuring kernel');
      const dotConfig = join(buildDir, '.config');
      if (baseIsFile) {
        copyFileSync(base, dotConfig);
        await make(['olddefconfig']);
      } else {
        await make([base]);
      }
      // 2. initramfs file next to the build (the kernel decides compression by its name)
      let initPath: string | undefined;
      if (opts.initramfs !== undefined) {
        initPath = join(buildDir, initName!);
        for (const n of [
          'initramfs.cpio',
          'initramfs.cpio.gz',
          'initramfs.cpio.xz',
          'initramfs.cpio.zst',
          'initramfs.cpio.lz4',
          'initramfs.cpio.lzma',
        ])
          rmSync(join(buildDir, n), { force: true });
        copyFileSync(opts.initramfs, initPath);
      }
      const reqs = kernelRequests({ ...opts, arch, initramfsPath: initPath });
      // 3. apply options; twice olddefconfig so options revealed by the first pass (e.g. INITRAMFS_COMPRESSION_* after INITRAMFS_SOURCE) apply.
      for (let pass = 0; pass < 2; pass++) {
        await run(join(src.dir, 'scripts', 'config'), ['--file', dotConfig, ...scriptsConfigArgs(reqs)], {
          env: makeEnv,
          logFile,
          signal: opts.signal,
        });
        await make(['olddefconfig']);
      }
      // 4. check
      const final = parseDotConfig(readFileSync(dotConfig, 'utf8'));
      const bad = unsatisfied(reqs, final);
      if (bad.length) {
        const why = explainUnsatisfied(src.dir, bad, final, { arch: ta.kconfigDir });
        const lines = why.map((w) => `  ${w.name}: wanted ${w.wanted}, got ${w.actual}: ${w.reason}`);
        throw new ToolError(
          'E_TOOL_KCONFIG',
          `${bad.length} requested kernel option${bad.length > 1 ? 's' : ''} could not be set:\n${lines.join('\n')}`,
          { options: why, config: dotConfig },
        );
      }
      // 5. build
      const estimate =
        readEstimate(cacheDir, slot) ??
        readEstimate(cacheDir, `${preset ?? base}${archSuffix}`) ??
        (presetDef ? presetDef.estimatedObjects : base === 'tinyconfig' ? 900 : 2500);
      progress.start('compiling kernel', estimate, 'objects');
      let objects = 0;
      await make([`-j${jobs}`, ta.kernelTarget, ...(ta.dtbs ? ['dtbs'] : [])], (l) => {
        if (/^\s+CC\s/.test(l)) {
          objects++;
          progress.tick(1);
        }
      });
      progress.done();
      const bz = join(buildDir, ta.kernelImage);
      if (!existsSync(bz))
        throw new ToolError('E_TOOL_FAILED', `make ${ta.kernelTarget} succeeded but ${bz} is missing`, { path: bz });
      if (fresh) {
        writeEstimate(cacheDir, slot, objects);
        writeEstimate(cacheDir, `${preset ?? base}${archSuffix}`, objects);
      }
      const dtbs = ta.dtbs ? await installDtbs(make, buildDir) : {};
      storeResult(resultDir, {
        ...dtbs,
        [imageName]: readFileSync(bz),
        config: readFileSync(dotConfig),
        'build.log': readFileSync(logFile),
        'inputs.json': JSON.stringify(
          {
            source: opts.source,
            sourceId: src.id,
            base,
            preset,
            enable: opts.enable,
            disable: opts.disable,
            cmdline: opts.cmdline,
            initramfs: opts.initramfs,
            compiler: gccVersion,
            arch,
            epoch,
            size: statSync(bz).size,
          },
          null,
          1,
        ),
      });
      return result(false);
    },
    { signal: opts.signal },
  );
}

/**
 * The device trees the build made (arm64: those of the platforms the config
 * enables, none for tinyconfig), installed as a kernel package lays them out
 * (broadcom/*.dtb, ...), keyed 'dtbs/<path>' for storeResult.
 */
async function installDtbs(
  make: (args: string[]) => Promise<unknown>,
  buildDir: string,
): Promise<Record<string, Uint8Array>> {
  const dir = join(buildDir, 'dtbs-install');
  rmSync(dir, { recursive: true, force: true });
  await make([`INSTALL_DTBS_PATH=${dir}`, 'dtbs_install']);
  const out: Record<string, Uint8Array> = {};
  if (!existsSync(dir)) return out;
  for (const rel of readdirSync(dir, { recursive: true, encoding: 'utf8' })) {
    const p = join(dir, rel);
    if (statSync(p).isFile()) out[`dtbs/${rel}`] = readFileSync(p);
  }
  return out;
}

async function resolveSourceWithProgress(
  source: string,
  cacheDir: string,
  signal: AbortSignal | undefined,
  progress: Progress,
) {
  return resolveSource(source, cacheDir, {
    signal,
    expect: 'Kbuild',
    what: 'kernel',
    logFile: join(cacheDir, 'extract.log'),
    onExtract: () => progress.start('extracting kernel source (once per tarball)'),
  });
}
