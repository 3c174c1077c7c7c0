/**
 * What a disk image boots on, read from the image itself: a Raspberry Pi SD
 * card (config.txt and the kernel it names on the first FAT partition), a
 * UEFI disk (the removable-media loader of its ESP tells the architecture)
 * or anything else (a PC disk). And, for QEMU's Raspberry Pi machines, which
 * boot no firmware: the kernel, device tree, initramfs and command line
 * taken from the card's boot partition into temporary files.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ARCH_FACTS, ARCHES, type Arch } from '../../core/arch.js';
import { UsageError } from '../../core/errors.js';
import type { FsImage } from '../../core/open/index.js';
import { readRpiConfigTxt, RPI_BOARDS, RPI_KERNEL } from '../../core/system/rpi-boards.js';
import { raspiSerialPort } from './args.js';

export interface BootTarget {
  arch: Arch;
  /** 'raspi3b' for a Raspberry Pi card; undefined: the architecture's default machine. */
  machine?: string;
  /** 'uefi' when the disk has a UEFI loader for its architecture. */
  firmware?: 'uefi';
  /** For messages: "a Raspberry Pi SD card", "a UEFI disk (/EFI/BOOT/BOOTAA64.EFI)". */
  description: string;
}

/** The FAT filesystems of a disk image (or the image itself when it is one). */
async function fatVolumes(disk: string): Promise<{ volumes: FsImage[]; close(): void }> {
  // the image readers (and their codecs) load only when a disk is looked into, not with the harness
  const { openImage } = await import('../open.js');
  const { isDisk } = await import('../../core/open/index.js');
  const img = await openImage(disk);
  const all = isDisk(img) ? img.partitions.flatMap((p) => (p.fs ? [p.fs] : [])) : [img];
  return { volumes: all.filter((f) => f.kind.startsWith('fat')), close: () => img.close() };
}

/** What `disk` boots on, or undefined when it shows no sign (then: a PC disk). */
export async function detectBootTarget(disk: string): Promise<BootTarget | undefined> {
  let opened: Awaited<ReturnType<typeof fatVolumes>>;
  try {
    opened = await fatVolumes(disk);
  } catch {
    return undefined;
  }
  try {
    for (const fs of opened.volumes) {
      if (
        fs.exists('/config.txt') &&
        fs.exists(`/${readRpiConfigTxt(await text(fs, '/config.txt')).kernel ?? RPI_KERNEL}`)
      )
        return { arch: 'arm64', machine: 'raspi3b', description: 'a Raspberry Pi SD card' };
      for (const arch of ARCHES) {
        const loader = ARCH_FACTS[arch].efiRemovablePath;
        if (fs.exists(loader)) return { arch, firmware: 'uefi', description: `a UEFI disk (${loader})` };
      }
    }
    return undefined;
  } finally {
    opened.close();
  }
}

async function text(fs: FsImage, path: string): Promise<string> {
  return new TextDecoder().decode(await fs.readFile(path));
}

export interface RaspiBootFiles {
  kernel: string;
  dtb: string;
  initrd?: string;
  append: string;
  /** The serial port the command line's console is on: 0 = PL011 (ttyAMA0), 1 = mini UART (ttyS1). */
  serialPort: number;
  cleanup(): void;
}

/** The size the guest sees: a container's virtual disk (qcow2, VHD, VMDK), else the file's. */
async function guestSize(disk: string): Promise<number> {
  const { FileDevice } = await import('../io/file.js');
  const { openContainer } = await import('../../core/container/open.js');
  const f = FileDevice.open(disk);
  try {
    return openContainer(f)?.device.size ?? f.size;
  } catch {
    return f.size; // not a container we can open: QEMU will say what it is
  } finally {
    f.close();
  }
}

async function checkSdSize(disk: string): Promise<void> {
  const size = await guestSize(disk);
  if (size & (size - 1))
    throw new UsageError(
      'E_USAGE_SD_SIZE',
      `${disk} is ${size} bytes: QEMU's SD card emulation takes only power-of-two sizes ` +
        "(build it with 'disk: { powerOfTwo: true }', as the rpi preset does, or grow it with truncate -s)",
      { path: disk, actual: size },
    );
}

/**
 * The kernel (config.txt's kernel=, default kernel8.img), the device tree of
 * the board QEMU's `machine` emulates, the initramfs (config.txt's
 * initramfs line) and cmdline.txt of a Raspberry Pi card's boot partition,
 * copied to a temporary directory that cleanup() removes.
 */
export async function raspiBootFiles(disk: string, machine = 'raspi3b'): Promise<RaspiBootFiles> {
  await checkSdSize(disk);
  const board = Object.values(RPI_BOARDS).find((b) => b.qemu === machine);
  if (!board)
    throw new UsageError('E_USAGE_QEMU', `no Raspberry Pi board is known for QEMU machine '${machine}'`, {
      field: 'machine',
    });
  const { volumes, close } = await fatVolumes(disk);
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-raspi-'));
  try {
    const boot = volumes.find((f) => f.exists('/config.txt'));
    if (!boot)
      throw new UsageError(
        'E_USAGE_NOT_RPI',
        `${disk} is not a Raspberry Pi SD card: no FAT partition with config.txt`,
        {
          path: disk,
        },
      );
    const config = readRpiConfigTxt(await text(boot, '/config.txt'));
    const copy = async (name: string, what: string): Promise<string> => {
      if (!boot.exists(`/${name}`))
        throw new UsageError('E_USAGE_NOT_RPI', `${disk}: the boot partition has no ${name} (${what})`, { path: disk });
      const p = join(dir, name.replace(/\//g, '_'));
      writeFileSync(p, await boot.readFile(`/${name}`));
      return p;
    };
    const kernel = await copy(config.kernel ?? RPI_KERNEL, 'the kernel config.txt names');
    const dtb = await copy(board.dtb, `the device tree of the ${board.name}`);
    const initrd = config.initramfs ? await copy(config.initramfs, 'the initramfs config.txt names') : undefined;
    const append = boot.exists('/cmdline.txt') ? (await text(boot, '/cmdline.txt')).trim() : '';
    return {
      kernel,
      dtb,
      ...(initrd ? { initrd } : {}),
      append,
      serialPort: raspiSerialPort(append),
      cleanup: () => rmSync(dir, { recursive: true, force: true }),
    };
  } catch (e) {
    rmSync(dir, { recursive: true, force: true });
    throw e;
  } finally {
    close();
  }
}
