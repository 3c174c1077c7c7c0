import { PathError, UsageError } from '../../../core/errors.js';
import { isDisk, openImage } from '../../open.js';
import { defineCommand } from '../command.js';
import { pipeChunks } from '../output.js';

export const command = defineCommand({
  name: 'cat',
  summary: 'print a file from an image, archive or partition',
  description: 'Write the content of PATH (symlinks inside the image are followed) to standard output.',
  args: {
    image: { value: 'IMAGE[:PART]', help: 'an archive, a filesystem image, or partition PART of a disk image' },
    path: { value: 'PATH', help: 'the file inside it' },
  },
  options: {},
  examples: ['tinyimage cat out/disk.img:1 /etc/inittab'],
  async run({ args, ctx }) {
    const img = await openImage(args.image);
    try {
      if (isDisk(img))
        throw new UsageError(
          'E_USAGE_IS_DISK',
          `${args.image} is a partitioned disk; name a partition, e.g. ${args.image}:1`,
        );
      for (const w of img.warnings) ctx.warn(w);
      const n = img.stat(args.path);
      if (n.type !== 'file')
        throw new PathError('E_PATH_NOT_FILE', `${args.path} is not a regular file (${n.type})`, { path: args.path });
      await pipeChunks(ctx.stdout, n.content.stream());
    } finally {
      img.close();
    }
  },
});
