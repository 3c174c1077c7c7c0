/**
 * Linux kernel images, told apart by their own headers:
 *
 * - x86 bzImage: the real-mode setup header at 0x1f1, "HdrS" at 0x202
 *   (Documentation/arch/x86/boot.rst); with CONFIG_EFI_STUB it is also a
 *   PE/COFF EFI application (machine x86-64).
 * - arm64 Image: a 64-byte header with "ARM\x64" at 0x38
 *   (Documentation/arch/arm64/booting.rst); with CONFIG_EFI_STUB its first
 *   bytes are "MZ" and res5 (0x3c) points at a PE header (machine AArch64).
 *   Debian ships it uncompressed as vmlinuz; others gzip it.
 * - EFI zboot (CONFIG_EFI_ZBOOT, vmlinuz.efi): a PE application whose DOS
 *   header carries "zimg" and a compressed Image as payload.
 */
import { FormatError } from '../errors.js';
import { defineStruct } from '../binary/struct.js';
import { archOfPeMachine, elfFacts, peMachineName, type Arch } from '../arch.js';
import { concatChunks, gunzipChunks } from '../compress/gzip.js';
import { peHeaderFacts, SUBSYSTEM_EFI_APPLICATION } from './pe.js';

/** The x86 boot protocol's setup header, at X86_SETUP_HEADER_OFFSET in a bzImage. */
export const X86_SETUP_HEADER = defineStruct('x86 setup header', 0x26c - 0x1f1, [
  { name: 'setupSects', offset: 0x1f1 - 0x1f1, type: 'u8' },
  { name: 'rootFlags', offset: 0x1f2 - 0x1f1, type: 'u16le' },
  { name: 'syssize', offset: 0x1f4 - 0x1f1, type: 'u32le' },
  { name: 'ramSize', offset: 0x1f8 - 0x1f1, type: 'u16le' },
  { name: 'vidMode', offset: 0x1fa - 0x1f1, type: 'u16le' },
  { name: 'rootDev', offset: 0x1fc - 0x1f1, type: 'u16le' },
  { name: 'bootFlag', offset: 0x1fe - 0x1f1, type: 'u16le' },
  { name: 'jump', offset: 0x200 - 0x1f1, type: 'u16le' },
  { name: 'header', offset: 0x202 - 0x1f1, type: 'u32le' },
  { name: 'version', offset: 0x206 - 0x1f1, type: 'u16le' },
  { name: 'realmodeSwtch', offset: 0x208 - 0x1f1, type: 'u32le' },
  { name: 'startSysSeg', offset: 0x20c - 0x1f1, type: 'u16le' },
  { name: 'kernelVersion', offset: 0x20e - 0x1f1, type: 'u16le' },
  { name: 'typeOfLoader', offset: 0x210 - 0x1f1, type: 'u8' },
  { name: 'loadflags', offset: 0x211 - 0x1f1, type: 'u8' },
  { name: 'setupMoveSize', offset: 0x212 - 0x1f1, type: 'u16le' },
  { name: 'code32Start', offset: 0x214 - 0x1f1, type: 'u32le' },
  { name: 'ramdiskImage', offset: 0x218 - 0x1f1, type: 'u32le' },
  { name: 'ramdiskSize', offset: 0x21c - 0x1f1, type: 'u32le' },
  { name: 'bootsectKludge', offset: 0x220 - 0x1f1, type: 'u32le' },
  { name: 'heapEndPtr', offset: 0x224 - 0x1f1, type: 'u16le' },
  { name: 'extLoaderVer', offset: 0x226 - 0x1f1, type: 'u8' },
  { name: 'extLoaderType', offset: 0x227 - 0x1f1, type: 'u8' },
  { name: 'cmdLinePtr', offset: 0x228 - 0x1f1, type: 'u32le' },
  { name: 'initrdAddrMax', offset: 0x22c - 0x1f1, type: 'u32le' },
  { name: 'kernelAlignment', offset: 0x230 - 0x1f1, type: 'u32le' },
  { name: 'relocatableKernel', offset: 0x234 - 0x1f1, type: 'u8' },
  { name: 'minAlignment', offset: 0x235 - 0x1f1, type: 'u8' },
  { name: 'xloadflags', offset: 0x236 - 0x1f1, type: 'u16le' },
  { name: 'cmdlineSize', offset: 0x238 - 0x1f1, type: 'u32le' },
  { name: 'hardwareSubarch', offset: 0x23c - 0x1f1, type: 'u32le' },
  { name: 'hardwareSubarchData', offset: 0x240 - 0x1f1, type: 'u64le' },
  { name: 'payloadOffset', offset: 0x248 - 0x1f1, type: 'u32le' },
  { name: 'payloadLength', offset: 0x24c - 0x1f1, type: 'u32le' },
  { name: 'setupData', offset: 0x250 - 0x1f1, type: 'u64le' },
  { name: 'prefAddress', offset: 0x258 - 0x1f1, type: 'u64le' },
  { name: 'initSize', offset: 0x260 - 0x1f1, type: 'u32le' },
  { name: 'handoverOffset', offset: 0x264 - 0x1f1, type: 'u32le' },
  { name: 'kernelInfoOffset', offset: 0x268 - 0x1f1, type: 'u32le' },
] as const);
export const X86_SETUP_HEADER_OFFSET = 0x1f1;
/** "HdrS" */
export const X86_SETUP_MAGIC = 0x53726448;
export const X86_BOOT_FLAG = 0xaa55;

