import { defineCommand, OUTPUT_OPTIONS } from '../command.js';
import { cpioChunks, kernelCpioChunks } from '../../../core/archive/cpio/index.js';
import { cpioListFileEntries } from '../../host/tree.js';
import { gzipChunks } from '../../../core/compress/gzip.js';
import { compressionForName } from '../../../core/compress/suffix.js';
import { SOURCE_OPTIONS, withSourceTree } from '../sources.js';

export const command = defineCommand({
  name: 'cpio',
  summary: 'write a newc cpio archive (optionally gzip) from any source or a gen_init_cpio list',
  description:
    'Write a newc (070701) cpio archive, optionally gzip-compressed, from any source (a directory, a ' +
    'tarball, a container image, another image) or a gen_init_cpio list file (device nodes need no root there).',
  options: {
    ...SOURCE_OPTIONS,
    ...OUTPUT_OPTIONS,
    owner: { type: 'owner', help: 'make every entry owned by UID:GID (e.g. 0:0)' },
    compress: {
      type: 'enum',
      choices: ['gzip', 'none'],
      help: 'default: gzip when OUT ends in .gz, else none; it must agree with the name of OUT',
    },
    level: { type: 'integer', min: 1, max: 9, help: 'gzip level (default 6)' },
    threads: { type: 'integer', min: 1, max: 256, help: 'gzip blocks compressed in parallel (default: CPUs)' },
    kernelCompat: {
      type: 'boolean',
      help:
        "with --list: exactly what the kernel's gen_init_cpio writes for the list (list order, its inode " +
        'numbers and link counts, no "." entry, upper-case hex); the default time is SOURCE_DATE_EPOCH ' +
        "(gen_init_cpio's -t), 0 if unset, and files keep their host mtimes, unclamped, as there",
    },
  },
  oneOf: [['root', 'list']],
  examples: [
    'tinyimage cpio --root rootfs -o initramfs.cpio.gz --owner 0:0',
    'tinyimage cpio --list initramfs.list -o - | gzip -dc | cpio -it',
  ],
  notes:
    "A list's files keep their host modification times; other list entries get SOURCE_DATE_EPOCH (0 when " +
    "unset). SOURCE_DATE_EPOCH, when set, clamps every later timestamp down to it. '#' starts a comment only " +
    "in a line's first column, and ${VAR} in a file's location is taken from the environment.",
  async run({ values, ctx, output, usage }) {
    const compress = compressionForName(values.output, values.compress, 'none', '--compress');
    const out = output(compress === 'gzip' ? 'cpio.gz' : 'cpio');
    if (values.kernelCompat && (values.list === undefined || values.owner))
      throw usage('--kernel-compat goes with --list and without --owner');
    await withSourceTree(values, ctx, async ({ tree, epoch }) => {
      const raw = values.kernelCompat
        ? kernelCpioChunks(cpioListFileEntries(values.list!, { defaultTime: epoch ?? 0, env: ctx.env }), {
            defaultTime: epoch ?? 0,
          })
        : // a file written with writeSync is done with each chunk before the next: one buffer does
          cpioChunks(tree, { progress: ctx.progress, reuseChunks: compress !== 'gzip' && !out.toStdout });
      const level = values.level !== undefined ? { level: values.level } : {};
      const threads = values.threads !== undefined ? { threads: values.threads } : {};
      const bytes = await out.writeChunks(compress === 'gzip' ? gzipChunks(raw, { ...level, ...threads }) : raw);
      const st = tree.stats();
      out.done({ bytes, entries: st.entries, details: { compress, files: st.files, dataBytes: st.bytes } });
    });
  },
});
