/**
 * The architecture policy of builds: which architecture a spec builds for
 * (`arch:` when given, else what the kernel and busybox files say, else
 * x86_64), and the check that every part given as a host file agrees, run
 * before anything is written. The facts come from the core (ELF e_machine,
 * kernel image headers, PE machine); this file reads the first bytes of the
 * host files and decides.
 */
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { constants, gunzipSync } from 'node:zlib';
import {
  archOfPeMachine,
  checkArchAgreement,
  elfFacts,
  peMachineName,
  type Arch,
  type ArchWitness,
} from '../../core/arch.js';
import { identifyKernel, isGzip } from '../../core/boot/kernel.js';
import { peHeaderFacts } from '../../core/boot/pe.js';

/** What a build defaults to when nothing says otherwise. */
export const DEFAULT_ARCH: Arch = 'x86_64';
/** Enough of a file for its headers (a gzip-compressed kernel's first 4 KiB inflate from far less). */
const HEAD = 64 * 1024;

function readHead(path: string): Uint8Array | undefined {
  if (!existsSync(path) || !statSync(path).isFile()) return undefined;
  const fd = openSync(path, 'r');
  try {
    const b = new Uint8Array(HEAD);
    return b.subarray(0, readSync(fd, b, 0, HEAD, 0));
  } finally {
    closeSync(fd);
  }
}

/** The architecture of a kernel image file (an undetectable one is left unchecked: its reader reports it later). */
export function kernelWitness(path: string): ArchWitness {
  const w: ArchWitness = { what: 'the kernel', path };
  const head = readHead(path);
  if (!head) return w;
  try {
    // a partial gzip stream inflates as far as it goes with Z_SYNC_FLUSH
    const bytes = isGzip(head) ? gunzipSync(head, { finishFlush: constants.Z_SYNC_FLUSH }) : head;
    const k = identifyKernel(bytes);
    return { ...w, arch: k.arch, how: isGzip(head) ? `${k.description}, gzip-compressed` : k.description };
  } catch {
    return w; // not a kernel image we know, or a damaged gzip stream: its reader says so later
  }
}

/** The architecture of an ELF binary (busybox): x86-64 or AArch64; others (i386, armhf) are left unchecked. */
export function elfWitness(path: string, what = 'the busybox binary'): ArchWitness {
  const w: ArchWitness = { what, path };
  const head = readHead(path);
  const elf = head && elfFacts(head);
  return elf ? { ...w, ...(elf.arch ? { arch: elf.arch } : {}), how: elf.description } : w;
}

/** The architecture of a PE/COFF EFI binary (systemd's EFI stub). */
export function peWitness(path: string, what = 'the EFI stub'): ArchWitness {
  const w: ArchWitness = { what, path };
  const head = readHead(path);
  const pe = head && peHeaderFacts(head);
  if (!pe) return w;
  const arch = archOfPeMachine(pe.machine);
  return { ...w, ...(arch ? { arch } : {}), how: `PE/COFF ${peMachineName(pe.machine)}` };
}

export interface ArchParts {
  kernel?: unknown;
  busybox?: unknown;
  stub?: unknown;
}

/** Witnesses for the parts given as host files (built-from-source parts are built for the chosen arch). */
export function fileWitnesses(p: ArchParts): ArchWitness[] {
  const out: ArchWitness[] = [];
  if (typeof p.kernel === 'string') out.push(kernelWitness(p.kernel));
  if (typeof p.busybox === 'string') out.push(elfWitness(p.busybox));
  if (typeof p.stub === 'string' && p.stub !== 'none') out.push(peWitness(p.stub));
  return out;
}

/**
 * The architecture the files say (throwing E_USAGE_ARCH_MISMATCH, naming
 * both, when two disagree), or undefined when none tells.
 */
export function detectArch(p: ArchParts): Arch | undefined {
  return checkArchAgreement(fileWitnesses(p));
}

/**
 * Check every host file of a build against its architecture before anything
 * is written: a mix-up names both parts. `origin` says where `arch` came from.
 */
export function checkBuildArch(arch: Arch, p: ArchParts, origin = "the build's arch"): void {
  checkArchAgreement([...fileWitnesses(p), { what: origin, arch }]);
}
