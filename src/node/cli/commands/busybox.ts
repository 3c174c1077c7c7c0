import { copyFileSync, readFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parseCommandArgs, parsePositiveInt } from '../command.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { HostIOError, UsageError } from '../../../core/errors.js';
import { withOutputFile } from '../../host/output.js';

const USAGE = `usage: tinyimage busybox build --source TARBALL|DIR -o FILE [options]
       tinyimage busybox applets BIN [--json]

build: compile a static busybox (cached; reproducible from SOURCE_DATE_EPOCH).
  --source TARBALL|DIR   busybox source tarball or tree
  --config CONFIG        defconfig (default), tiny (small applet set) or a .config FILE
  --libc musl|glibc      musl via musl-gcc (default when installed) or glibc (gcc -static)
  --kernel-source SRC    musl: kernel tarball/tree for 'make headers_install'
                         (default: the host's /usr/include/linux headers)
  --enable OPT           set a busybox option (repeatable)
  --disable OPT          unset a busybox option (repeatable)
  --jobs N               parallel make jobs (default: number of CPUs)
  --cache DIR            cache directory (default $TINYIMAGE_CACHE or ~/.cache/tinyimage)
  --save-config FILE     also write the final .config here
  --quiet                no progress output
  -o, --output FILE      where to write the binary

applets: list the applets compiled into a busybox binary with their install
directory (one "DIR/NAME" per line, or a JSON array with --json).
`;

async function build(rest: string[], ctx: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parseCommandArgs('busybox build', rest, {
    source: { type: 'string' },
    config: { type: 'string' },
    libc: { type: 'string' },
    'kernel-source': { type: 'string' },
    enable: { type: 'string', multiple: true },
    disable: { type: 'string', multiple: true },
    jobs: { type: 'string' },
    cache: { type: 'string' },
    'save-config': { type: 'string' },
    quiet: { type: 'boolean', short: 'q' },
    output: { type: 'string', short: 'o' },
  });
  if (positionals.length)
    throw new UsageError('E_USAGE_ARGS', `busybox build: unexpected argument '${positionals[0]}'`);
  if (!values.source) throw new UsageError('E_USAGE_ARGS', 'busybox build: --source TARBALL|DIR is required');
  if (!values.output) throw new UsageError('E_USAGE_ARGS', 'busybox build: -o FILE is required');
  if (values.libc !== undefined && values.libc !== 'musl' && values.libc !== 'glibc')
    throw new UsageError('E_USAGE_LIBC', `busybox build: --libc must be musl or glibc, got '${values.libc}'`);
  const jobs = parsePositiveInt(values.jobs, '--jobs', 'busybox build');
  const { buildBusybox } = await import('../../toolchain/busybox.js');
  const t0 = Date.now();
  const r = await buildBusybox({
    source: values.source,
    config: values.config,
    libc: values.libc as 'musl' | 'glibc' | undefined,
    kernelSource: values['kernel-source'],
    enable: values.enable,
    disable: values.disable,
    jobs,
    cacheDir: values.cache,
    epoch: sourceDateEpoch(ctx.env),
    progress: ctx.progress,
    quiet: values.quiet,
    env: ctx.env,
  });
  await withOutputFile(values.output, async (tmp) => {
    copyFileSync(r.binary, tmp);
    const { chmodSync } = await import('node:fs');
    chmodSync(tmp, 0o755);
  });
  if (values['save-config']) await withOutputFile(values['save-config'], (tmp) => copyFileSync(r.config, tmp));
  if (!values.quiet) {
    const { statSync } = await import('node:fs');
    ctx.stderr.write(
      `busybox: ${values.output} (${statSync(values.output).size} bytes, ${r.cached ? 'from cache' : `built in ${((Date.now() - t0) / 1000).toFixed(0)} s`})\n`,
    );
  }
  return 0;
}

async function applets(rest: string[], ctx: Parameters<Command['run']>[1]): Promise<number> {
  const { values, positionals } = parseCommandArgs('busybox applets', rest, { json: { type: 'boolean' } });
  if (positionals.length !== 1)
    throw new UsageError('E_USAGE_ARGS', 'busybox applets: expected exactly one BIN argument');
  let bin: Uint8Array;
  try {
    bin = readFileSync(positionals[0]!);
  } catch (e) {
    throw new HostIOError('E_IO_READ', `cannot read ${positionals[0]}: ${(e as Error).message}`, {
      path: positionals[0],
    });
  }
  const { readBusyboxApplets } = await import('../../../core/busybox/applets.js');
  const list = readBusyboxApplets(bin);
  if (values.json) ctx.stdout.write(JSON.stringify(list, null, 1) + '\n');
  else
    ctx.stdout.write(list.map((a) => `${a.dir === '/' ? '' : a.dir}/${a.name}`).join('\n') + (list.length ? '\n' : ''));
  return 0;
}

export const command: Command = {
  name: 'busybox',
  summary: 'build a static busybox from source (busybox build ...) or list its applets',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    if (sub === 'build') return build(rest, ctx);
    if (sub === 'applets') return applets(rest, ctx);
    throw new UsageError(
      'E_USAGE_ARGS',
      sub ? `busybox: unknown subcommand '${sub}' (expected build or applets)\n${USAGE}` : USAGE,
    );
  },
};
