/**
 * Unified kernel images, as systemd's ukify builds them, in pure TypeScript:
 * systemd's EFI stub (linuxx64.efi.stub) plus `.osrel`, `.cmdline`,
 * `.initrd` and `.linux` sections appended in that order (`.linux` last, so
 * the kernel can grow past its section when it decompresses).
 *
 * Without a stub, the "bare kernel" path returns the EFI-stub kernel itself
 * (it is already a PE image the firmware can start); it then has no way to
 * carry an initrd or command line, so those must be built into the kernel
 * (CONFIG_CMDLINE, CONFIG_INITRAMFS_SOURCE) and passing them is an error.
 */
import { FormatError, UsageError } from '../errors.js';
import {
  appendSections,
  MACHINE_X86_64,
  parsePe,
  sectionData,
  SUBSYSTEM_EFI_APPLICATION,
  type NewSection,
} from './pe.js';

/** Where Debian's systemd-boot-efi installs the x86-64 stub (read it on the host and pass it as `stub`). */
export const DEFAULT_EFI_STUB_PATH = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

export const DEFAULT_OSREL = 'NAME="Tiny Linux"\nID=tinylinux\nPRETTY_NAME="Tiny Linux"\n';

export interface UkiInput {
  /** systemd's EFI stub. Omit for the bare-kernel path. */
  stub?: Uint8Array;
  /** The kernel (bzImage with the EFI stub). */
  linux: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** os-release text for `.osrel` (default: Tiny Linux). */
  osrel?: string;
}

/** Check that `kernel` is an x86 bzImage with an EFI stub (PE header, "HdrS" setup header). */
export function checkEfiKernel(kernel: Uint8Array): void {
  if (
    kernel.length < 0x260 ||
    kernel[0x202] !== 0x48 ||
    kernel[0x203] !== 0x64 ||
    kernel[0x204] !== 0x72 ||
    kernel[0x205] !== 0x53
  ) {
    throw new FormatError('E_FORMAT_KERNEL', 'the kernel is not an x86 bzImage (no "HdrS" setup header at 0x202)', {
      format: 'bzImage',
      offset: 0x202,
    });
  }
  try {
    const pe = parsePe(kernel);
    if (pe.subsystem !== SUBSYSTEM_EFI_APPLICATION)
      throw new FormatError(
        'E_FORMAT_KERNEL',
        `the kernel's PE subsystem is ${pe.subsystem}, not an EFI application (10)`,
        { format: 'pe' },
      );
  } catch (e) {
    if (e instanceof FormatError && e.code !== 'E_FORMAT_KERNEL')
      throw new FormatError(
        'E_FORMAT_KERNEL_NO_EFI',
        `the kernel has no usable EFI stub (CONFIG_EFI_STUB): ${e.message}`,
        { format: 'bzImage' },
        { cause: e },
      );
    throw e;
  }
}

/** Build a UKI (or, without a stub, return the bare EFI-stub kernel). */
export function buildUki(input: UkiInput): Uint8Array {
  checkEfiKernel(input.linux);
  if (!input.stub) {
    if (input.initrd || input.cmdline) {
      throw new UsageError(
        'E_USAGE_UKI_BARE',
        'a bare EFI-stub kernel cannot carry an initrd or command line; pass the systemd EFI stub (stub) or build them into the kernel',
        {},
      );
    }
    return input.linux;
  }
  const stub = parsePe(input.stub);
  if (stub.machine !== MACHINE_X86_64)
    throw new FormatError(
      'E_FORMAT_PE_MACHINE',
      `the EFI stub is for machine 0x${stub.machine.toString(16)}, not x86-64`,
      { format: 'pe', field: 'machine' },
    );
  if (!stub.sections.some((s) => s.name === '.sdmagic'))
    throw new FormatError('E_FORMAT_UKI_STUB', 'this PE image is not a systemd EFI stub (no .sdmagic section)', {
      format: 'pe',
    });
  if (stub.sections.some((s) => s.name === '.linux'))
    throw new UsageError(
      'E_USAGE_UKI_STUB',
      'the stub already contains a .linux section (it is a UKI, not a stub)',
      {},
    );
  const enc = new TextEncoder();
  const add: NewSection[] = [{ name: '.osrel', data: enc.encode(input.osrel ?? DEFAULT_OSREL) }];
  if (input.cmdline !== undefined) add.push({ name: '.cmdline', data: enc.encode(input.cmdline.replace(/\n+$/, '')) });
  if (input.initrd) add.push({ name: '.initrd', data: input.initrd });
  add.push({ name: '.linux', data: input.linux });
  return appendSections(input.stub, add);
}

export interface UkiParts {
  osrel?: string;
  cmdline?: string;
  initrd?: Uint8Array;
  linux?: Uint8Array;
  sections: string[];
}

/** Read the payload sections of a UKI back. */
export function readUki(bytes: Uint8Array): UkiParts {
  const pe = parsePe(bytes);
  const dec = new TextDecoder();
  const txt = (n: string) => {
    const d = sectionData(bytes, pe, n);
    return d ? dec.decode(d) : undefined;
  };
  const out: UkiParts = { sections: pe.sections.map((s) => s.name) };
  const osrel = txt('.osrel');
  if (osrel !== undefined) out.osrel = osrel;
  const cmdline = txt('.cmdline');
  if (cmdline !== undefined) out.cmdline = cmdline;
  const initrd = sectionData(bytes, pe, '.initrd');
  if (initrd) out.initrd = initrd;
  const linux = sectionData(bytes, pe, '.linux');
  if (linux) out.linux = linux;
  return out;
}
