import { UsageError } from '../../../core/errors.js';
import { extractTree } from '../../host/extract.js';
import { isDisk, openImage } from '../../open.js';
import { run } from '../../toolchain/run.js';
import { parseCommandArgs, type Command } from '../command.js';

export const command: Command = {
  name: 'extract',
  summary: 'extract an image into a directory',
  usage: `usage: tinyimage extract IMAGE[:PART] DIR [--json]

Extracts every entry of a cpio/cpio.gz archive, an ext2/3/4 or FAT image, or a
partition of a disk image (IMAGE:N) into DIR, which must be new or empty.
Nothing is ever written outside DIR: absolute names are taken relative to
DIR; cpio members with a '..' component, a name under a symlink or a file, or
a component over 255 bytes are left out with a warning; symlinks are created
last and never followed, and parents are checked on every entry. Owners are restored when
running as root; device nodes and FIFOs are created only as root (skipped with
a warning otherwise); sockets are skipped.`,
  async run(argv, ctx) {
    const { values: v, positionals } = parseCommandArgs('extract', argv, { json: { type: 'boolean' } });
    if (positionals.length !== 2) throw new UsageError('E_USAGE_ARGS', 'extract: expected IMAGE[:PART] DIR');
    const img = await openImage(positionals[0]!);
    try {
      if (isDisk(img))
        throw new UsageError(
          'E_USAGE_IS_DISK',
          `${positionals[0]} is a partitioned disk; name a partition, e.g. ${positionals[0]}:1`,
        );
      for (const w of img.warnings) ctx.warn(w);
      const root = typeof process.getuid === 'function' && process.getuid() === 0;
      const r = await extractTree(img.tree, positionals[1]!, {
        warn: ctx.warn,
        ...(root
          ? {
              mknod: async (path, n) => {
                if (n.type === 'fifo') await run('mkfifo', [path]);
                else if (n.type === 'chardev' || n.type === 'blockdev')
                  await run('mknod', [path, n.type === 'chardev' ? 'c' : 'b', String(n.major), String(n.minor)]);
              },
            }
          : {}),
      });
      if (v.json) ctx.stdout.write(JSON.stringify(r) + '\n');
      else
        ctx.stdout.write(
          `extracted ${r.entries} entries into ${positionals[1]}${r.skipped.length ? `, skipped ${r.skipped.length}` : ''}\n`,
        );
      return 0;
    } finally {
      img.close();
    }
  },
};
