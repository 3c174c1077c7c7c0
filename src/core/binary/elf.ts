/**
 * ELF headers (System V ABI, "ELF-64 Object File Format"), shared by the
 * kernel module reader (src/core/initramfs/modules.ts) and architecture
 * detection (src/core/arch.ts). `ELF_HEAD` is the part every ELF file has at
 * the same offsets whatever its class (32 or 64 bit): the identification
 * bytes, e_type and e_machine.
 */
import { defineStruct } from './struct.js';

/** The class-independent start of an ELF file: e_ident, e_type, e_machine (little-endian view). */
export const ELF_HEAD = defineStruct('ELF identification + e_type + e_machine', 20, [
  { name: 'magic', offset: 0, type: 'u32be' },
  { name: 'class', offset: 4, type: 'u8' },
  { name: 'data', offset: 5, type: 'u8' },
  { name: 'version', offset: 6, type: 'u8' },
  { name: 'osabi', offset: 7, type: 'u8' },
  { name: 'abiVersion', offset: 8, type: 'u8' },
  { name: 'pad', offset: 9, type: 'bytes', length: 7 },
  { name: 'type', offset: 16, type: 'u16le' },
  { name: 'machine', offset: 18, type: 'u16le' },
] as const);

/** ELF64 file header (only little-endian ELF64 is supported: x86_64, aarch64, riscv64). */
export const Elf64Header = defineStruct('Elf64_Ehdr', 64, [
  { name: 'ident', offset: 0, type: 'bytes', length: 16 },
  { name: 'type', offset: 16, type: 'u16le' },
  { name: 'machine', offset: 18, type: 'u16le' },
  { name: 'version', offset: 20, type: 'u32le' },
  { name: 'entry', offset: 24, type: 'u64le' },
  { name: 'phoff', offset: 32, type: 'u64le' },
  { name: 'shoff', offset: 40, type: 'u64le' },
  { name: 'flags', offset: 48, type: 'u32le' },
  { name: 'ehsize', offset: 52, type: 'u16le' },
  { name: 'phentsize', offset: 54, type: 'u16le' },
  { name: 'phnum', offset: 56, type: 'u16le' },
  { name: 'shentsize', offset: 58, type: 'u16le' },
  { name: 'shnum', offset: 60, type: 'u16le' },
  { name: 'shstrndx', offset: 62, type: 'u16le' },
] as const);

/** ELF64 section header. */
export const Elf64SectionHeader = defineStruct('Elf64_Shdr', 64, [
  { name: 'name', offset: 0, type: 'u32le' },
  { name: 'type', offset: 4, type: 'u32le' },
  { name: 'flags', offset: 8, type: 'u64le' },
  { name: 'addr', offset: 16, type: 'u64le' },
  { name: 'offset', offset: 24, type: 'u64le' },
  { name: 'size', offset: 32, type: 'u64le' },
  { name: 'link', offset: 40, type: 'u32le' },
  { name: 'info', offset: 44, type: 'u32le' },
  { name: 'addralign', offset: 48, type: 'u64le' },
  { name: 'entsize', offset: 56, type: 'u64le' },
] as const);

/** "\x7fELF" read big-endian. */
export const ELF_MAGIC = 0x7f454c46;
export const ELFCLASS32 = 1;
export const ELFCLASS64 = 2;
export const ELFDATA2LSB = 1;
export const ELFDATA2MSB = 2;
export const SHT_NOBITS = 8;

/** e_machine values (the ones tinyimage names; the ABI lists many more). */
export const EM_386 = 3;
export const EM_ARM = 40;
export const EM_X86_64 = 62;
export const EM_AARCH64 = 183;
export const EM_RISCV = 243;

/** Names of the e_machine values above, for messages. */
export const ELF_MACHINE_NAMES: Readonly<Record<number, string>> = {
  [EM_386]: 'i386',
  [EM_ARM]: '32-bit ARM',
  [EM_X86_64]: 'x86-64',
  [EM_AARCH64]: 'AArch64',
  [EM_RISCV]: 'RISC-V',
};
