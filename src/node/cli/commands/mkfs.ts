import type { CommandGroup } from '../command.js';

type ExtType = 'ext4' | 'ext3' | 'ext2';
type FatType = 'fat32' | 'fat16' | 'fat12' | undefined;
const ext = (type: ExtType) => async () => (await import('./mkfs-ext.js')).mkfsExtCommand(type);
const fat = (type: FatType) => async () => (await import('./mkfs-fat.js')).mkfsFatCommand(type);

export const command: CommandGroup = {
  kind: 'group',
  name: 'mkfs',
  summary: 'write an ext2/ext3/ext4 or FAT12/16/32 filesystem image from a directory or list',
  description:
    'Write a filesystem image from a host directory or a gen_init_cpio list, without root, mkfs or mount. ' +
    'TYPE picks the filesystem; each has its own options.',
  label: 'TYPE',
  subcommands: {
    ext4: ext('ext4'),
    ext3: ext('ext3'),
    ext2: ext('ext2'),
    fat32: fat('fat32'),
    fat16: fat('fat16'),
    fat12: fat('fat12'),
    fat: fat(undefined),
    erofs: async () => (await import('./mkfs-erofs.js')).mkfsErofsCommand(),
  },
  aliases: { vfat: 'fat' },
};
