import { build } from '../../build/build.js';
import { loadSpec, presetNames } from '../../build/load.js';
import { defineCommand, OUTPUT_OPTIONS } from '../command.js';
import { CONTAINER_OPTIONS } from '../container.js';

export const command = defineCommand({
  name: 'build',
  summary: 'build images from a spec or a preset (initramfs, uefi, bios, iso)',
  description:
    "Build the outputs a spec describes into DIR. SPEC is a YAML or JSON file; it may name a preset ('preset: " +
    "uefi') and override any of its fields. Command-line options override the spec.\n\n" +
    'Presets: initramfs (DIR/initramfs.cpio.gz), uefi (DIR/BOOTX64.EFI and DIR/usb.img), bios (DIR/disk.img), ' +
    'iso (DIR/live.iso).',
  args: { spec: { value: 'SPEC', optional: true, help: 'a YAML or JSON build spec (docs/spec.md)' } },
  options: {
    preset: { type: 'string', value: 'NAME', help: 'start from a preset: initramfs, uefi, bios or iso' },
    kernel: { type: 'path', value: 'FILE', help: 'the kernel image (bzImage, vmlinuz)' },
    busybox: { type: 'path', value: 'BIN', help: 'a static busybox binary' },
    modules: { type: 'path', value: 'DIR', help: 'lib/modules/VERSION of the kernel (bios)' },
    cmdline: { type: 'string', value: 'STR', help: 'kernel command line' },
    owner: { type: 'owner', help: 'make every file owned by UID:GID' },
    ...OUTPUT_OPTIONS,
    output: {
      ...OUTPUT_OPTIONS.output,
      value: 'DIR',
      help: 'the output directory (made if missing; its parent must exist)',
    },
    jobs: { type: 'integer', short: 'j', min: 1, help: 'parallel make jobs for sources built here (default: CPUs)' },
    format: {
      ...CONTAINER_OPTIONS.format,
      help: "the disk image as raw or inside a container (the spec's disk.format; default raw, or its name's)",
    },
    subformat: {
      ...CONTAINER_OPTIONS.subformat,
      help: "the spec's disk.subformat: " + CONTAINER_OPTIONS.subformat.help,
    },
  },
  examples: [
    'tinyimage build --preset initramfs --busybox /bin/busybox -o out',
    'tinyimage build --preset uefi --kernel vmlinuz --busybox /bin/busybox -o out',
    'tinyimage build --preset bios --kernel vmlinuz --modules lib/modules/6.1.0-X-amd64 --busybox busybox -o out',
    'tinyimage build --preset iso --kernel vmlinuz --busybox /bin/busybox -o out',
    'tinyimage build spec.yaml -o out',
    'tinyimage build --preset bios --kernel vmlinuz --busybox busybox --format qcow2 -o out',
  ],
  notes:
    'SOURCE_DATE_EPOCH, when set, fixes every timestamp; the same inputs then give identical bytes. ' +
    'See docs/spec.md for every field.',
  async run({ values: v, args, ctx, output, usage }) {
    if (!args.spec && !v.preset)
      throw usage(`give a SPEC file or --preset NAME (available: ${presetNames().join(', ')})`);
    const out = output('directory', 'a build');
    const overrides: Record<string, unknown> = {};
    if (v.kernel) overrides.kernel = v.kernel;
    if (v.busybox) overrides.busybox = v.busybox;
    if (v.modules) overrides.modules = v.modules;
    if (v.cmdline !== undefined) overrides.cmdline = v.cmdline;
    if (v.owner) overrides.owner = `${v.owner.uid}:${v.owner.gid}`;
    if (v.format || v.subformat)
      overrides.disk = {
        ...(v.format ? { format: v.format } : {}),
        ...(v.subformat ? { subformat: v.subformat } : {}),
      };
    const { spec } = loadSpec({
      ...(args.spec ? { file: args.spec } : {}),
      ...(v.preset ? { preset: v.preset } : {}),
      overrides,
    });
    const result = await build(spec, {
      outDir: v.output,
      progress: ctx.progress,
      warn: ctx.warn,
      log: ctx.log,
      env: ctx.env,
      quiet: ctx.quiet,
      ...(v.jobs ? { jobs: v.jobs } : {}),
    });
    for (const o of result.outputs) ctx.log(`${o.path}: ${o.size} bytes, ${o.description}`);
    out.done(
      {
        bytes: result.outputs.reduce((n, o) => n + o.size, 0),
        note: result.outputs.map((o) => o.name).join(' + '),
        details: result,
        what: spec.kind,
      },
      'built',
    );
  },
});
