/**
 * Minimal PE/COFF (PE32+) parsing and section appending, enough to build a
 * unified kernel image from systemd's EFI stub and to inspect EFI binaries.
 * Field tables follow the Microsoft PE/COFF specification.
 */
import { defineStruct } from '../binary/struct.js';
import { FormatError, UsageError } from '../errors.js';

export const DOS_HEADER = defineStruct('DOS header', 64, [
  { name: 'magic', offset: 0, type: 'u16le' },
  { name: 'rest', offset: 2, type: 'bytes', length: 58 },
  { name: 'peOffset', offset: 0x3c, type: 'u32le' },
] as const);

export const COFF_HEADER = defineStruct('COFF file header', 20, [
  { name: 'machine', offset: 0, type: 'u16le' },
  { name: 'numberOfSections', offset: 2, type: 'u16le' },
  { name: 'timeDateStamp', offset: 4, type: 'u32le' },
  { name: 'pointerToSymbolTable', offset: 8, type: 'u32le' },
  { name: 'numberOfSymbols', offset: 12, type: 'u32le' },
  { name: 'sizeOfOptionalHeader', offset: 16, type: 'u16le' },
  { name: 'characteristics', offset: 18, type: 'u16le' },
] as const);

/** PE32+ optional header (standard + Windows fields; data directories follow at 112). */
export const OPTIONAL_HEADER64 = defineStruct('PE32+ optional header', 112, [
  { name: 'magic', offset: 0, type: 'u16le' },
  { name: 'majorLinkerVersion', offset: 2, type: 'u8' },
  { name: 'minorLinkerVersion', offset: 3, type: 'u8' },
  { name: 'sizeOfCode', offset: 4, type: 'u32le' },
  { name: 'sizeOfInitializedData', offset: 8, type: 'u32le' },
  { name: 'sizeOfUninitializedData', offset: 12, type: 'u32le' },
  { name: 'addressOfEntryPoint', offset: 16, type: 'u32le' },
  { name: 'baseOfCode', offset: 20, type: 'u32le' },
  { name: 'imageBase', offset: 24, type: 'bytes', length: 8 },
  { name: 'sectionAlignment', offset: 32, type: 'u32le' },
  { name: 'fileAlignment', offset: 36, type: 'u32le' },
  { name: 'osVersion', offset: 40, type: 'bytes', length: 4 },
  { name: 'imageVersion', offset: 44, type: 'bytes', length: 4 },
  { name: 'subsystemVersion', offset: 48, type: 'bytes', length: 4 },
  { name: 'win32VersionValue', offset: 52, type: 'u32le' },
  { name: 'sizeOfImage', offset: 56, type: 'u32le' },
  { name: 'sizeOfHeaders', offset: 60, type: 'u32le' },
  { name: 'checkSum', offset: 64, type: 'u32le' },
  { name: 'subsystem', offset: 68, type: 'u16le' },
  { name: 'dllCharacteristics', offset: 70, type: 'u16le' },
  { name: 'stackAndHeap', offset: 72, type: 'bytes', length: 32 },
  { name: 'loaderFlags', offset: 104, type: 'u32le' },
  { name: 'numberOfRvaAndSizes', offset: 108, type: 'u32le' },
] as const);

export const SECTION_HEADER = defineStruct('PE section header', 40, [
  { name: 'name', offset: 0, type: 'bytes', length: 8 },
  { name: 'virtualSize', offset: 8, type: 'u32le' },
  { name: 'virtualAddress', offset: 12, type: 'u32le' },
  { name: 'sizeOfRawData', offset: 16, type: 'u32le' },
  { name: 'pointerToRawData', offset: 20, type: 'u32le' },
  { name: 'pointerToRelocations', offset: 24, type: 'u32le' },
  { name: 'pointerToLinenumbers', offset: 28, type: 'u32le' },
  { name: 'numberOfRelocations', offset: 32, type: 'u16le' },
  { name: 'numberOfLinenumbers', offset: 34, type: 'u16le' },
  { name: 'characteristics', offset: 36, type: 'u32le' },
] as const);

