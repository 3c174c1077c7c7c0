import { afterAll, describe, expect, it } from 'vitest';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { layoutProblems } from '../../src/core/binary/struct.js';
import {
  COFF_HEADER,
  DOS_HEADER,
  OPTIONAL_HEADER64,
  SECTION_HEADER,
  appendSections,
  parsePe,
  peChecksum,
} from '../../src/core/boot/pe.js';
import { DEFAULT_EFI_STUB_PATH, buildUki, readUki } from '../../src/core/boot/uki.js';
import { debianArm64, debianKernel, missing, run } from '../helpers/prereq.js';
import { tempDir } from '../partition/helpers.js';

const tmp = tempDir('tinyimage-uki-');
afterAll(() => tmp.cleanup());
const STUB = DEFAULT_EFI_STUB_PATH;

describe('PE structs', () => {
  it('have sound layouts', () => {
    expect(layoutProblems(DOS_HEADER)).toEqual([]);
    expect(layoutProblems(COFF_HEADER)).toEqual([]);
    expect(COFF_HEADER.size).toBe(20);
    expect(layoutProblems(OPTIONAL_HEADER64)).toEqual([]);
    expect(layoutProblems(SECTION_HEADER)).toEqual([]);
    expect(SECTION_HEADER.size).toBe(40);
  });
});

describe('peChecksum', () => {
  it("matches the checksum binutils stored in systemd's stub", () => {
    if (missing({ files: [STUB] })) return;
    const stub = new Uint8Array(readFileSync(STUB));
    const pe = parsePe(stub);
    expect(pe.checkSum).not.toBe(0);
    expect(peChecksum(stub, pe.optionalOffset + 64)).toBe(pe.checkSum);
  });
});

describe('buildUki', () => {
  it('appends .osrel .cmdline .initrd .linux; objdump agrees on VMAs, sizes and file offsets', () => {
    const k = debianKernel();
    if (missing({ tools: ['objdump'], files: [STUB, k.vmlinuz] })) return;
    const stub = new Uint8Array(readFileSync(STUB));
    const linux = new Uint8Array(readFileSync(k.vmlinuz));
    const initrd = new Uint8Array(12345).map((_, i) => i & 0xff);
    const uki = buildUki({ stub, linux, initrd, cmdline: 'console=ttyS0 quiet\n' });
    const path = join(tmp.dir, 'uki.efi');
    writeFileSync(path, uki);
    const pe = parsePe(uki);
    const stubPe = parsePe(stub);
    expect(pe.sections.map((s) => s.name)).toEqual([
      ...stubPe.sections.map((s) => s.name),
      '.osrel',
      '.cmdline',
      '.initrd',
      '.linux',
    ]);
    // layout rules
    const added = pe.sections.slice(stubPe.sections.length);
    let prevEnd = Math.max(...stubPe.sections.map((s) => s.virtualAddress + Math.max(s.virtualSize, s.sizeOfRawData)));
    for (const s of added) {
      expect(s.virtualAddress % pe.sectionAlignment).toBe(0);
      expect(s.virtualAddress).toBeGreaterThanOrEqual(prevEnd);
      expect(s.virtualAddress - prevEnd).toBeLessThan(pe.sectionAlignment);
      expect(s.pointerToRawData % pe.fileAlignment).toBe(0);
      expect(s.sizeOfRawData % pe.fileAlignment).toBe(0);
      prevEnd = s.virtualAddress + s.virtualSize;
    }
    expect(pe.sizeOfImage).toBe(Math.ceil(prevEnd / pe.sectionAlignment) * pe.sectionAlignment);
    expect(pe.checkSum).toBe(peChecksum(uki, pe.optionalOffset + 64));
    expect(uki.length).toBe(added.at(-1)!.pointerToRawData + added.at(-1)!.sizeOfRawData);
    // objdump (binutils, an independent PE reader)
    const h = run('objdump', ['-h', path]);
    expect(h.code, h.stderr).toBe(0);
    const rows = new Map<string, { size: number; vma: number; off: number }>();
    for (const m of h.stdout.matchAll(/^\s*\d+\s+(\S+)\s+([0-9a-f]+)\s+([0-9a-f]+)\s+[0-9a-f]+\s+([0-9a-f]+)/gm))
      rows.set(m[1]!, { size: parseInt(m[2]!, 16), vma: parseInt(m[3]!, 16), off: parseInt(m[4]!, 16) });
    for (const s of added)
      expect(rows.get(s.name), s.name).toEqual({ size: s.virtualSize, vma: s.virtualAddress, off: s.pointerToRawData });
    expect(rows.get('.linux')!.size).toBe(linux.length);
    expect(rows.get('.initrd')!.size).toBe(initrd.length);
    const p = run('objdump', ['-p', path]).stdout;
    expect(p).toMatch(new RegExp(`SizeOfImage\\s+0*${pe.sizeOfImage.toString(16)}\\b`));
    expect(p).toMatch(/Subsystem\s+0000000a/);
    // and the payloads read back
    const parts = readUki(uki);
    expect(parts.cmdline).toBe('console=ttyS0 quiet');
    expect(parts.osrel).toContain('Tiny Linux');
    expect(Buffer.compare(parts.initrd!, initrd)).toBe(0);
    expect(Buffer.compare(parts.linux!, linux)).toBe(0);
    // deterministic
    expect(Buffer.compare(buildUki({ stub, linux, initrd, cmdline: 'console=ttyS0 quiet\n' }), uki)).toBe(0);
  });

  it('bare kernel path returns the kernel and refuses an initrd/cmdline', () => {
    const k = debianKernel();
    if (missing({ files: [k.vmlinuz] })) return;
    const linux = new Uint8Array(readFileSync(k.vmlinuz));
    expect(buildUki({ linux })).toBe(linux);
    expect(() => buildUki({ linux, cmdline: 'x' })).toThrow(expect.objectContaining({ code: 'E_USAGE_UKI_BARE' }));
  });

  it('typed errors for non-PE input and a stub without header room', () => {
    expect(() => buildUki({ linux: new Uint8Array(4096) })).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_KERNEL' }),
    );
    expect(() => parsePe(new Uint8Array(100))).toThrow(expect.objectContaining({ code: 'E_FORMAT_PE_MAGIC' }));
    if (!existsSync(STUB)) return;
    const stub = new Uint8Array(readFileSync(STUB));
    // forge a huge section count
    const pe = parsePe(stub);
    const bad = stub.slice();
    new DataView(bad.buffer).setUint16(pe.coffOffset + 2, 0xffff, true);
    expect(() => parsePe(bad)).toThrow(expect.objectContaining({ code: 'E_FORMAT_PE_SECTIONS' }));
    // no room: ask for more sections than the header can hold
    const many = Array.from({ length: 12 }, (_, i) => ({ name: `.s${i}`, data: new Uint8Array(1) }));
    expect(() => appendSections(stub, many)).toThrow(expect.objectContaining({ code: 'E_USAGE_PE_NO_ROOM' }));
  });
});