/** The arm64 Image header, at offset 0. */
export const ARM64_IMAGE_HEADER = defineStruct('arm64 Image header', 64, [
  { name: 'code0', offset: 0, type: 'u32le' },
  { name: 'code1', offset: 4, type: 'u32le' },
  { name: 'textOffset', offset: 8, type: 'u64le' },
  { name: 'imageSize', offset: 16, type: 'u64le' },
  { name: 'flags', offset: 24, type: 'u64le' },
  { name: 'res2', offset: 32, type: 'u64le' },
  { name: 'res3', offset: 40, type: 'u64le' },
  { name: 'res4', offset: 48, type: 'u64le' },
  { name: 'magic', offset: 56, type: 'u32le' },
  { name: 'res5', offset: 60, type: 'u32le' },
] as const);
/** "ARM\x64" */
export const ARM64_IMAGE_MAGIC = 0x644d5241;

/** The EFI zboot header that shares the DOS header's first bytes (drivers/firmware/efi/libstub/zboot-header.S). */
export const ZBOOT_HEADER = defineStruct('EFI zboot header', 56, [
  { name: 'mz', offset: 0, type: 'u16le' },
  { name: 'res0', offset: 2, type: 'u16le' },
  { name: 'magic', offset: 4, type: 'u32le' },
  { name: 'payloadOffset', offset: 8, type: 'u32le' },
  { name: 'payloadSize', offset: 12, type: 'u32le' },
  { name: 'res1', offset: 16, type: 'bytes', length: 8 },
  { name: 'compType', offset: 24, type: 'bytes', length: 32 },
] as const);
/** "zimg" */
export const ZBOOT_MAGIC = 0x676d697a;

const GZIP_MAGIC = [0x1f, 0x8b] as const;

export type KernelFormat = 'bzImage' | 'arm64-image' | 'efi-zboot';

export interface KernelInfo {
  format: KernelFormat;
  arch: Arch;
  /** The image is also a PE/COFF EFI application (CONFIG_EFI_STUB) for this COFF machine. */
  efiMachine?: number;
  /** The bytes given were gzip-compressed; the other fields describe what is inside. */
  compression?: 'gzip';
  /** For messages: "an x86 bzImage", "an arm64 Image (gzip-compressed)". */
  description: string;
}

export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === GZIP_MAGIC[0] && bytes[1] === GZIP_MAGIC[1];
}