export const PE32PLUS_MAGIC = 0x20b;
export const PE32_MAGIC = 0x10b;
/** COFF machine types (PE format, "Machine Types"); src/core/arch.ts maps them to architectures. */
export const MACHINE_I386 = 0x14c;
export const MACHINE_X86_64 = 0x8664;
export const MACHINE_ARM64 = 0xaa64;
export const MACHINE_RISCV64 = 0x5064;
/** "MZ" */
export const DOS_MAGIC = 0x5a4d;
export const SUBSYSTEM_EFI_APPLICATION = 10;
export const SCN_CNT_INITIALIZED_DATA = 0x40;
export const SCN_MEM_READ = 0x40000000;
/** Data directory index of the certificate table (its "RVA" is a file offset). */
const DIR_SECURITY = 4;

export interface PeSection {
  name: string;
  virtualSize: number;
  virtualAddress: number;
  sizeOfRawData: number;
  pointerToRawData: number;
  characteristics: number;
  /** Offset of this section's header in the file. */
  headerOffset: number;
}

export interface PeImage {
  machine: number;
  /** 0x20b (PE32+) or 0x10b (PE32). */
  magic: number;
  subsystem: number;
  sectionAlignment: number;
  fileAlignment: number;
  sizeOfImage: number;
  sizeOfHeaders: number;
  checkSum: number;
  addressOfEntryPoint: number;
  sections: PeSection[];
  /** File offsets of the headers. */
  coffOffset: number;
  optionalOffset: number;
  sectionTableOffset: number;
  /** End of the section table (where a new section header would go). */
  sectionTableEnd: number;
}

function peError(code: string, msg: string, extra: Record<string, unknown> = {}): FormatError {
  return new FormatError(code, msg, { format: 'pe', ...extra });
}

const isPow2 = (n: number) => n > 0 && (n & (n - 1)) === 0;

/** "PE\0\0", read as a little-endian u32. */
export const PE_SIGNATURE = 0x00004550;
const PE_SIGNATURE_SIZE = 4;

function peSignatureAt(bytes: Uint8Array, at: number): boolean {
  if (at + PE_SIGNATURE_SIZE > bytes.length) return false;
  return new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(at, true) === PE_SIGNATURE;
}

export interface PeHeaderFacts {
  machine: number;
  /** The optional header's magic (PE32 or PE32+) and subsystem (10 = EFI application). */
  magic: number;
  subsystem: number;
}

/**
 * The machine, magic and subsystem of a PE image from its headers alone (no
 * section checks, so the first 4 KiB of a file are enough; the subsystem
 * sits at the same offset in PE32 and PE32+). Undefined when `bytes` does
 * not start with PE headers.
 */
export function peHeaderFacts(bytes: Uint8Array): PeHeaderFacts | undefined {
  if (bytes.length < DOS_HEADER.size) return undefined;
  const dos = DOS_HEADER.decode(bytes);
  if (dos.magic !== DOS_MAGIC || dos.peOffset < DOS_HEADER.size || !peSignatureAt(bytes, dos.peOffset))
    return undefined;
  const coffOffset = dos.peOffset + PE_SIGNATURE_SIZE;
  const optionalOffset = coffOffset + COFF_HEADER.size;
  if (optionalOffset + OPTIONAL_HEADER64.size > bytes.length) return undefined;
  const coff = COFF_HEADER.decode(bytes, coffOffset);
  const opt = OPTIONAL_HEADER64.decode(bytes, optionalOffset);
  if (opt.magic !== PE32PLUS_MAGIC && opt.magic !== PE32_MAGIC) return undefined;
  return { machine: coff.machine, magic: opt.magic, subsystem: opt.subsystem };
}

