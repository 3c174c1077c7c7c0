import { UsageError } from '../../../core/errors.js';
import { isDisk, openImage } from '../../open.js';
import { PathError } from '../../../core/errors.js';
import { parseCommandArgs, type Command } from '../command.js';

export const command: Command = {
  name: 'cat',
  summary: 'print a file from an image',
  usage: `usage: tinyimage cat IMAGE[:PART] PATH

Writes the content of PATH (symlinks inside the image are followed) to
standard output.`,
  async run(argv, ctx) {
    const { positionals } = parseCommandArgs('cat', argv, {});
    if (positionals.length !== 2) throw new UsageError('E_USAGE_ARGS', 'cat: expected IMAGE[:PART] PATH');
    const img = await openImage(positionals[0]!);
    try {
      if (isDisk(img))
        throw new UsageError(
          'E_USAGE_IS_DISK',
          `${positionals[0]} is a partitioned disk; name a partition, e.g. ${positionals[0]}:1`,
        );
      for (const w of img.warnings) ctx.warn(w);
      const n = img.stat(positionals[1]!);
      if (n.type !== 'file')
        throw new PathError('E_PATH_NOT_FILE', `${positionals[1]} is not a regular file (${n.type})`, {
          path: positionals[1]!,
        });
      for await (const chunk of n.content.stream()) {
        if (!ctx.stdout.write(chunk)) await new Promise((r) => ctx.stdout.once('drain', r));
      }
      return 0;
    } finally {
      img.close();
    }
  },
};
