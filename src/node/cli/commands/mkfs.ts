import type { CommandGroup } from '../command.js';

type ExtType = 'ext4' | 'ext3' | 'ext2';
type FatType = 'fat32' | 'fat16' | 'fat12' | undefined;
const ext = (type: ExtType) => async () => (await import('./mkfs-ext.js')).mkfsExtCommand(type);
const fat = (type: FatType) => async () => (await import('./mkfs-fat.js')).mkfsFatCommand(type);
const iso = async () => (await import('./mkfs-iso.js')).mkfsIsoCommand();
const squashfs = async () => (await import('./mkfs-squashfs.js')).mkfsSquashfsCommand();

export const command: CommandGroup = {
  kind: 'group',
  name: 'mkfs',
  summary: 'write an ext2/3/4, FAT12/16/32, squashfs or ISO 9660 image from any source or a list',
  description:
    'Write a filesystem image from any source (a directory, a tarball, a container image, another image) ' +
    'or a gen_init_cpio list, without root, mkfs or mount. TYPE picks the filesystem; each has its own ' +
    'options. --format writes the image inside a qcow2, VHD, VMDK or Android sparse container.',
  label: 'TYPE',
  subcommands: {
    ext4: ext('ext4'),
    ext3: ext('ext3'),
    ext2: ext('ext2'),
    fat32: fat('fat32'),
    fat16: fat('fat16'),
    fat12: fat('fat12'),
    fat: fat(undefined),
    iso9660: iso,
    squashfs,
    erofs: async () => (await import('./mkfs-erofs.js')).mkfsErofsCommand(),
  },
  aliases: { vfat: 'fat', iso: 'iso9660' },
};