/** Parse the headers and section table of a PE image. Throws FormatError on anything malformed. */
export function parsePe(bytes: Uint8Array): PeImage {
  if (bytes.length < DOS_HEADER.size)
    throw peError('E_FORMAT_PE_TRUNCATED', `${bytes.length} bytes is too short for a PE image`);
  const dos = DOS_HEADER.decode(bytes);
  if (dos.magic !== DOS_MAGIC)
    throw peError('E_FORMAT_PE_MAGIC', 'not a PE image: no "MZ" signature', {
      structure: 'DOS header',
      field: 'magic',
      offset: 0,
    });
  const pe = dos.peOffset;
  if (pe + PE_SIGNATURE_SIZE + COFF_HEADER.size > bytes.length || pe < 0x40)
    throw peError('E_FORMAT_PE_OFFSET', `PE header offset 0x${pe.toString(16)} is outside the file`, {
      structure: 'DOS header',
      field: 'peOffset',
      offset: 0x3c,
    });
  if (!peSignatureAt(bytes, pe))
    throw peError('E_FORMAT_PE_SIGNATURE', `no "PE\\0\\0" signature at 0x${pe.toString(16)}`, { offset: pe });
  const coffOffset = pe + PE_SIGNATURE_SIZE;
  const coff = COFF_HEADER.decode(bytes, coffOffset);
  const optionalOffset = coffOffset + COFF_HEADER.size;
  if (coff.sizeOfOptionalHeader < OPTIONAL_HEADER64.size || optionalOffset + coff.sizeOfOptionalHeader > bytes.length)
    throw peError(
      'E_FORMAT_PE_OPTIONAL',
      `optional header of ${coff.sizeOfOptionalHeader} bytes is missing or truncated`,
      { structure: 'COFF file header', field: 'sizeOfOptionalHeader' },
    );
  const opt = OPTIONAL_HEADER64.decode(bytes, optionalOffset);
  if (opt.magic !== PE32PLUS_MAGIC)
    throw peError(
      'E_FORMAT_PE_NOT64',
      `optional header magic 0x${opt.magic.toString(16)}: only PE32+ (0x20b) images are supported`,
      { structure: 'PE32+ optional header', field: 'magic', actual: opt.magic },
    );
  if (!isPow2(opt.fileAlignment) || !isPow2(opt.sectionAlignment) || opt.fileAlignment > 0x10000)
    throw peError(
      'E_FORMAT_PE_ALIGNMENT',
      `bad alignments (file 0x${opt.fileAlignment.toString(16)}, section 0x${opt.sectionAlignment.toString(16)})`,
      { structure: 'PE32+ optional header' },
    );
  const sectionTableOffset = optionalOffset + coff.sizeOfOptionalHeader;
  const sectionTableEnd = sectionTableOffset + coff.numberOfSections * SECTION_HEADER.size;
  if (sectionTableEnd > bytes.length)
    throw peError(
      'E_FORMAT_PE_SECTIONS',
      `section table (${coff.numberOfSections} entries) runs past the end of the file`,
      { structure: 'COFF file header', field: 'numberOfSections', actual: coff.numberOfSections },
    );
  const sections: PeSection[] = [];
  for (let i = 0; i < coff.numberOfSections; i++) {
    const off = sectionTableOffset + i * SECTION_HEADER.size;
    const s = SECTION_HEADER.decode(bytes, off);
    const nul = s.name.indexOf(0);
    const name = new TextDecoder('latin1').decode(s.name.subarray(0, nul < 0 ? 8 : nul));
    if (s.sizeOfRawData && s.pointerToRawData + s.sizeOfRawData > bytes.length)
      throw peError(
        'E_FORMAT_PE_SECTION_RANGE',
        `section ${name} raw data (0x${s.pointerToRawData.toString(16)} + 0x${s.sizeOfRawData.toString(16)}) runs past the end of the file`,
        { structure: 'PE section header', offset: off },
      );
    sections.push({
      name,
      virtualSize: s.virtualSize,
      virtualAddress: s.virtualAddress,
      sizeOfRawData: s.sizeOfRawData,
      pointerToRawData: s.pointerToRawData,
      characteristics: s.characteristics,
      headerOffset: off,
    });
  }
  return {
    machine: coff.machine,
    magic: opt.magic,
    subsystem: opt.subsystem,
    sectionAlignment: opt.sectionAlignment,
    fileAlignment: opt.fileAlignment,
    sizeOfImage: opt.sizeOfImage,
    sizeOfHeaders: opt.sizeOfHeaders,
    checkSum: opt.checkSum,
    addressOfEntryPoint: opt.addressOfEntryPoint,
    sections,
    coffOffset,
    optionalOffset,
    sectionTableOffset,
    sectionTableEnd,
  };
}

