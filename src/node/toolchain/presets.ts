/**
 * Kernel option sets and busybox configurations shipped with tinyimage.
 * Every option listed here is checked after `make olddefconfig`: a preset
 * that no longer applies to a kernel version fails loudly, naming the option.
 */

import type { Arch } from '../../core/arch.js';

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

/** What every tiny kernel needs to run a busybox initramfs: initrd (gzip), ELF and scripts, proc/sys/devtmpfs. */
const INITRAMFS_USERSPACE = [
  'BLK_DEV_INITRD',
  'RD_GZIP',
  'BINFMT_ELF',
  'BINFMT_SCRIPT',
  'PROC_FS',
  'SYSFS',
  'DEVTMPFS',
  'DEVTMPFS_MOUNT',
];

/** Console on serial, initramfs, ELF+scripts, proc/sys/devtmpfs, EFI stub (OVMF), xz everywhere. */
const TINY_ENABLE = [
  '64BIT',
  'PRINTK',
  'TTY',
  'SERIAL_8250',
  'SERIAL_8250_CONSOLE',
  ...INITRAMFS_USERSPACE,
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

/** The x86_64 option sets. */
export const KERNEL_PRESETS: Record<KernelPreset, KernelPresetDef> = {
  tiny: { base: 'tinyconfig', enable: TINY_ENABLE, disable: [], estimatedObjects: 900 },
  disk: { base: 'tinyconfig', enable: DISK_ENABLE, disable: [], estimatedObjects: 1320 },
};

/**
 * arm64 `tiny`: console on the PL011 (QEMU's virt machine, most arm64
 * servers), initramfs, ELF+scripts, proc/sys/devtmpfs, the EFI stub (the
 * uncompressed Image is itself a PE/COFF EFI application that AAVMF starts)
 * and ACPI: UEFI firmware on arm64 servers (and AAVMF on QEMU's virt
 * machine) describes the hardware with ACPI tables and passes no device
 * tree, so without ACPI the kernel finds no console ("EFI stub: Generating
 * empty DTB", then silence). ACPI needs PCI: without it ACPICA has no
 * PCI_Config region handler and refuses the whole DSDT (AE_BAD_PARAMETER
 * "During Region initialization"), and the PL011 is never enumerated.
 */
const ARM64_TINY_ENABLE = [
  'PRINTK',
  'TTY',
  'SERIAL_AMBA_PL011',
  'SERIAL_AMBA_PL011_CONSOLE',
  ...INITRAMFS_USERSPACE,
  'EFI',
  'EFI_STUB',
  'ACPI',
  'PCI',
];

/** Options of the x86 `disk` set for PC hardware (IDE, AHCI, e1000). */
const X86_ONLY = new Set(['ATA', 'ATA_SFF', 'ATA_BMDMA', 'ATA_PIIX', 'SATA_AHCI', 'NET_VENDOR_INTEL', 'E1000']);

/**
 * arm64 `disk`: what the Raspberry Pi 3/4 SD-card image and QEMU's virt
 * machine need built in (no initramfs, no modules): the BCM2835 family with
 * its mini UART console (ttyS1), SD host controllers (sdhost, emmc2), the
 * generic PCI host with virtio, and the x86 set's disks, filesystems,
 * networking and userland basics.
 */
const ARM64_DISK_ENABLE = [
  ...ARM64_TINY_ENABLE,
  // Raspberry Pi: SoC, serial console on the mini UART, SD card
  'ARCH_BCM',
  'ARCH_BCM2835',
  'SERIAL_8250',
  'SERIAL_8250_CONSOLE',
  'SERIAL_8250_EXTENDED',
  'SERIAL_8250_SHARE_IRQ',
  'SERIAL_8250_BCM2835AUX',
  'MMC',
  'MMC_BLOCK',
  'MMC_BCM2835',
  'MMC_SDHCI',
  'MMC_SDHCI_PLTFM',
  'MMC_SDHCI_IPROC',
  'DMADEVICES',
  'DMA_BCM2835',
  // QEMU virt: the generic PCI host (device tree) with virtio
  'PCI_HOST_GENERIC',
  'VIRTIO_MENU',
  'VIRTIO_PCI',
  // as the x86 set from here: disks, filesystems, networking, userland
  ...DISK_ENABLE.slice(DISK_ENABLE.indexOf('BLOCK')).filter((o) => !X86_ONLY.has(o)),
];

/** The arm64 option sets. */
export const ARM64_KERNEL_PRESETS: Record<KernelPreset, KernelPresetDef> = {
  tiny: { base: 'tinyconfig', enable: ARM64_TINY_ENABLE, disable: [], estimatedObjects: 950 },
  disk: { base: 'tinyconfig', enable: ARM64_DISK_ENABLE, disable: [], estimatedObjects: 1500 },
};

/** The option set of that name for that architecture (undefined for an unknown name). */
export function kernelPresetFor(name: string, arch: Arch = 'x86_64'): KernelPresetDef | undefined {
  const table = arch === 'arm64' ? ARM64_KERNEL_PRESETS : KERNEL_PRESETS;
  return Object.hasOwn(table, name) ? table[name as KernelPreset] : undefined;
}

/**
 * Kernel compression: KERNEL_* for the bzImage payload (x86 only: an arm64
 * Image is uncompressed, the EFI executable AAVMF and the Pi firmware
 * start), RD_* + INITRAMFS_COMPRESSION_* for a built-in initramfs.
 */
export function compressionOptions(c: 'xz' | 'gzip', arch: Arch = 'x86_64'): { enable: string[] } {
  const all =
    c === 'xz'
      ? ['KERNEL_XZ', 'RD_XZ', 'INITRAMFS_COMPRESSION_XZ']
      : ['KERNEL_GZIP', 'RD_GZIP', 'INITRAMFS_COMPRESSION_GZIP'];
  return { enable: arch === 'x86_64' ? all : all.filter((o) => !o.startsWith('KERNEL_')) };
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
