/**
 * Unified kernel images, as systemd's ukify builds them, in pure TypeScript:
 * systemd's EFI stub (linuxx64.efi.stub, linuxaa64.efi.stub: its machine
 * must be the kernel's) plus `.osrel`, `.cmdline`,
 * `.initrd` and `.linux` sections appended in that order (`.linux` last, so
 * the kernel can grow past its section when it decompresses).
 *
 * Without a stub, the "bare kernel" path returns the EFI-stub kernel itself
 * (it is already a PE image the firmware can start); it then has no way to
 * carry an initrd or command line, so those must be built into the kernel
 * (CONFIG_CMDLINE, CONFIG_INITRAMFS_SOURCE) and passing them is an error.
 */
import { FormatError, UsageError } from '../errors.js';
import { archOfPeMachine, ARCH_FACTS, peMachineName, type Arch } from '../arch.js';
import { appendSections, parsePe, sectionData, type NewSection, type PeImage } from './pe.js';
import { identifyKernel, type KernelInfo } from './kernel.js';

/** Where Debian's systemd-boot-efi installs the x86-64 stub (read it on the host and pass it as `stub`). */
export const DEFAULT_EFI_STUB_PATH = '/usr/lib/systemd/boot/efi/linuxx64.efi.stub';

/** Where Debian's systemd-boot-efi installs each architecture's stub (systemd-boot-efi:arm64 for arm64). */
export function efiStubPath(arch: Arch): string {
  return `/usr/lib/systemd/boot/efi/${ARCH_FACTS[arch].efiStub}`;
}

export const DEFAULT_OSREL = 'NAME="Tiny Linux"\nID=tinylinux\nPRETTY_NAME="Tiny Linux"\n';

export interface UkiInput {
  /** systemd's EFI stub. Omit for the bare-kernel path. */
  stub?: Uint8Array;
  /** The kernel: an x86 bzImage or an uncompressed arm64 Image, with the EFI stub. */
  linux: Uint8Array;
  initrd?: Uint8Array;
  cmdline?: string;
  /** os-release text for `.osrel` (default: Tiny Linux). */
  osrel?: string;
}

/**
 * Check that `kernel` is an EFI-stub kernel (CONFIG_EFI_STUB): an x86
 * bzImage or an arm64 Image (or EFI zboot image) that is also a PE/COFF EFI
 * application for its own architecture. Returns what it is.
 */
export function checkEfiKernel(kernel: Uint8Array): KernelInfo {
  const info = identifyKernel(kernel);
  if (info.efiMachine === undefined)
    throw new FormatError(
      'E_FORMAT_KERNEL_NO_EFI',
      `the kernel (${info.description}) has no EFI stub: it is not a PE/COFF EFI application (build it with CONFIG_EFI_STUB)`,
      { format: 'kernel' },
    );
  if (archOfPeMachine(info.efiMachine) !== info.arch)
    throw new FormatError(
      'E_FORMAT_KERNEL',
      `the kernel is ${info.description} but its EFI stub is for ${peMachineName(info.efiMachine)}`,
      { format: 'pe', field: 'machine', actual: info.efiMachine },
    );
  return info;
}

/** systemd-stub's identification string; stubs built without a .sdmagic section (arm64 before systemd 253) carry it in .data. */
const SD_STUB_MARKER = new TextEncoder().encode('#### LoaderInfo: systemd-stub');

function hasMarker(bytes: Uint8Array, marker: Uint8Array): boolean {
  const first = marker[0]!;
  for (let i = bytes.indexOf(first); i >= 0 && i + marker.length <= bytes.length; i = bytes.indexOf(first, i + 1)) {
    let j = 1;
    while (j < marker.length && bytes[i + j] === marker[j]) j++;
    if (j === marker.length) return true;
  }
  return false;
}

/** Check that `stub` is systemd's EFI stub for the kernel's architecture. */
function checkStub(stub: Uint8Array, pe: PeImage, kernel: KernelInfo): void {
  if (pe.machine !== kernel.efiMachine)
    throw new FormatError(
      'E_FORMAT_PE_MACHINE',
      `the EFI stub is for ${peMachineName(pe.machine)} but the kernel is ${kernel.description} for ${kernel.arch}: ` +
        `use systemd-boot-efi's ${ARCH_FACTS[kernel.arch].efiStub}`,
      { format: 'pe', field: 'machine', expected: kernel.efiMachine, actual: pe.machine },
    );
  if (!pe.sections.some((s) => s.name === '.sdmagic') && !hasMarker(stub, SD_STUB_MARKER))
    throw new FormatError(
      'E_FORMAT_UKI_STUB',
      'this PE image is not a systemd EFI stub (no .sdmagic section, no systemd-stub LoaderInfo string)',
      { format: 'pe' },
    );
  if (pe.sections.some((s) => s.name === '.linux'))
    throw new UsageError(
      'E_USAGE_UKI_STUB',
      'the stub already contains a .linux section (it is a UKI, not a stub)',
      {},
    );
}

/** Build a UKI (or, without a stub, return the bare EFI-stub kernel). */
export function buildUki(input: UkiInput): Uint8Array {
  const kernel = checkEfiKernel(input.linux);
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
  checkStub(input.stub, parsePe(input.stub), kernel);
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
