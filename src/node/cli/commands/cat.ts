import { PathError } from '../../../core/errors.js';
import { defineCommand } from '../command.js';
import { pipeChunks } from '../output.js';
import { fsOf, openReadSource } from '../sources.js';

export const command = defineCommand({
  name: 'cat',
  summary: 'print a file from an image, archive, partition or any source',
  description: 'Write the content of PATH (symlinks inside the image are followed) to standard output.',
  args: {
    image: {
      value: 'IMAGE[:PART]',
      help: 'an image, IMAGE:PART of a disk, a directory, a tar or cpio archive (any codec), -, oci:DIR[:TAG] or docker-archive:FILE[:REF]',
    },
    path: { value: 'PATH', help: 'the file inside it' },
  },
  options: {},
  examples: ['tinyimage cat out/disk.img:1 /etc/inittab'],
  async run({ args, ctx }) {
    const src = await openReadSource(args.image, ctx);
    try {
      const img = fsOf(src, args.image);
      for (const w of img.warnings) ctx.warn(w);
      const n = img.stat(args.path);
      if (n.type !== 'file')
        throw new PathError('E_PATH_NOT_FILE', `${args.path} is not a regular file (${n.type})`, { path: args.path });
      await pipeChunks(ctx.stdout, n.content.stream());
    } finally {
      src.close();
    }
  },
});
