import { defineCommand, OUTPUT_OPTIONS, type CommandGroup } from '../command.js';
import { TOOLCHAIN_OPTIONS, toolchainInputs, writeToolchainProduct } from '../sources.js';

const build = defineCommand({
  name: 'kernel build',
  summary: 'build a Linux kernel image from source (make out of tree, cached)',
  description:
    'Build a Linux kernel image from source (make in an out-of-tree directory, cached): a bzImage for x86_64, ' +
    "an Image for arm64 (cross-compiled on another host with Debian's gcc-aarch64-linux-gnu).",
  options: {
    source: {
      type: 'path',
      value: 'TARBALL|DIR',
      required: true,
      help: 'kernel source tarball (extracted once, cached) or tree',
    },
    config: {
      type: 'string',
      value: 'BASE',
      help: "tinyconfig, defconfig or a .config FILE (default: the preset's base, else tinyconfig)",
    },
    preset: {
      type: 'enum',
      choices: ['tiny', 'disk'],
      help:
        'option set: tiny (serial console, initramfs, EFI stub) or disk (tiny + virtio, ext4, net, ...; ' +
        'x86: ATA/AHCI, e1000; arm64: Raspberry Pi SD and mini UART)',
    },
    ...TOOLCHAIN_OPTIONS,
    initramfs: { type: 'path', value: 'FILE', help: 'build this cpio archive into the kernel' },
    cmdline: { type: 'string', value: 'STR', help: 'built-in kernel command line' },
    compression: {
      type: 'enum',
      choices: ['xz', 'gzip'],
      default: 'xz',
      help: 'kernel and built-in initramfs compression',
    },
    ...OUTPUT_OPTIONS,
    output: {
      ...OUTPUT_OPTIONS.output,
      value: 'FILE',
      help: "where to write the bzImage or Image ('-': standard output)",
    },
  },
  examples: [
    'tinyimage kernel build --source linux-6.6.tar.xz --preset tiny --initramfs initramfs.cpio.gz -o bzImage',
    'tinyimage kernel build --source linux-6.6.tar.xz --arch arm64 --preset disk -o Image',
  ],
  notes:
    "Every requested option is checked after 'make olddefconfig'; one that did not stick is reported with its " +
    'unmet dependency (exit 1, E_TOOL_KCONFIG). Builds are reproducible from SOURCE_DATE_EPOCH; an identical ' +
    'second build is served from the cache.',
  async run({ values: v, ctx, output }) {
    const out = output('file', 'kernel');
    const inputs = toolchainInputs(v, ctx);
    const { buildKernel } = await import('../../toolchain/kernel.js');
    const r = await buildKernel({
      ...inputs,
      source: v.source,
      config: v.config,
      preset: v.preset,
      initramfs: v.initramfs,
      cmdline: v.cmdline,
      compression: v.compression,
    });
    await writeToolchainProduct(out, r.image, r, v.saveConfig);
  },
});

export const command: CommandGroup = {
  kind: 'group',
  name: 'kernel',
  summary: 'build a Linux kernel from source (kernel build ...)',
  description: 'Build a Linux kernel from source with the host toolchain.',
  label: 'COMMAND',
  subcommands: { build: async () => build },
};
