/**
 * Architecture detection from the binaries' own headers: ELF e_machine,
 * PE/COFF machine, x86 bzImage and arm64 Image headers. Real files (Debian's
 * amd64 and arm64 kernels, busybox-static, systemd's EFI stubs) are checked
 * against file(1), an independent reader; synthetic and damaged headers give
 * typed errors, never a crash.
 */
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { ELF_HEAD, Elf64Header, EM_386, EM_AARCH64, EM_X86_64, ELF_MAGIC } from '../../src/core/binary/elf.js';
import {
  ARM64_IMAGE_HEADER,
  ARM64_IMAGE_MAGIC,
  X86_SETUP_HEADER,
  X86_SETUP_HEADER_OFFSET,
  X86_SETUP_MAGIC,
  ZBOOT_HEADER,
  identifyKernel,
  identifyKernelAsync,
  uncompressedKernel,
} from '../../src/core/boot/kernel.js';
import { checkEfiKernel, efiStubPath } from '../../src/core/boot/uki.js';
import { peHeaderFacts, MACHINE_ARM64, MACHINE_X86_64 } from '../../src/core/boot/pe.js';
import { archOfPeMachine, checkArchAgreement, elfFacts, type ArchWitness } from '../../src/core/arch.js';
import { TinyImageError, UsageError } from '../../src/core/errors.js';
import { debianArm64, debianKernel, missing, run } from '../helpers/prereq.js';

const a64 = debianArm64();
const x64 = debianKernel();
const head = (p: string, n = 65536) => new Uint8Array(readFileSync(p).subarray(0, n));

describe('header tables', () => {
  it('have sound layouts and the sizes of their specifications', () => {
    expect(layoutProblems(ELF_HEAD)).toEqual([]);
    expect(ELF_HEAD.size).toBe(20);
    expect(layoutProblems(Elf64Header)).toEqual([]);
    expect(layoutProblems(ARM64_IMAGE_HEADER)).toEqual([]);
    expect(ARM64_IMAGE_HEADER.size).toBe(64);
    expect(ARM64_IMAGE_HEADER.offsetOf('magic')).toBe(0x38);
    expect(layoutProblems(X86_SETUP_HEADER)).toEqual([]);
    expect(X86_SETUP_HEADER_OFFSET + X86_SETUP_HEADER.offsetOf('header')).toBe(0x202);
    expect(X86_SETUP_HEADER_OFFSET + X86_SETUP_HEADER.size).toBe(0x26c);
    expect(layoutProblems(ZBOOT_HEADER)).toEqual([]);
  });
});

describe('real binaries, checked against file(1)', () => {
  it("Debian's kernels: an x86 bzImage and an arm64 Image, both EFI applications of their own machine", () => {
    if (missing({ tools: ['file'], files: [x64.vmlinuz, a64.vmlinuz] })) return;
    const x = identifyKernel(head(x64.vmlinuz));
    expect(x).toMatchObject({ format: 'bzImage', arch: 'x86_64', efiMachine: MACHINE_X86_64 });
    expect(run('file', ['-b', x64.vmlinuz]).stdout).toMatch(/x86 boot executable bzImage/);
    const a = identifyKernel(head(a64.vmlinuz));
    expect(a).toMatchObject({ format: 'arm64-image', arch: 'arm64', efiMachine: MACHINE_ARM64 });
    expect(run('file', ['-b', a64.vmlinuz]).stdout).toMatch(/Linux kernel ARM64 boot executable Image/);
    expect(checkEfiKernel(new Uint8Array(readFileSync(a64.vmlinuz))).arch).toBe('arm64');
  });

  it('busybox-static for amd64 and arm64: e_machine 62 and 183', () => {
    if (missing({ tools: ['file'], files: ['/bin/busybox', a64.busybox] })) return;
    expect(elfFacts(head('/bin/busybox', 64))).toMatchObject({ bits: 64, machine: EM_X86_64, arch: 'x86_64' });
    expect(run('file', ['-bL', '/bin/busybox']).stdout).toMatch(/x86-64/);
    expect(elfFacts(head(a64.busybox, 64))).toMatchObject({ bits: 64, machine: EM_AARCH64, arch: 'arm64' });
    expect(run('file', ['-b', a64.busybox]).stdout).toMatch(/ARM aarch64/);
  });

  it("systemd's EFI stubs: PE machines x86-64 and AArch64", () => {
    if (missing({ tools: ['file'], files: [efiStubPath('x86_64'), a64.stub] })) return;
    expect(archOfPeMachine(peHeaderFacts(head(efiStubPath('x86_64')))!.machine)).toBe('x86_64');
    expect(archOfPeMachine(peHeaderFacts(head(a64.stub))!.machine)).toBe('arm64');
    expect(run('file', ['-b', a64.stub]).stdout).toMatch(/EFI application.*Aarch64/);
  });

  it('a gzip-compressed arm64 Image is identified through its first inflated bytes, and inflated whole', async () => {
    if (missing({ files: [a64.vmlinuz] })) return;
    const part = head(a64.vmlinuz, 1 << 20);
    const gz = new Uint8Array(gzipSync(part));
    expect(() => identifyKernel(gz)).toThrow(expect.objectContaining({ code: 'E_FORMAT_KERNEL_COMPRESSED' }));
    expect(await identifyKernelAsync(gz)).toMatchObject({ arch: 'arm64', compression: 'gzip' });
    expect(Buffer.compare(await uncompressedKernel(gz), part)).toBe(0);
    expect(await uncompressedKernel(part)).toBe(part);
  });
});

