import { UsageError } from '../../../core/errors.js';
import { build } from '../../build/build.js';
import { loadSpec, presetNames } from '../../build/load.js';
import { parseCommandArgs, parsePositiveInt, type Command } from '../command.js';

const OPTIONS = {
  preset: { type: 'string' },
  kernel: { type: 'string' },
  busybox: { type: 'string' },
  modules: { type: 'string' },
  cmdline: { type: 'string' },
  owner: { type: 'string' },
  output: { type: 'string', short: 'o' },
  jobs: { type: 'string', short: 'j' },
  json: { type: 'boolean' },
  quiet: { type: 'boolean', short: 'q' },
} as const;

export const command: Command = {
  name: 'build',
  summary: 'build images from a spec or a preset',
  usage: `usage: tinyimage build [SPEC] [--preset NAME] [--kernel FILE] [--busybox BIN] [--modules DIR] [--cmdline STR] [--owner UID:GID] -o DIR [--json] [--quiet]

Builds the outputs a spec describes into DIR. SPEC is a YAML or JSON file; it
may name a preset ('preset: uefi') and override any of its fields. Command-line
options override the spec.

Presets: initramfs (DIR/initramfs.cpio.gz), uefi (DIR/BOOTX64.EFI and
DIR/usb.img), bios (DIR/disk.img).

Examples:
  tinyimage build --preset initramfs --busybox /bin/busybox -o out
  tinyimage build --preset uefi --kernel vmlinuz --busybox /bin/busybox -o out
  tinyimage build --preset bios --kernel vmlinuz --modules lib/modules/6.1.0-X-amd64 --busybox busybox -o out
  tinyimage build spec.yaml -o out

SOURCE_DATE_EPOCH, when set, fixes every timestamp; the same inputs then give
identical bytes. See docs/spec.md for every field.`,
  async run(argv, ctx) {
    const { values: v, positionals } = parseCommandArgs('build', argv, OPTIONS);
    if (positionals.length > 1)
      throw new UsageError('E_USAGE_ARGS', `build: expected at most one SPEC file, got ${positionals.length}`);
    if (!v.output) throw new UsageError('E_USAGE_ARGS', 'build: missing -o DIR (the output directory)');
    if (!positionals[0] && !v.preset)
      throw new UsageError(
        'E_USAGE_ARGS',
        `build: give a SPEC file or --preset NAME (available: ${presetNames().join(', ')})`,
      );
    const overrides: Record<string, unknown> = {};
    if (v.kernel) overrides.kernel = v.kernel;
    if (v.busybox) overrides.busybox = v.busybox;
    if (v.modules) overrides.modules = v.modules;
    if (v.cmdline !== undefined) overrides.cmdline = v.cmdline;
    if (v.owner) overrides.owner = v.owner;
    const jobs = parsePositiveInt(v.jobs, '--jobs', 'build');
    const { spec } = loadSpec({
      ...(positionals[0] ? { file: positionals[0] } : {}),
      ...(v.preset ? { preset: v.preset } : {}),
      overrides,
    });
    const result = await build(spec, {
      outDir: v.output,
      progress: ctx.progress,
      warn: ctx.warn,
      log: v.quiet || v.json ? () => {} : (m) => ctx.stderr.write(`tinyimage: ${m}\n`),
      env: ctx.env,
      quiet: v.quiet === true,
      ...(jobs ? { jobs } : {}),
    });
    if (v.json) ctx.stdout.write(JSON.stringify(result, null, 2) + '\n');
    else for (const o of result.outputs) ctx.stdout.write(`${o.path}\t${o.size} bytes\t${o.description}\n`);
    return 0;
  },
};
