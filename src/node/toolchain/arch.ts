/**
 * How the toolchain builds for each architecture: Kbuild's ARCH, the kernel
 * image target, and the Debian cross compiler used when the host is
 * another architecture (gcc-aarch64-linux-gnu on an x86-64 host).
 */
import { existsSync } from 'node:fs';
import { arch as hostCpu } from 'node:os';
import type { Arch } from '../../core/arch.js';
import { ToolError } from '../../core/errors.js';
import type { HostTool } from './run.js';

export interface ToolchainArch {
  /** make ARCH=... */
  kbuild: string;
  /** arch/NAME in the kernel tree (Kconfig sources). */
  kconfigDir: string;
  /** The kernel image make target and where it lands in the build directory. */
  kernelTarget: string;
  kernelImage: string;
  /** The kernel builds device trees (make dtbs) for the platforms its config enables. */
  dtbs: boolean;
  /** GNU triplet prefix of the Debian cross toolchain. */
  crossPrefix: string;
  /** Debian packages of the cross compiler and its C library (static glibc for busybox). */
  crossGcc: string;
  crossLibcDev: string;
  /** Where that static C library lands. */
  crossLibc: string;
  /** Node's name of the CPU (os.arch()). */
  node: string;
}

export const TOOLCHAIN_ARCH: Readonly<Record<Arch, ToolchainArch>> = {
  x86_64: {
    kbuild: 'x86_64',
    kconfigDir: 'x86',
    kernelTarget: 'bzImage',
    kernelImage: 'arch/x86/boot/bzImage',
    dtbs: false,
    crossPrefix: 'x86_64-linux-gnu-',
    crossGcc: 'gcc-x86-64-linux-gnu',
    crossLibcDev: 'libc6-dev-amd64-cross',
    crossLibc: '/usr/x86_64-linux-gnu/lib/libc.a',
    node: 'x64',
  },
  arm64: {
    kbuild: 'arm64',
    kconfigDir: 'arm64',
    kernelTarget: 'Image',
    kernelImage: 'arch/arm64/boot/Image',
    dtbs: true,
    crossPrefix: 'aarch64-linux-gnu-',
    crossGcc: 'gcc-aarch64-linux-gnu',
    crossLibcDev: 'libc6-dev-arm64-cross',
    crossLibc: '/usr/aarch64-linux-gnu/lib/libc.a',
    node: 'arm64',
  },
};

/** The compiler prefix for `arch` on this host: '' when the host runs it natively, else the Debian cross triplet. */
export function crossPrefix(arch: Arch, host: string = hostCpu()): string {
  return TOOLCHAIN_ARCH[arch].node === host ? '' : TOOLCHAIN_ARCH[arch].crossPrefix;
}

/** The C compiler a build for `arch` runs, with the package that provides it. */
export function compilerFor(arch: Arch, base = 'gcc', host: string = hostCpu()): HostTool {
  const prefix = crossPrefix(arch, host);
  return prefix
    ? { command: `${prefix}${base}`, debian: TOOLCHAIN_ARCH[arch].crossGcc }
    : { command: base, debian: 'gcc' };
}

/** A static glibc build for another architecture needs Debian's cross libc6-dev; say so before any work. */
export function requireCrossLibc(arch: Arch, host: string = hostCpu()): void {
  const t = TOOLCHAIN_ARCH[arch];
  if (crossPrefix(arch, host) && !existsSync(t.crossLibc))
    throw new ToolError(
      'E_TOOL_MISSING',
      `a static ${arch} build needs the cross C library ${t.crossLibc}: apt-get install ${t.crossLibcDev}`,
      { path: t.crossLibc, packages: [t.crossLibcDev] },
    );
}
