import { readFileSync } from 'node:fs';
import { defineCommand, OUTPUT_OPTIONS, type CommandGroup } from '../command.js';
import { HostIOError } from '../../../core/errors.js';
import { TOOLCHAIN_OPTIONS, toolchainInputs, writeToolchainProduct } from '../sources.js';

const build = defineCommand({
  name: 'busybox build',
  summary: 'compile a static busybox (cached; reproducible from SOURCE_DATE_EPOCH)',
  options: {
    source: { type: 'path', value: 'TARBALL|DIR', required: true, help: 'busybox source tarball or tree' },
    config: {
      type: 'string',
      value: 'CONFIG',
      help: 'defconfig (default), tiny (small applet set) or a .config FILE',
    },
    libc: {
      type: 'enum',
      choices: ['musl', 'glibc'],
      help: 'musl via musl-gcc (default when installed; not for cross builds) or glibc (gcc -static)',
    },
    kernelSource: {
      type: 'path',
      value: 'SRC',
      help: "musl: kernel tarball/tree for 'make headers_install' (default: the host's /usr/include/linux headers)",
    },
    ...TOOLCHAIN_OPTIONS,
    ...OUTPUT_OPTIONS,
    output: { ...OUTPUT_OPTIONS.output, value: 'FILE', help: "where to write the binary ('-': standard output)" },
  },
  examples: [
    'tinyimage busybox build --source busybox-1.36.1.tar.bz2 --config tiny -o busybox',
    'tinyimage busybox build --source busybox-1.36.1.tar.bz2 --arch arm64 -o busybox-arm64',
  ],
  async run({ values: v, ctx, output }) {
    const out = output('file', 'busybox');
    const inputs = toolchainInputs(v, ctx);
    const { buildBusybox } = await import('../../toolchain/busybox.js');
    const r = await buildBusybox({
      ...inputs,
      source: v.source,
      config: v.config,
      libc: v.libc,
      kernelSource: v.kernelSource,
    });
    await writeToolchainProduct(out, r.binary, r, v.saveConfig, 0o755);
  },
});

const applets = defineCommand({
  name: 'busybox applets',
  summary: 'list the applets compiled into a busybox binary',
  description:
    'List the applets compiled into a busybox binary with their install directory ' +
    '(one "DIR/NAME" per line, or a JSON array with --json).',
  args: { bin: { value: 'BIN', help: 'a busybox binary' } },
  options: { json: { type: 'boolean', help: 'print a JSON array of { name, dir }' } },
  async run({ values, args, ctx }) {
    let bin: Uint8Array;
    try {
      bin = readFileSync(args.bin);
    } catch (e) {
      throw new HostIOError('E_IO_READ', `cannot read ${args.bin}: ${(e as Error).message}`, { path: args.bin });
    }
    const { readBusyboxApplets } = await import('../../../core/busybox/applets.js');
    const list = readBusyboxApplets(bin);
    if (values.json) ctx.stdout.write(JSON.stringify(list, null, 1) + '\n');
    else ctx.stdout.write(list.map((a) => `${a.dir === '/' ? '' : a.dir}/${a.name}\n`).join(''));
  },
});

export const command: CommandGroup = {
  kind: 'group',
  name: 'busybox',
  summary: 'build a static busybox from source (busybox build ...) or list its applets',
  description: 'Build a static busybox from source, or list the applets of a binary.',
  label: 'COMMAND',
  subcommands: { build: async () => build, applets: async () => applets },
};