describe('synthetic headers', () => {
  it('an arm64 Image without the EFI stub is an Image, but no EFI kernel', () => {
    const img = ARM64_IMAGE_HEADER.encode({ magic: ARM64_IMAGE_MAGIC });
    expect(identifyKernel(img)).toMatchObject({ format: 'arm64-image', arch: 'arm64' });
    expect(identifyKernel(img).efiMachine).toBeUndefined();
    expect(() => checkEfiKernel(img)).toThrow(expect.objectContaining({ code: 'E_FORMAT_KERNEL_NO_EFI' }));
  });

  it('a bzImage setup header says x86_64', () => {
    const b = new Uint8Array(4096);
    X86_SETUP_HEADER.encode({ header: X86_SETUP_MAGIC, bootFlag: 0xaa55 }, b, X86_SETUP_HEADER_OFFSET);
    expect(identifyKernel(b)).toMatchObject({ format: 'bzImage', arch: 'x86_64' });
  });

  it('an ELF vmlinux given as the kernel is named as such', () => {
    const elf = ELF_HEAD.encode({ magic: ELF_MAGIC, class: 2, data: 1, version: 1, machine: EM_AARCH64 });
    expect(() => identifyKernel(elf)).toThrow(/ELF file \(ELF 64-bit AArch64, e_machine 183\).*not vmlinux/);
  });

  it('32-bit and big-endian ELF files are described but are no architecture tinyimage builds for', () => {
    const i386 = ELF_HEAD.encode({ magic: ELF_MAGIC, class: 1, data: 1, machine: EM_386 });
    expect(elfFacts(i386)).toMatchObject({ bits: 32, machine: EM_386, description: 'ELF 32-bit i386, e_machine 3' });
    expect(elfFacts(i386)!.arch).toBeUndefined();
    const be = ELF_HEAD.encode({ magic: ELF_MAGIC, class: 2, data: 2, machine: EM_AARCH64 << 8 });
    expect(elfFacts(be)).toMatchObject({ littleEndian: false, machine: EM_AARCH64 });
    expect(elfFacts(be)!.arch).toBeUndefined();
    expect(elfFacts(new Uint8Array(19))).toBeUndefined();
  });
});

describe('damaged input', () => {
  it('random and truncated headers: a typed error or a result, never a crash', () => {
    const seeds = [a64.vmlinuz, x64.vmlinuz].filter((p) => !missing({ files: [p] })).map((p) => head(p, 4096));
    fc.assert(
      fc.property(
        fc.oneof(
          fc.uint8Array({ maxLength: 4096 }),
          ...seeds.map((s) =>
            fc.tuple(fc.nat(s.length), fc.nat(s.length - 1), fc.integer({ min: 0, max: 255 })).map(([cut, at, v]) => {
              const b = s.slice(0, cut);
              if (at < b.length) b[at] = v;
              return b;
            }),
          ),
        ),
        (b) => {
          elfFacts(b);
          peHeaderFacts(b);
          try {
            identifyKernel(b);
          } catch (e) {
            expect(e).toBeInstanceOf(TinyImageError);
          }
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe('checkArchAgreement', () => {
  const kernel: ArchWitness = { what: 'the kernel', path: 'Image', arch: 'arm64', how: 'an arm64 Image' };
  const bb: ArchWitness = { what: 'the busybox binary', path: 'bb', arch: 'x86_64', how: 'ELF 64-bit x86-64' };
  it('a mix-up is a usage error naming both parts', () => {
    let err: unknown;
    try {
      checkArchAgreement([kernel, bb]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UsageError);
    expect(err).toMatchObject({ code: 'E_USAGE_ARCH_MISMATCH', data: { expected: 'arm64', actual: 'x86_64' } });
    expect((err as Error).message).toBe(
      'architecture mix-up: the kernel Image is arm64 (an arm64 Image), but the busybox binary bb is x86_64 ' +
        '(ELF 64-bit x86-64); give parts built for one architecture',
    );
  });
  it('parts of unknown architecture are not checked; agreement returns the architecture', () => {
    expect(checkArchAgreement([kernel, { what: 'x' }, { ...bb, arch: 'arm64' }])).toBe('arm64');
    expect(checkArchAgreement([{ what: 'x' }])).toBeUndefined();
  });
});