/** The raw bytes of a section (VirtualSize bytes, or the raw size when smaller), or undefined. */
export function sectionData(bytes: Uint8Array, pe: PeImage, name: string): Uint8Array | undefined {
  const s = pe.sections.find((x) => x.name === name);
  if (!s) return undefined;
  const n = Math.min(s.virtualSize || s.sizeOfRawData, s.sizeOfRawData);
  return bytes.subarray(s.pointerToRawData, s.pointerToRawData + n);
}

/** The PE checksum (as IMAGEHLP's CheckSumMappedFile): 16-bit one's-complement-ish sum skipping the field, plus the length. */
export function peChecksum(bytes: Uint8Array, checksumOffset: number): number {
  let sum = 0;
  const n = bytes.length;
  for (let i = 0; i < n; i += 2) {
    if (i === checksumOffset || i === checksumOffset + 2) continue;
    const w = bytes[i]! | ((i + 1 < n ? bytes[i + 1]! : 0) << 8);
    sum += w;
    sum = (sum & 0xffff) + (sum >>> 16);
  }
  sum = (sum & 0xffff) + (sum >>> 16);
  return (sum + n) >>> 0;
}

export interface NewSection {
  name: string;
  data: Uint8Array;
  /** Default: initialized data, read-only. */
  characteristics?: number;
}

const alignUp = (n: number, a: number) => Math.ceil(n / a) * a;

/**
 * AArch64 NOP: gnu-efi's hand-written arm64 PE header (systemd-stub before
 * 253) pads the header space after its section table with it.
 */
const AARCH64_NOP = 0xd503201f;

/** The first byte in [from, to) that is neither zero nor part of a 4-byte-aligned AArch64 NOP padding, if any. */
function firstUsedByte(bytes: Uint8Array, from: number, to: number): number | undefined {
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = from; i < to; i++) {
    if (bytes[i] === 0) continue;
    const word = i - (i % 4);
    if (word + 4 <= bytes.length && dv.getUint32(word, true) === AARCH64_NOP) continue;
    return i;
  }
  return undefined;
}

/**
 * Append sections after the image's last section: virtual addresses follow
 * the end of the last section rounded up to SectionAlignment, raw data is
 * FileAlignment-aligned, and NumberOfSections, SizeOfImage,
 * SizeOfInitializedData and CheckSum are updated. Any trailing overlay and
 * certificate table are dropped (the signature would be invalid anyway).
 * Fails when the header has no room for the new section headers.
 */
