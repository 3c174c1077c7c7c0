/**
 * The Raspberry Pi facts that booting a card needs without building one: the
 * boards (device tree, serial console, QEMU machine), the boot partition's
 * file names and the reading of config.txt. Kept apart from rpi.ts so the
 * QEMU harness loads them without the image writers.
 */
import { UsageError } from '../errors.js';

export interface RpiBoard {
  name: string;
  /** Its device tree under the mainline kernel's name (in the kernel package's broadcom/ directory). */
  dtb: string;
  /** The tty of its serial console on GPIO 14/15 with the mainline device tree (the mini UART). */
  serial: string;
  /** The QEMU machine that emulates it, when there is one. */
  qemu?: string;
}

/** Boards that run an arm64 kernel, by the name `board` takes. */
export const RPI_BOARDS: Readonly<Record<string, RpiBoard>> = {
  '3b': { name: 'Raspberry Pi 3 Model B', dtb: 'bcm2837-rpi-3-b.dtb', serial: 'ttyS1', qemu: 'raspi3b' },
  '3b+': { name: 'Raspberry Pi 3 Model B+', dtb: 'bcm2837-rpi-3-b-plus.dtb', serial: 'ttyS1' },
  '3a+': { name: 'Raspberry Pi 3 Model A+', dtb: 'bcm2837-rpi-3-a-plus.dtb', serial: 'ttyS1', qemu: 'raspi3ap' },
  zero2w: { name: 'Raspberry Pi Zero 2 W', dtb: 'bcm2837-rpi-zero-2-w.dtb', serial: 'ttyS1' },
  '4b': { name: 'Raspberry Pi 4 Model B', dtb: 'bcm2711-rpi-4-b.dtb', serial: 'ttyS1', qemu: 'raspi4b' },
  pi400: { name: 'Raspberry Pi 400', dtb: 'bcm2711-rpi-400.dtb', serial: 'ttyS1' },
  cm4: { name: 'Raspberry Pi Compute Module 4 (IO board)', dtb: 'bcm2711-rpi-cm4-io.dtb', serial: 'ttyS1' },
};
export type RpiBoardName = keyof typeof RPI_BOARDS;
export const DEFAULT_RPI_BOARD = '3b';

export const RPI_KERNEL = 'kernel8.img';
export const RPI_INITRD = 'initrd.img';

/** The board of that name, or a UsageError listing them. */
export function rpiBoard(name: string = DEFAULT_RPI_BOARD): RpiBoard {
  const b = Object.hasOwn(RPI_BOARDS, name) ? RPI_BOARDS[name] : undefined;
  if (!b)
    throw new UsageError(
      'E_USAGE_RPI_BOARD',
      `unknown Raspberry Pi board '${name}' (known: ${Object.keys(RPI_BOARDS).join(', ')})`,
      { field: 'board', actual: name },
    );
  return b;
}

/** What the QEMU harness needs from config.txt: the kernel and initramfs file names. */
export function readRpiConfigTxt(text: string): { kernel?: string; initramfs?: string } {
  const out: { kernel?: string; initramfs?: string } = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/#.*/, '').trim();
    if (/^\[/.test(line) && !/^\[all\]$/i.test(line)) break; // conditional sections: the common part is enough
    const kv = /^kernel\s*=\s*(\S+)$/.exec(line);
    if (kv) out.kernel = kv[1]!;
    const ir = /^initramfs\s+(\S+)/.exec(line);
    if (ir) out.initramfs = ir[1]!;
  }
  return out;
}
