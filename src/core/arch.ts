/**
 * The machine architectures tinyimage builds systems for, and how to tell a
 * binary's architecture from its own headers, without running it: ELF
 * e_machine (busybox, kernel modules), PE/COFF machine (EFI stubs, EFI-stub
 * kernels). Kernel images are identified in boot/kernel.ts. Policy (which
 * parts must agree, what a build defaults to) is the caller's; this file
 * only states facts and names them for messages.
 */
import { UsageError } from './errors.js';
import {
  ELF_HEAD,
  ELF_MACHINE_NAMES,
  ELF_MAGIC,
  ELFCLASS32,
  ELFCLASS64,
  ELFDATA2LSB,
  ELFDATA2MSB,
  EM_AARCH64,
  EM_X86_64,
} from './binary/elf.js';
import { MACHINE_ARM64, MACHINE_I386, MACHINE_RISCV64, MACHINE_X86_64 } from './boot/pe.js';

export type Arch = 'x86_64' | 'arm64';
export const ARCHES: readonly Arch[] = ['x86_64', 'arm64'];

export interface ArchFacts {
  /** ELF e_machine of its binaries. */
  elfMachine: number;
  /** PE/COFF machine of its EFI executables. */
  peMachine: number;
  /** Where UEFI firmware looks for the loader on removable media. */
  efiRemovablePath: string;
  /** File name of systemd's EFI stub for this architecture. */
  efiStub: string;
  /** GPT type alias of its root partition (Discoverable Partitions Specification). */
  gptRootType: string;
  /** Debian's name for it (dpkg --print-architecture). */
  debian: string;
}

export const ARCH_FACTS: Readonly<Record<Arch, ArchFacts>> = {
  x86_64: {
    elfMachine: EM_X86_64,
    peMachine: MACHINE_X86_64,
    efiRemovablePath: '/EFI/BOOT/BOOTX64.EFI',
    efiStub: 'linuxx64.efi.stub',
    gptRootType: 'root-x86-64',
    debian: 'amd64',
  },
  arm64: {
    elfMachine: EM_AARCH64,
    peMachine: MACHINE_ARM64,
    efiRemovablePath: '/EFI/BOOT/BOOTAA64.EFI',
    efiStub: 'linuxaa64.efi.stub',
    gptRootType: 'root-arm64',
    debian: 'arm64',
  },
};

const PE_MACHINE_NAMES: Readonly<Record<number, string>> = {
  [MACHINE_I386]: 'i386',
  [MACHINE_X86_64]: 'x86-64',
  [MACHINE_ARM64]: 'AArch64',
  [MACHINE_RISCV64]: 'RISC-V 64',
};

export function isArch(s: unknown): s is Arch {
  return typeof s === 'string' && (ARCHES as readonly string[]).includes(s);
}

/** The architecture of a PE/COFF machine type, or undefined for one tinyimage does not build for. */
export function archOfPeMachine(machine: number): Arch | undefined {
  return ARCHES.find((a) => ARCH_FACTS[a].peMachine === machine);
}

/** "x86-64 (0x8664)" */
export function peMachineName(machine: number): string {
  return `${PE_MACHINE_NAMES[machine] ?? 'unknown machine'} (0x${machine.toString(16)})`;
}

/** What an ELF file says about itself. */
export interface ElfFacts {
  /** 32 or 64. */
  bits: 32 | 64;
  littleEndian: boolean;
  machine: number;
  /** tinyimage's name of that architecture, when it builds for it (64-bit little-endian x86-64 or AArch64). */
  arch?: Arch;
  /** For messages: "ELF 64-bit AArch64, e_machine 183". */
  description: string;
}

/** The ELF identification of `bytes` (the first 20 bytes are enough), or undefined when it is not ELF. */
export function elfFacts(bytes: Uint8Array): ElfFacts | undefined {
  if (bytes.length < ELF_HEAD.size) return undefined;
  const h = ELF_HEAD.decode(bytes);
  if (h.magic !== ELF_MAGIC) return undefined;
  if (h.class !== ELFCLASS32 && h.class !== ELFCLASS64) return undefined;
  if (h.data !== ELFDATA2LSB && h.data !== ELFDATA2MSB) return undefined;
  const littleEndian = h.data === ELFDATA2LSB;
  const machine = littleEndian ? h.machine : ((h.machine & 0xff) << 8) | (h.machine >> 8);
  const bits = h.class === ELFCLASS64 ? 64 : 32;
  const arch = bits === 64 && littleEndian ? ARCHES.find((a) => ARCH_FACTS[a].elfMachine === machine) : undefined;
  const name = ELF_MACHINE_NAMES[machine] ?? 'unknown machine';
  const description = `ELF ${bits}-bit${littleEndian ? '' : ' big-endian'} ${name}, e_machine ${machine}`;
  return { bits, littleEndian, machine, ...(arch ? { arch } : {}), description };
}

/** One part of a system whose architecture was read from its headers (or chosen by the user). */
export interface ArchWitness {
  /** What it is, for messages: "the kernel", "the busybox binary", "the EFI stub", "arch in the spec". */
  what: string;
  /** Its file, when it has one. */
  path?: string;
  /** Its architecture; undefined when it could not be told (that part is then not checked). */
  arch?: Arch;
  /** How that was read: "an arm64 Image", "ELF 64-bit x86-64, e_machine 62". */
  how?: string;
}

function describeWitness(w: ArchWitness): string {
  const what = w.path ? `${w.what} ${w.path}` : w.what;
  return `${what} is ${w.arch}${w.how ? ` (${w.how})` : ''}`;
}

/**
 * Throw UsageError E_USAGE_ARCH_MISMATCH when two parts of a system are for
 * different architectures, naming both; parts whose architecture is unknown
 * are skipped. Returns the common architecture (undefined when none is known).
 */
export function checkArchAgreement(parts: readonly ArchWitness[]): Arch | undefined {
  const known = parts.filter((p): p is ArchWitness & { arch: Arch } => p.arch !== undefined);
  const first = known[0];
  if (!first) return undefined;
  const other = known.find((p) => p.arch !== first.arch);
  if (other)
    throw new UsageError(
      'E_USAGE_ARCH_MISMATCH',
      `architecture mix-up: ${describeWitness(first)}, but ${describeWitness(other)}; ` +
        'give parts built for one architecture',
      {
        field: 'arch',
        expected: first.arch,
        actual: other.arch,
        parts: known.map((p) => ({ what: p.what, arch: p.arch, ...(p.path ? { path: p.path } : {}) })),
      },
    );
  return first.arch;
}