function efiMachineOf(bytes: Uint8Array): number | undefined {
  const pe = peHeaderFacts(bytes);
  return pe && pe.subsystem === SUBSYSTEM_EFI_APPLICATION ? pe.machine : undefined;
}

function notAKernel(bytes: Uint8Array, why: string): FormatError {
  const elf = elfFacts(bytes);
  const hint = elf
    ? ` It is an ELF file (${elf.description}): give the bootable image (arch/x86/boot/bzImage, arch/arm64/boot/Image or /boot/vmlinuz-*), not vmlinux.`
    : '';
  return new FormatError('E_FORMAT_KERNEL', `${why}.${hint}`, { format: 'kernel' });
}

/**
 * Identify an uncompressed kernel image from its first bytes (4 KiB are
 * enough). Throws FormatError E_FORMAT_KERNEL for anything else, naming
 * what it is when it can (a gzip file, an ELF vmlinux).
 */
export function identifyKernel(bytes: Uint8Array): KernelInfo {
  if (isGzip(bytes))
    throw new FormatError(
      'E_FORMAT_KERNEL_COMPRESSED',
      'the kernel is gzip-compressed: decompress it first (identifyKernelAsync does)',
      { format: 'kernel' },
    );
  if (bytes.length >= ARM64_IMAGE_HEADER.size && ARM64_IMAGE_HEADER.decode(bytes).magic === ARM64_IMAGE_MAGIC) {
    const efiMachine = efiMachineOf(bytes);
    return {
      format: 'arm64-image',
      arch: 'arm64',
      ...(efiMachine !== undefined ? { efiMachine } : {}),
      description: 'an arm64 Image',
    };
  }
  const end = X86_SETUP_HEADER_OFFSET + X86_SETUP_HEADER.size;
  if (bytes.length >= end && X86_SETUP_HEADER.decode(bytes, X86_SETUP_HEADER_OFFSET).header === X86_SETUP_MAGIC) {
    const efiMachine = efiMachineOf(bytes);
    return {
      format: 'bzImage',
      arch: 'x86_64',
      ...(efiMachine !== undefined ? { efiMachine } : {}),
      description: 'an x86 bzImage',
    };
  }
  if (bytes.length >= ZBOOT_HEADER.size && ZBOOT_HEADER.decode(bytes).magic === ZBOOT_MAGIC) {
    const efiMachine = efiMachineOf(bytes);
    const arch = efiMachine !== undefined ? archOfPeMachine(efiMachine) : undefined;
    if (efiMachine === undefined || !arch)
      throw notAKernel(
        bytes,
        `the kernel is an EFI zboot image for ${efiMachine === undefined ? 'no known machine' : peMachineName(efiMachine)}, which tinyimage does not build for`,
      );
    return { format: 'efi-zboot', arch, efiMachine, description: `an EFI zboot image (${peMachineName(efiMachine)})` };
  }
  throw notAKernel(bytes, 'not a kernel image tinyimage knows (an x86 bzImage, an arm64 Image or an EFI zboot image)');
}

/** How many decompressed bytes identification needs (the PE headers of an arm64 Image sit in its first 4 KiB). */
const PEEK = 4096;

/** identifyKernel, also for a gzip-compressed image (its first bytes are decompressed to look inside). */
export async function identifyKernelAsync(bytes: Uint8Array): Promise<KernelInfo> {
  if (!isGzip(bytes)) return identifyKernel(bytes);
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of gunzipChunks(bytes)) {
    parts.push(chunk);
    n += chunk.length;
    if (n >= PEEK) break;
  }
  const head = await concatChunks(parts);
  const inner = identifyKernel(head);
  return { ...inner, compression: 'gzip', description: `${inner.description} (gzip-compressed)` };
}

/** The kernel image itself: a gzip-compressed one decompressed (its CRC checked), others as they are. */
export async function uncompressedKernel(bytes: Uint8Array): Promise<Uint8Array> {
  return isGzip(bytes) ? concatChunks(gunzipChunks(bytes)) : bytes;
}
