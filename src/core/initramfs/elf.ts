/**
 * The little of ELF64 that reading kernel modules needs: the file header,
 * the section headers, and one section's bytes by name (`.modinfo`). Only
 * little-endian 64-bit files (x86_64, aarch64, riscv64 modules).
 */
import { FormatError } from '../errors.js';
import { Elf64Header, Elf64SectionHeader, SHT_NOBITS } from '../binary/elf.js';

export { Elf64Header, Elf64SectionHeader };

/** e_ident: the magic, then EI_CLASS and EI_DATA. */
const ELF_MAGIC = [0x7f, 0x45, 0x4c, 0x46] as const;
const EI_CLASS = 4;
const EI_DATA = 5;
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const SHDR = Elf64SectionHeader.size;

/** The raw bytes of an ELF section by name, or undefined when absent. */
export function elfSection(
  read: (off: number, len: number) => Uint8Array,
  size: number,
  want: string,
  where: string,
): Uint8Array | undefined {
  if (size < Elf64Header.size)
    throw new FormatError('E_FORMAT_ELF', `${where}: ${size} bytes is too short for an ELF header`, {
      path: where,
      actual: size,
    });
  const h = Elf64Header.decode(read(0, Elf64Header.size));
  const id = h.ident;
  if (ELF_MAGIC.some((b, i) => id[i] !== b))
    throw new FormatError('E_FORMAT_ELF', `${where}: not an ELF file`, { path: where, field: 'e_ident' });
  if (id[EI_CLASS] !== ELFCLASS64 || id[EI_DATA] !== ELFDATA2LSB)
    throw new FormatError(
      'E_FORMAT_ELF_CLASS',
      `${where}: only little-endian 64-bit ELF modules are supported (class ${id[EI_CLASS]}, data ${id[EI_DATA]})`,
      { path: where, field: 'e_ident' },
    );
  if (h.shentsize !== Elf64SectionHeader.size)
    throw new FormatError('E_FORMAT_ELF', `${where}: section header size ${h.shentsize}, expected ${SHDR}`, {
      path: where,
      field: 'e_shentsize',
      actual: h.shentsize,
    });
  if (h.shoff + h.shnum * SHDR > size || h.shstrndx >= h.shnum)
    throw new FormatError('E_FORMAT_ELF', `${where}: section header table lies outside the file`, {
      path: where,
      field: 'e_shoff',
      offset: h.shoff,
    });
  const table = read(h.shoff, h.shnum * SHDR);
  const sections = Array.from({ length: h.shnum }, (_, i) => Elf64SectionHeader.decode(table, i * SHDR));
  const strtab = sections[h.shstrndx]!;
  if (strtab.offset + strtab.size > size)
    throw new FormatError('E_FORMAT_ELF', `${where}: section name table lies outside the file`, {
      path: where,
      field: 'shstrtab',
    });
  const names = read(strtab.offset, strtab.size);
  const wantBytes = new TextEncoder().encode(want);
  for (const s of sections) {
    if (s.type === SHT_NOBITS || s.name + wantBytes.length >= names.length) continue;
    let ok = names[s.name + wantBytes.length] === 0;
    for (let i = 0; ok && i < wantBytes.length; i++) ok = names[s.name + i] === wantBytes[i];
    if (!ok) continue;
    if (s.offset + s.size > size)
      throw new FormatError('E_FORMAT_ELF', `${where}: section ${want} lies outside the file`, {
        path: where,
        field: want,
        offset: s.offset,
      });
    return read(s.offset, s.size);
  }
  return undefined;
}
