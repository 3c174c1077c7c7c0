import { copyFileSync } from 'node:fs';
import type { Command } from '../command.js';
import { parseCommandArgs, parsePositiveInt } from '../command.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { UsageError } from '../../../core/errors.js';
import { withOutputFile } from '../../host/output.js';

const USAGE = `usage: tinyimage kernel build --source TARBALL|DIR -o FILE [options]

Build a Linux bzImage from source (make in an out-of-tree directory, cached).

  --source TARBALL|DIR   kernel source tarball (extracted once, cached) or tree
  --config BASE          tinyconfig, defconfig or a .config FILE (default: the
                         preset's base, else tinyconfig)
  --preset tiny|disk     option set: tiny (serial console, initramfs, EFI stub)
                         or disk (tiny + PCI, virtio, ATA/AHCI, ext4, net, ...)
  --enable OPT           set an option: NAME, NAME=m, NAME=123, NAME="text"
                         (repeatable; CONFIG_ prefix optional)
  --disable OPT          unset an option (repeatable)
  --initramfs FILE       build this cpio archive into the kernel
  --cmdline STR          built-in kernel command line
  --compression xz|gzip  kernel and built-in initramfs compression (default xz)
  --jobs N               parallel make jobs (default: number of CPUs)
  --save-config FILE     also write the final .config here
  --cache DIR            cache directory (default $TINYIMAGE_CACHE or ~/.cache/tinyimage)
  --quiet                no progress output
  -o, --output FILE      where to write the bzImage

Every requested option is checked after 'make olddefconfig'; one that did not
stick is reported with its unmet dependency (exit 1, E_TOOL_KCONFIG).
Builds are reproducible from SOURCE_DATE_EPOCH; an identical second build is
served from the cache.
`;

export const command: Command = {
  name: 'kernel',
  summary: 'build a Linux kernel from source (kernel build ...)',
  usage: USAGE,
  async run(argv, ctx) {
    const [sub, ...rest] = argv;
    if (sub !== 'build')
      throw new UsageError(
        'E_USAGE_ARGS',
        sub ? `kernel: unknown subcommand '${sub}' (expected build)\n${USAGE}` : USAGE,
      );
    const { values, positionals } = parseCommandArgs('kernel build', rest, {
      source: { type: 'string' },
      config: { type: 'string' },
      preset: { type: 'string' },
      enable: { type: 'string', multiple: true },
      disable: { type: 'string', multiple: true },
      initramfs: { type: 'string' },
      cmdline: { type: 'string' },
      compression: { type: 'string' },
      jobs: { type: 'string' },
      'save-config': { type: 'string' },
      cache: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      output: { type: 'string', short: 'o' },
    });
    if (positionals.length)
      throw new UsageError('E_USAGE_ARGS', `kernel build: unexpected argument '${positionals[0]}'`);
    if (!values.source) throw new UsageError('E_USAGE_ARGS', 'kernel build: --source TARBALL|DIR is required');
    if (!values.output) throw new UsageError('E_USAGE_ARGS', 'kernel build: -o FILE is required');
    if (values.preset !== undefined && values.preset !== 'tiny' && values.preset !== 'disk')
      throw new UsageError('E_USAGE_PRESET', `kernel build: --preset must be tiny or disk, got '${values.preset}'`);
    if (values.compression !== undefined && values.compression !== 'xz' && values.compression !== 'gzip')
      throw new UsageError(
        'E_USAGE_COMPRESSION',
        `kernel build: --compression must be xz or gzip, got '${values.compression}'`,
      );
    const jobs = parsePositiveInt(values.jobs, '--jobs', 'kernel build');
    const { buildKernel } = await import('../../toolchain/kernel.js');
    const t0 = Date.now();
    const r = await buildKernel({
      source: values.source,
      config: values.config,
      preset: values.preset as 'tiny' | 'disk' | undefined,
      enable: values.enable,
      disable: values.disable,
      initramfs: values.initramfs,
      cmdline: values.cmdline,
      compression: values.compression as 'xz' | 'gzip' | undefined,
      jobs,
      cacheDir: values.cache,
      epoch: sourceDateEpoch(ctx.env),
      progress: ctx.progress,
      quiet: values.quiet,
      env: ctx.env,
    });
    await withOutputFile(values.output, (tmp) => copyFileSync(r.bzImage, tmp));
    if (values['save-config']) await withOutputFile(values['save-config'], (tmp) => copyFileSync(r.config, tmp));
    if (!values.quiet) {
      const { statSync } = await import('node:fs');
      ctx.stderr.write(
        `kernel: ${values.output} (${statSync(values.output).size} bytes, ${r.cached ? 'from cache' : `built in ${((Date.now() - t0) / 1000).toFixed(0)} s`})\n`,
      );
    }
    return 0;
  },
};
