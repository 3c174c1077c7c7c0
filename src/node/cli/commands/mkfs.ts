import type { Command } from '../command.js';
import { UsageError } from '../../../core/errors.js';

const USAGE = `usage: tinyimage mkfs TYPE (--root DIR | --list FILE) -o OUT [options]

TYPE is ext4, ext3, ext2, fat32, fat16 or fat12. Run 'tinyimage mkfs TYPE --help'
for the options of each family.

  ext*:  [--size SIZE] [--block-size N] [--inode-size N] [--label L] [--uuid U]
         [--owner UID:GID] [--features LIST] [--headroom PCT]
  fat*:  [--size SIZE] [--label L] [--volume-id HEX] [--symlinks follow|skip|error]
`;

export const command: Command = {
  name: 'mkfs',
  summary: 'write a filesystem image',
  usage: USAGE,
  ownHelp: true,
  async run(argv, ctx) {
    const [type, ...rest] = argv;
    if (type === 'ext4' || type === 'ext3' || type === 'ext2') {
      const { runMkfsExt } = await import('./mkfs-ext.js');
      return runMkfsExt(type, rest, ctx);
    }
    if (type === 'fat32' || type === 'fat16' || type === 'fat12' || type === 'fat' || type === 'vfat') {
      const { runMkfsFat } = await import('./mkfs-fat.js');
      return runMkfsFat(type === 'fat' || type === 'vfat' ? undefined : type, rest, ctx);
    }
    throw new UsageError(
      'E_USAGE_FS_TYPE',
      type
        ? `unknown filesystem type '${type}' (expected ext4, ext3, ext2, fat32, fat16 or fat12)`
        : `missing filesystem type\n${USAGE}`,
      { actual: type },
    );
  },
};