export function appendSections(stub: Uint8Array, add: NewSection[]): Uint8Array {
  const pe = parsePe(stub);
  const need = pe.sectionTableEnd + add.length * SECTION_HEADER.size;
  const firstRaw = Math.min(
    pe.sizeOfHeaders,
    ...pe.sections.filter((s) => s.sizeOfRawData > 0).map((s) => s.pointerToRawData),
  );
  if (need > firstRaw) {
    throw new UsageError(
      'E_USAGE_PE_NO_ROOM',
      `the EFI stub has no room for ${add.length} more section headers (section table ends at 0x${pe.sectionTableEnd.toString(16)}, first section data at 0x${firstRaw.toString(16)}); use a stub built with more header space`,
      { structure: 'PE section header', expected: need, actual: firstRaw },
    );
  }
  const dirty = firstUsedByte(stub, pe.sectionTableEnd, need);
  if (dirty !== undefined)
    throw new UsageError(
      'E_USAGE_PE_NO_ROOM',
      `the EFI stub's header space after the section table is not empty (byte 0x${dirty.toString(16)})`,
      { offset: dirty },
    );
  for (const s of add) {
    if (s.name.length === 0 || s.name.length > 8 || !/^[\x20-\x7e]+$/.test(s.name))
      throw new UsageError(
        'E_USAGE_PE_SECTION_NAME',
        `section name "${s.name}" must be 1..8 printable ASCII characters`,
        { actual: s.name },
      );
    if (pe.sections.some((x) => x.name === s.name))
      throw new UsageError('E_USAGE_PE_SECTION_NAME', `the image already has a ${s.name} section`, { actual: s.name });
  }
  let rawEnd = 0,
    vEnd = 0;
  for (const s of pe.sections) {
    rawEnd = Math.max(rawEnd, s.pointerToRawData + s.sizeOfRawData);
    vEnd = Math.max(vEnd, s.virtualAddress + Math.max(s.virtualSize, s.sizeOfRawData));
  }
  rawEnd = alignUp(Math.max(rawEnd, pe.sizeOfHeaders), pe.fileAlignment);
  let va = alignUp(vEnd, pe.sectionAlignment);
  let raw = rawEnd;
  const placed = add.map((s) => {
    const rawSize = alignUp(s.data.length, pe.fileAlignment);
    const p = { ...s, va, raw, rawSize };
    va = alignUp(va + Math.max(s.data.length, 1), pe.sectionAlignment);
    raw += rawSize;
    return p;
  });
  if (va > 0xffffffff || raw > 0xffffffff)
    throw new UsageError('E_LIMIT_PE_SIZE', `the image would exceed 4 GiB`, { actual: raw });
  const out = new Uint8Array(raw);
  out.set(stub.subarray(0, Math.min(stub.length, rawEnd)), 0);
  let initData = 0;
  placed.forEach((p, i) => {
    const name = new Uint8Array(8);
    name.set(new TextEncoder().encode(p.name));
    SECTION_HEADER.encode(
      {
        name,
        virtualSize: p.data.length,
        virtualAddress: p.va,
        sizeOfRawData: p.rawSize,
        pointerToRawData: p.raw,
        pointerToRelocations: 0,
        pointerToLinenumbers: 0,
        numberOfRelocations: 0,
        numberOfLinenumbers: 0,
        characteristics: p.characteristics ?? SCN_CNT_INITIALIZED_DATA | SCN_MEM_READ,
      },
      out,
      pe.sectionTableEnd + i * SECTION_HEADER.size,
    );
    out.set(p.data, p.raw);
    initData += p.rawSize;
  });
  const opt = OPTIONAL_HEADER64.decode(out, pe.optionalOffset);
  COFF_HEADER.encode({ numberOfSections: pe.sections.length + add.length }, out, pe.coffOffset);
  OPTIONAL_HEADER64.encode(
    { sizeOfImage: va, sizeOfInitializedData: (opt.sizeOfInitializedData + initData) >>> 0, checkSum: 0 },
    out,
    pe.optionalOffset,
  );
  // drop the certificate table: it signed the old bytes
  if (opt.numberOfRvaAndSizes > DIR_SECURITY)
    out.fill(0, pe.optionalOffset + 112 + DIR_SECURITY * 8, pe.optionalOffset + 112 + DIR_SECURITY * 8 + 8);
  const csumOff = pe.optionalOffset + OPTIONAL_HEADER64.offsetOf('checkSum');
  OPTIONAL_HEADER64.encode({ checkSum: peChecksum(out, csumOff) }, out, pe.optionalOffset);
  return out;
}