describe('buildUki for arm64', () => {
  const a = debianArm64();
  it("systemd-boot-efi:arm64's stub (NOP-padded header, no .sdmagic) + Debian's arm64 Image; aarch64 objdump agrees", () => {
    if (missing({ tools: ['aarch64-linux-gnu-objdump'], files: [a.stub, a.vmlinuz] })) return;
    const stub = new Uint8Array(readFileSync(a.stub));
    const linux = new Uint8Array(readFileSync(a.vmlinuz));
    const initrd = new Uint8Array(4321).fill(9);
    const uki = buildUki({ stub, linux, initrd, cmdline: 'console=ttyAMA0' });
    const pe = parsePe(uki);
    expect(pe.machine).toBe(0xaa64);
    expect(pe.sections.map((s) => s.name)).toEqual(['.text', '.data', '.osrel', '.cmdline', '.initrd', '.linux']);
    // the stub's code and data are untouched; only the header gained section entries
    const stubPe = parsePe(stub);
    const first = stubPe.sections[0]!.pointerToRawData;
    const end = Math.max(...stubPe.sections.map((s) => s.pointerToRawData + s.sizeOfRawData));
    expect(Buffer.compare(uki.subarray(first, end), stub.subarray(first, end))).toBe(0);
    expect(pe.checkSum).toBe(peChecksum(uki, pe.optionalOffset + 64));
    const path = join(tmp.dir, 'BOOTAA64.EFI');
    writeFileSync(path, uki);
    const h = run('aarch64-linux-gnu-objdump', ['-h', path]);
    expect(h.code, h.stderr).toBe(0);
    expect(h.stdout).toMatch(/file format pei-aarch64-little/);
    for (const s of pe.sections.slice(2))
      expect(h.stdout).toMatch(
        new RegExp(
          `\\s${s.name.replace('.', '\\.')}\\s+0*${s.virtualSize.toString(16)}\\s+0*${s.virtualAddress.toString(16)}\\s`,
        ),
      );
    const parts = readUki(uki);
    expect(parts.cmdline).toBe('console=ttyAMA0');
    expect(Buffer.compare(parts.linux!, linux)).toBe(0);
  });

  it('a stub of the other architecture is refused, naming the stub to use', () => {
    if (missing({ files: [a.stub, a.vmlinuz, STUB, debianKernel().vmlinuz] })) return;
    const arm = new Uint8Array(readFileSync(a.vmlinuz));
    expect(() => buildUki({ stub: new Uint8Array(readFileSync(STUB)), linux: arm })).toThrow(
      /the EFI stub is for x86-64 \(0x8664\) but the kernel is an arm64 Image for arm64: use systemd-boot-efi's linuxaa64.efi.stub/,
    );
    const x86 = new Uint8Array(readFileSync(debianKernel().vmlinuz));
    expect(() => buildUki({ stub: new Uint8Array(readFileSync(a.stub)), linux: x86 })).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_PE_MACHINE' }),
    );
  });

  it('header padding that is neither zeros nor AArch64 NOPs still stops the append', () => {
    if (missing({ files: [a.stub] })) return;
    const stub = new Uint8Array(readFileSync(a.stub));
    const pe = parsePe(stub);
    const bad = stub.slice();
    bad[pe.sectionTableEnd + 5] = 0x99;
    expect(() => appendSections(bad, [{ name: '.x', data: new Uint8Array(1) }])).toThrow(
      expect.objectContaining({ code: 'E_USAGE_PE_NO_ROOM' }),
    );
    expect(() => appendSections(stub, [{ name: '.x', data: new Uint8Array(1) }])).not.toThrow();
  });
});
