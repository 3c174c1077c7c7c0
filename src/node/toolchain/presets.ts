/**
 * Kernel option sets and busybox configurations shipped with tinyimage.
 * Every option listed here is checked after `make olddefconfig`: a preset
 * that no longer applies to a kernel version fails loudly, naming the option.
 */

export type KernelPreset = 'tiny' | 'disk';

export interface KernelPresetDef {
  /** Base configuration target. */
  base: 'tinyconfig' | 'defconfig';
  /** Options set to y (or NAME=value). */
  enable: string[];
  /** Options set to n. */
  disable: string[];
  /** Expected number of compiled objects (`  CC ` lines), for progress before a first build. */
  estimatedObjects: number;
}

/** Console on serial, initramfs, ELF+scripts, proc/sys/devtmpfs, EFI stub (OVMF), xz everywhere. */
const TINY_ENABLE = [
  '64BIT',
  'PRINTK',
  'TTY',
  'SERIAL_8250',
  'SERIAL_8250_CONSOLE',
  'BLK_DEV_INITRD',
  'RD_GZIP',
  'BINFMT_ELF',
  'BINFMT_SCRIPT',
  'PROC_FS',
  'SYSFS',
  'DEVTMPFS',
  'DEVTMPFS_MOUNT',
  // EFI depends on ACPI on x86.
  'ACPI',
  'EFI',
  'EFI_STUB',
];

/**
 * What the BIOS disk system needs built in (no initramfs, no modules):
 * virtio/IDE/AHCI disks with ext4 on MBR or GPT, virtio-net/e1000 with
 * packet sockets for udhcpc, logins (MULTIUSER), runit (inotify, epoll),
 * syslogd/klogd, ptys for telnet/getty.
 */
const DISK_ENABLE = [
  ...TINY_ENABLE,
  // buses and disks
  'PCI',
  'VIRTIO_MENU',
  'VIRTIO_PCI',
  'BLOCK',
  'BLK_DEV',
  'VIRTIO_BLK',
  'ATA',
  'ATA_SFF',
  'ATA_BMDMA',
  'ATA_PIIX',
  'SATA_AHCI',
  'SCSI',
  'BLK_DEV_SD',
  // filesystems and partition tables
  'EXT4_FS',
  'PARTITION_ADVANCED',
  'MSDOS_PARTITION',
  'EFI_PARTITION',
  'SHMEM',
  'TMPFS',
  'FILE_LOCKING',
  'INOTIFY_USER',
  // networking
  'NET',
  'INET',
  'PACKET',
  'UNIX',
  'NETDEVICES',
  'NET_CORE',
  'VIRTIO_NET',
  'ETHERNET',
  'NET_VENDOR_INTEL',
  'E1000',
  // userland basics
  'MULTIUSER',
  'FUTEX',
  'POSIX_TIMERS',
  'EPOLL',
  'SIGNALFD',
  'TIMERFD',
  'EVENTFD',
  'SYSVIPC',
  'PROC_SYSCTL',
  'UNIX98_PTYS',
  'VT',
  'VT_CONSOLE',
  'KALLSYMS',
];

export const KERNEL_PRESETS: Record<KernelPreset, KernelPresetDef> = {
  tiny: { base: 'tinyconfig', enable: TINY_ENABLE, disable: [], estimatedObjects: 900 },
  disk: { base: 'tinyconfig', enable: DISK_ENABLE, disable: [], estimatedObjects: 1320 },
};

/** Kernel compression: KERNEL_* for the bzImage payload, RD_* + INITRAMFS_COMPRESSION_* for a built-in initramfs. */
export function compressionOptions(c: 'xz' | 'gzip'): { enable: string[] } {
  return c === 'xz'
    ? { enable: ['KERNEL_XZ', 'RD_XZ', 'INITRAMFS_COMPRESSION_XZ'] }
    : { enable: ['KERNEL_GZIP', 'RD_GZIP', 'INITRAMFS_COMPRESSION_GZIP'] };
}

export type BusyboxPreset = 'defconfig' | 'tiny';

/**
 * Applets kept by the `tiny` busybox configuration (allnoconfig + these):
 * enough for an initramfs /init script, a shell, and poking around.
 */
export const BUSYBOX_TINY_ENABLE = [
  'STATIC',
  'SHOW_USAGE',
  'BUSYBOX',
  'FEATURE_INSTALLER',
  'LONG_OPTS',
  'FEATURE_DEVPTS',
  // shell
  'ASH',
  'ASH_OPTIMIZE_FOR_SIZE',
  'ASH_ECHO',
  'ASH_PRINTF',
  'ASH_TEST',
  'ASH_JOB_CONTROL',
  'ASH_ALIAS',
  'ASH_GETOPTS',
  'ASH_CMDCMD',
  'SH_IS_ASH',
  'BASH_IS_NONE',
  'FEATURE_EDITING',
  'FEATURE_TAB_COMPLETION',
  // coreutils
  'CAT',
  'CP',
  'MV',
  'RM',
  'LN',
  'LS',
  'MKDIR',
  'RMDIR',
  'ECHO',
  'PRINTF',
  'TEST',
  'TEST1',
  'TEST2',
  'UNAME',
  'SLEEP',
  'DMESG',
  'HEAD',
  'TAIL',
  'WC',
  'CHMOD',
  'CHOWN',
  'TOUCH',
  'DF',
  'DU',
  'PWD',
  'TRUE',
  'FALSE',
  'DATE',
  'SYNC',
  'ID',
  'FEATURE_LS_COLOR',
  'FEATURE_LS_FILETYPES',
  'GREP',
  'SED',
  'VI',
  'LESS',
  'FIND',
  'XARGS',
  'HEXDUMP',
  'STAT',
  // system
  'MOUNT',
  'UMOUNT',
  'MKNOD',
  'HOSTNAME',
  'PS',
  'KILL',
  'FREE',
  'UPTIME',
  'CLEAR',
  'RESET',
  'POWEROFF',
  'HALT',
  'REBOOT',
  'INIT',
  'SWITCH_ROOT',
  'MDEV',
  'SETSID',
  'CTTYHACK',
  'FEATURE_MOUNT_FLAGS',
];
