/**
 * Build a static busybox from a source tarball or tree, with glibc (gcc
 * -static) or musl (musl-gcc + sanitized kernel headers). Cached like the
 * kernel: a second identical build is a cache lookup.
 */
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { availableParallelism } from 'node:os';
import { join, resolve } from 'node:path';
import { ToolError, UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';
import { silentProgress } from '../../core/progress.js';
import { compilerVersion, defaultCacheDir, resolveSource, sha256, storeResult, withLock } from './cache.js';
import {
  applyToDotConfig,
  parseDisable,
  parseDotConfig,
  parseEnable,
  unsatisfied,
  explainUnsatisfied,
  type OptionRequest,
} from './kconfig.js';
import { resolveEpoch } from './kernel.js';
import { BUSYBOX_TINY_ENABLE } from './presets.js';
import { have, prepareMake, requireTools, run, tarTools } from './run.js';
import { crossPrefix, requireCrossLibc, TOOLCHAIN_ARCH } from './arch.js';
import type { Arch } from '../../core/arch.js';

const RECIPE_VERSION = 1;

export interface BuildBusyboxOptions {
  /** Busybox source: a tarball (.tar.bz2, ...) or an extracted tree. */
  source: string;
  /** Target architecture (default x86_64); another than the host's is cross-compiled with static glibc (aarch64-linux-gnu-gcc). */
  arch?: Arch;
  /** 'defconfig' (everything), 'tiny' (allnoconfig + a small applet set, see presets.ts) or a .config file. Default defconfig. */
  config?: string;
  /**
   * C library: 'musl' (musl-gcc, smallest) or 'glibc' (gcc -static). Default musl when musl-gcc exists, else
   * glibc; a cross build is glibc (Debian has no cross musl-gcc).
   */
  libc?: 'glibc' | 'musl';
  /** Options to enable/disable (busybox symbols, CONFIG_ prefix optional), applied after the config. */
  enable?: string[];
  disable?: string[];
  /**
   * musl only: kernel source (tarball or tree) whose `make headers_install`
   * provides <linux/*.h>. Default: the host's sanitized headers
   * (/usr/include/linux, asm, asm-generic, mtd from linux-libc-dev).
   */
  kernelSource?: string;
  jobs?: number;
  cacheDir?: string;
  epoch?: number;
  progress?: Progress;
  quiet?: boolean;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
}

export interface BusyboxBuildResult {
  /** Path of the static binary inside the cache (copy it; do not modify). */
  binary: string;
  /** Final .config inside the cache. */
  config: string;
  cached: boolean;
  log: string;
  key: string;
}

/**
 * Options turned off for static builds: TC uses TCA_CBQ_* constants that
 * newer kernel uapi headers dropped; RPC, SELinux, PAM and systemd support
 * need libraries a static tiny system does not have.
 */
export const BUSYBOX_LIBC_DISABLE: Record<'glibc' | 'musl', string[]> = {
  musl: ['TC', 'FEATURE_TC_INGRESS', 'FEATURE_HAVE_RPC', 'FEATURE_INETD_RPC', 'SELINUX', 'PAM', 'FEATURE_SYSTEMD'],
  glibc: ['TC', 'FEATURE_TC_INGRESS', 'FEATURE_HAVE_RPC', 'FEATURE_INETD_RPC', 'SELINUX', 'PAM', 'FEATURE_SYSTEMD'],
};

/** A headers dir with only the kernel's sanitized uapi headers from the host (linux-libc-dev). */
function hostHeaders(cacheDir: string): string {
  const dir = join(cacheDir, 'headers', 'host', 'include');
  if (existsSync(join(dir, 'linux', 'types.h'))) return dir;
  const arch = ['/usr/include/x86_64-linux-gnu/asm', '/usr/include/asm'].find((p) => existsSync(join(p, 'types.h')));
  if (!existsSync('/usr/include/linux/types.h') || !arch) {
    throw new UsageError(
      'E_USAGE_KERNEL_HEADERS',
      'musl build needs Linux uapi headers: pass kernelSource (a kernel tarball or tree) or install linux-libc-dev',
      {},
    );
  }
  rmSync(join(cacheDir, 'headers', 'host'), { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const d of ['linux', 'asm-generic', 'mtd'])
    if (existsSync(`/usr/include/${d}`)) symlinkSync(`/usr/include/${d}`, join(dir, d));
  symlinkSync(arch, join(dir, 'asm'));
  return dir;
}

async function kernelHeaders(
  kernelSource: string,
  cacheDir: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal | undefined,
  logFile: string,
): Promise<string> {
  const src = await resolveSource(kernelSource, cacheDir, { signal, expect: 'Kbuild', what: 'kernel', logFile });
  const out = join(cacheDir, 'headers', src.id.slice(0, 16));
  if (existsSync(join(out, 'include', 'linux', 'types.h'))) return join(out, 'include');
  return withLock(
    cacheDir,
    `headers-${src.id.slice(0, 16)}`,
    async () => {
      if (existsSync(join(out, 'include', 'linux', 'types.h'))) return join(out, 'include');
      const tmp = `${out}.tmp-${process.pid}`;
      rmSync(tmp, { recursive: true, force: true });
      await run(
        'make',
        ['-C', src.dir, `O=${tmp}/build`, 'ARCH=x86_64', `INSTALL_HDR_PATH=${tmp}`, 'headers_install'],
        { env: { ...env, LC_ALL: 'C' }, signal, logFile },
      );
      rmSync(join(tmp, 'build'), { recursive: true, force: true });
      rmSync(out, { recursive: true, force: true });
      const { renameSync } = await import('node:fs');
      renameSync(tmp, out);
      return join(out, 'include');
    },
    { signal },
  );
}

export function busyboxRequests(
  opts: Pick<BuildBusyboxOptions, 'config' | 'enable' | 'disable'>,
  libc: 'glibc' | 'musl',
  extraCflags: string,
  cross = '',
): OptionRequest[] {
  const reqs: OptionRequest[] = [];
  if (opts.config === 'tiny') for (const e of BUSYBOX_TINY_ENABLE) reqs.push(parseEnable(e, 'preset tiny'));
  reqs.push(parseEnable('STATIC', 'static'));
  for (const d of BUSYBOX_LIBC_DISABLE[libc]) reqs.push(parseDisable(d, `libc ${libc}`));
  reqs.push({ name: 'EXTRA_CFLAGS', value: extraCflags, string: true, origin: `libc ${libc}` });
  reqs.push({ name: 'CROSS_COMPILER_PREFIX', value: cross, string: true, origin: cross ? 'cross' : `libc ${libc}` });
  for (const e of opts.enable ?? []) reqs.push(parseEnable(e));
  for (const d of opts.disable ?? []) reqs.push(parseDisable(d));
  return reqs;
}

export async function buildBusybox(opts: BuildBusyboxOptions): Promise<BusyboxBuildResult> {
  const env = opts.env ?? process.env;
  const cacheDir = resolve(opts.cacheDir ?? defaultCacheDir(env));
  const progress = opts.quiet ? silentProgress : (opts.progress ?? silentProgress);
  const jobs = opts.jobs ?? availableParallelism();
  if (!Number.isInteger(jobs) || jobs < 1)
    throw new UsageError('E_USAGE_JOBS', `jobs must be a positive integer, got ${jobs}`, { actual: jobs });
  const arch = opts.arch ?? 'x86_64';
  const cross = crossPrefix(arch);
  const libc = opts.libc ?? (!cross && have('musl-gcc', env) ? 'musl' : 'glibc');
  if (libc !== 'musl' && libc !== 'glibc')
    throw new UsageError('E_USAGE_LIBC', `unknown libc '${String(libc)}' (expected musl or glibc)`, { actual: libc });
  if (cross && libc === 'musl')
    throw new UsageError(
      'E_USAGE_LIBC',
      `a ${arch} busybox is cross-compiled with Debian's ${TOOLCHAIN_ARCH[arch].crossGcc} and its static glibc: ` +
        'Debian has no cross musl-gcc (musl-tools wraps the host compiler only); use libc: glibc',
      { field: 'libc', actual: libc },
    );
  const cc = libc === 'musl' ? 'musl-gcc' : `${cross}gcc`;
  const config = opts.config ?? 'defconfig';
  const configIsFile = config !== 'defconfig' && config !== 'tiny' && config !== 'allnoconfig';
  if (configIsFile && !existsSync(config))
    throw new UsageError(
      'E_USAGE_CONFIG',
      `busybox config '${config}' is neither defconfig, tiny nor an existing file`,
      { path: config },
    );
  const epoch = resolveEpoch(opts.epoch, env);
  mkdirSync(cacheDir, { recursive: true });
  busyboxRequests(opts, libc, '', cross); // validate option syntax early
  requireTools(
    'building busybox',
    [
      { command: 'make', debian: 'make' },
      { command: cc, debian: libc === 'musl' ? 'musl-tools' : cross ? TOOLCHAIN_ARCH[arch].crossGcc : 'gcc' },
      ...(cross ? [{ command: 'gcc', debian: 'gcc' }] : []),
      ...tarTools(opts.source),
      // the kernel's `make headers_install` copies with rsync (Linux >= 5.3)
      ...(libc === 'musl' && opts.kernelSource
        ? [{ command: 'rsync', debian: 'rsync' }, ...tarTools(opts.kernelSource)]
        : []),
    ],
    env,
  );
  requireCrossLibc(arch);

  progress.start('hashing busybox source');
  const extractLog = join(cacheDir, 'extract.log');
  const src = await resolveSource(opts.source, cacheDir, {
    signal: opts.signal,
    expect: 'Config.in',
    what: 'busybox',
    logFile: extractLog,
    onExtract: () => progress.start('extracting busybox source'),
  });
  if (!existsSync(join(src.dir, 'applets')))
    throw new UsageError('E_USAGE_SOURCE', `${opts.source} does not look like a busybox source tree`, {
      path: opts.source,
    });
  const ccVersion = await compilerVersion(cc, env);
  let headers = '';
  if (libc === 'musl')
    headers = opts.kernelSource
      ? await kernelHeaders(opts.kernelSource, cacheDir, env, opts.signal, extractLog)
      : hostHeaders(cacheDir);
  const headersId =
    libc !== 'musl'
      ? null
      : opts.kernelSource
        ? headers
        : `host:${statSync('/usr/include/linux/version.h', { throwIfNoEntry: false })?.mtimeMs ?? 0}`;
  const key = sha256(
    JSON.stringify({
      recipe: RECIPE_VERSION,
      ...(arch !== 'x86_64' ? { arch } : {}),
      source: src.id,
      config: configIsFile ? sha256(readFileSync(config)) : config,
      tiny: config === 'tiny' ? BUSYBOX_TINY_ENABLE : null,
      libc,
      libcDisable: BUSYBOX_LIBC_DISABLE[libc],
      enable: opts.enable ?? [],
      disable: opts.disable ?? [],
      compiler: ccVersion,
      headers: headersId,
      epoch,
    }),
  );
  const resultDir = join(cacheDir, 'busybox', key.slice(0, 32));
  const result = (cached: boolean): BusyboxBuildResult => ({
    binary: join(resultDir, 'busybox'),
    config: join(resultDir, 'config'),
    log: join(resultDir, 'build.log'),
    cached,
    key,
  });
  if (existsSync(join(resultDir, 'busybox'))) {
    progress.done();
    return result(true);
  }
  const slot = `${src.id.slice(0, 16)}-${libc}${arch === 'x86_64' ? '' : `-${arch}`}`;
  const buildDir = join(cacheDir, 'busybox-build', slot);
  return withLock(
    cacheDir,
    `busybox-build-${slot}`,
    async () => {
      if (existsSync(join(resultDir, 'busybox'))) return result(true);
      const { logFile, makeEnv } = prepareMake(buildDir, env, epoch, { KCONFIG_NOTIMESTAMP: '1' });
      const make = (args: string[], o: { onLine?: (l: string) => void; input?: string } = {}) =>
        run('make', ['-C', src.dir, `O=${buildDir}`, ...makeCompiler(cc, cross), `HOSTCC=gcc`, ...args], {
          env: makeEnv,
          logFile,
          signal: opts.signal,
          onLine: o.onLine,
          input: o.input,
        });

      progress.start('configuring busybox');
      const dotConfig = join(buildDir, '.config');
      if (configIsFile) copyFileSync(config, dotConfig);
      else await make([config === 'tiny' ? 'allnoconfig' : config]);
      const extra = libc === 'musl' ? `-isystem ${headers}` : '';
      const reqs = busyboxRequests(opts, libc, extra, cross);
      for (let pass = 0; pass < 2; pass++) {
        writeFileSync(dotConfig, applyToDotConfig(readFileSync(dotConfig, 'utf8'), reqs));
        // Busybox's kconfig has no olddefconfig: answer every new question with its default.
        await make(['oldconfig'], { input: '\n'.repeat(20000) });
      }
      const final = parseDotConfig(readFileSync(dotConfig, 'utf8'));
      const bad = unsatisfied(
        reqs.filter((r) => !(r.value === 'n' && r.origin.startsWith('libc'))),
        final,
      );
      if (bad.length) {
        const why = explainUnsatisfied(src.dir, bad, final);
        throw new ToolError(
          'E_TOOL_KCONFIG',
          `${bad.length} requested busybox option${bad.length > 1 ? 's' : ''} could not be set:\n${why.map((w) => `  ${w.name}: wanted ${w.wanted}, got ${w.actual}: ${w.reason}`).join('\n')}`,
          { options: why, config: dotConfig },
        );
      }
      const applets = [...final.entries()].filter(([, v]) => v === 'y').length;
      progress.start('compiling busybox', Math.max(50, Math.round(applets * 0.9)), 'objects');
      await make([`-j${jobs}`, 'busybox'], {
        onLine: (l) => {
          if (/^\s+CC\s/.test(l)) progress.tick(1);
        },
      });
      progress.done();
      const bin = join(buildDir, 'busybox');
      if (!existsSync(bin))
        throw new ToolError('E_TOOL_FAILED', `make busybox succeeded but ${bin} is missing`, { path: bin });
      // Static check: no PT_INTERP program header.
      const head = readFileSync(bin).subarray(0, 4096);
      if (isDynamic(head))
        throw new ToolError(
          'E_TOOL_FAILED',
          `built busybox is dynamically linked (CONFIG_STATIC did not take effect)`,
          { path: bin },
        );
      storeResult(resultDir, {
        busybox: readFileSync(bin),
        config: readFileSync(dotConfig),
        'build.log': readFileSync(logFile),
      });
      const { chmodSync } = await import('node:fs');
      chmodSync(join(resultDir, 'busybox'), 0o755);
      return result(false);
    },
    { signal: opts.signal },
  );
}

/** A cross build names the prefix (CROSS_COMPILE: gcc, ar, strip, ... of the target); a native one the compiler. */
function makeCompiler(cc: string, cross: string): string[] {
  return cross ? [`CROSS_COMPILE=${cross}`] : [`CC=${cc}`];
}

/** ELF64 little-endian: any PT_INTERP (3) program header => dynamically linked. */
export function isDynamic(elf: Uint8Array): boolean {
  if (elf.length < 64 || elf[0] !== 0x7f || elf[1] !== 0x45 || elf[4] !== 2) return false;
  const dv = new DataView(elf.buffer, elf.byteOffset, elf.byteLength);
  const phoff = Number(dv.getBigUint64(32, true));
  const phentsize = dv.getUint16(54, true);
  const phnum = dv.getUint16(56, true);
  for (let i = 0; i < phnum; i++) {
    const o = phoff + i * phentsize;
    if (o + 4 > elf.length) break;
    if (dv.getUint32(o, true) === 3) return true;
  }
  return false;
}
