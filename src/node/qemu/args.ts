/**
 * The QEMU command line for a boot, built from options as plain data (no
 * host access here, so it is unit-testable). x86_64 runs on `pc` with
 * SeaBIOS or OVMF; arm64 on `virt` (AAVMF for UEFI, or a direct kernel
 * boot) or on a Raspberry Pi machine (`raspi3b`: the kernel, device tree
 * and SD card given directly, the console on the UART the command line names).
 */
import { UsageError } from '../../core/errors.js';
import type { Arch } from '../../core/arch.js';

export type Firmware = 'bios' | 'uefi';
export type Accel = 'kvm' | 'tcg';

export interface DiskOptions {
  path: string;
  /** QEMU's name of the image format (default 'raw'): raw, qcow2, vpc (VHD) or vmdk. */
  format?: 'raw' | 'qcow2' | 'vpc' | 'vmdk';
  /** Bus (default 'virtio'; 'ide' for a CD; 'sd' on Raspberry Pi machines). The guest kernel needs the driver (virtio_blk / ata_piix / the SD host) built in or in its initramfs. */
  interface?: 'virtio' | 'ide' | 'sd';
  /** 'cdrom' attaches the image as a CD-ROM drive (QEMU's -cdrom: IDE, read-only), booted through El Torito; x86_64 (pc) only. */
  media?: 'disk' | 'cdrom';
  /** Discard guest writes (QEMU snapshot=on); default false. */
  snapshot?: boolean;
  readonly?: boolean;
}

export interface NetOptions {
  /** Only user-mode (slirp) networking. */
  type: 'user';
  /** NIC model (default 'e1000'). */
  model?: 'e1000' | 'virtio-net';
}

export interface QemuOptions {
  /** Guest architecture (default x86_64): qemu-system-x86_64 or qemu-system-aarch64. */
  arch?: Arch;
  /** Kernel image (bzImage/vmlinuz, arm64 Image) for a direct kernel boot. */
  kernel?: string;
  /** Device tree for the kernel (Raspberry Pi machines). */
  dtb?: string;
  initrd?: string;
  /** Kernel command line (default "console=ttyS0"). */
  append?: string;
  /** A disk image (or several) to boot from / attach. */
  disk?: string | DiskOptions | Array<string | DiskOptions>;
  /** 'bios' (SeaBIOS, x86 default) or 'uefi' (OVMF; AAVMF on arm64, the default there for a disk boot). */
  firmware?: Firmware;
  /** Guest memory in MiB (default 256, 512 under UEFI). */
  memory?: number;
  cpus?: number;
  /** User-mode network: true / 'user' = e1000, or NetOptions. Default: no network. */
  net?: boolean | 'user' | NetOptions;
  /** 'auto' (default: KVM only when it actually works, probed once), 'kvm' or 'tcg'. Env TINYIMAGE_ACCEL overrides 'auto'. */
  accel?: 'auto' | Accel;
  /** Exit QEMU instead of rebooting the guest (default true: a reboot or triple fault ends the run). */
  noReboot?: boolean;
  /** QEMU binary (default qemu-system-x86_64, qemu-system-aarch64 for arm64). */
  qemu?: string;
  /** Machine type (default 'pc'; 'virt' for arm64; 'raspi3b' boots a Raspberry Pi SD card). */
  machine?: string;
  /** CPU model (default: QEMU's for x86 under TCG, 'max' under KVM; cortex-a57 on arm64 virt). */
  cpu?: string;
  /** Which of the machine's serial ports is on stdio (default 0; 1 is the Raspberry Pi's mini UART, ttyS1). */
  serialPort?: number;
  /** UEFI firmware code/vars images (default: OVMF under /usr/share/OVMF, AAVMF under /usr/share/AAVMF for arm64). */
  ovmfCode?: string;
  ovmfVars?: string;
  /** Extra arguments appended to the command line. */
  extraArgs?: string[];
}

export interface ResolvedFirmware {
  /** -bios FILE (a combined OVMF.fd) */
  bios?: string;
  /** pflash code (read-only) + vars (a private writable copy). */
  code?: string;
  vars?: string;
}

function diskList(d: QemuOptions['disk']): DiskOptions[] {
  if (d === undefined) return [];
  return (Array.isArray(d) ? d : [d]).map((x) => (typeof x === 'string' ? { path: x } : x));
}

function driveValue(s: string): string {
  // QEMU option values escape ',' by doubling it.
  return s.replace(/,/g, ',,');
}

export function defaultMemory(firmware: Firmware, arch: Arch = 'x86_64'): number {
  if (arch === 'arm64') return 1024;
  return firmware === 'uefi' ? 512 : 256;
}

/** What a machine takes: its binary, its fixed parts, its default bus. */
export interface MachineProfile {
  qemu: string;
  machine: string;
  /** Raspberry Pi machines have fixed memory and CPUs, an SD card and no firmware. */
  raspi: boolean;
  cpu?: string;
}

export const QEMU_BINARIES: Readonly<Record<Arch, string>> = {
  x86_64: 'qemu-system-x86_64',
  arm64: 'qemu-system-aarch64',
};

/** The UART of the last console= (the kernel's /dev/console): QEMU's raspi serial 0 is the PL011, 1 the mini UART. */
export function raspiSerialPort(cmdline: string): number {
  const consoles = [...cmdline.matchAll(/(?:^|\s)console=([A-Za-z]+\d*)/g)].map((m) => m[1]!);
  const last = consoles.filter((c) => /^tty(S|AMA)\d/.test(c)).at(-1);
  return last && /^ttyS\d/.test(last) ? 1 : 0;
}

/** Whether `machine` is one of QEMU's Raspberry Pi boards (raspi3b, raspi3ap, raspi4b). */
export function isRaspiMachine(machine: string | undefined): boolean {
  return /^raspi/.test(machine ?? '');
}

export function machineProfile(opts: QemuOptions, accel: Accel): MachineProfile {
  const arch = opts.arch ?? 'x86_64';
  const qemu = opts.qemu ?? QEMU_BINARIES[arch];
  if (arch === 'x86_64') {
    const cpu = opts.cpu ?? (accel === 'kvm' ? 'max' : undefined);
    return { qemu, machine: opts.machine ?? 'pc', raspi: false, ...(cpu ? { cpu } : {}) };
  }
  const machine = opts.machine ?? 'virt';
  if (isRaspiMachine(machine)) return { qemu, machine, raspi: true };
  return { qemu, machine, raspi: false, cpu: opts.cpu ?? (accel === 'kvm' ? 'host' : 'cortex-a57') };
}

function checkOptions(opts: QemuOptions, disks: DiskOptions[], p: MachineProfile): void {
  if (!opts.kernel && disks.length === 0)
    throw new UsageError('E_USAGE_QEMU', 'nothing to boot: give a kernel or a disk image', {});
  if (!opts.kernel && (opts.initrd || opts.append || opts.dtb))
    throw new UsageError('E_USAGE_QEMU', 'an initrd, a device tree or a command line needs a kernel', {});
  if (p.raspi && !opts.kernel)
    throw new UsageError(
      'E_USAGE_QEMU',
      `QEMU's ${p.machine} has no firmware to boot an SD card: give the kernel and device tree ` +
        "(bootQemu and 'tinyimage boot' take them from the card's boot partition)",
      { field: 'kernel' },
    );
  if ((opts.arch ?? 'x86_64') === 'arm64' && opts.firmware === 'bios')
    throw new UsageError('E_USAGE_QEMU', "arm64 machines have no PC BIOS: use firmware 'uefi' (AAVMF)", {
      field: 'firmware',
    });
  const serial = opts.serialPort ?? 0;
  if (!Number.isInteger(serial) || serial < 0 || serial > 3)
    throw new UsageError('E_USAGE_QEMU', `serialPort must be 0..3, got ${serial}`, { field: 'serialPort' });
}

/** The firmware a boot uses: x86 SeaBIOS by default; arm64 virt UEFI (AAVMF) for a disk, none for a kernel. */
export function effectiveFirmware(opts: QemuOptions): Firmware | undefined {
  if ((opts.arch ?? 'x86_64') === 'x86_64') return opts.firmware ?? 'bios';
  if (isRaspiMachine(opts.machine)) return undefined;
  return opts.firmware ?? (opts.kernel ? undefined : 'uefi');
}

/** QEMU arguments (without the binary). The serial console is on stdio. */
export function qemuArgs(opts: QemuOptions, accel: Accel, fw: ResolvedFirmware): string[] {
  const arch = opts.arch ?? 'x86_64';
  const firmware = effectiveFirmware(opts);
  const disks = diskList(opts.disk);
  const p = machineProfile(opts, accel);
  checkOptions(opts, disks, p);
  const memory = opts.memory ?? (p.raspi ? undefined : defaultMemory(firmware ?? 'bios', arch));
  // on a Pi the console is on the UART the command line names (ttyS1: the mini UART, QEMU's second serial)
  const serialPort = opts.serialPort ?? (p.raspi ? raspiSerialPort(opts.append ?? '') : 0);
  if (memory !== undefined && (!Number.isInteger(memory) || memory < 16))
    throw new UsageError('E_USAGE_QEMU', `memory must be at least 16 MiB, got ${memory}`, {
      field: 'memory',
      actual: memory,
    });
  const a: string[] = [
    '-machine',
    `${p.machine},accel=${accel}`,
    ...(p.cpu ? ['-cpu', p.cpu] : []),
    ...(memory !== undefined ? ['-m', String(memory)] : []),
    // Raspberry Pi machines have their fixed number of cores
    ...(p.raspi && opts.cpus === undefined ? [] : ['-smp', String(opts.cpus ?? 1)]),
    '-nodefaults',
    '-display',
    'none',
    '-monitor',
    'none',
    ...Array.from({ length: serialPort }, () => ['-serial', 'null']).flat(),
    '-serial',
    'stdio',
  ];
  if (opts.noReboot ?? true) a.push('-no-reboot');
  if (firmware === 'uefi') {
    if (fw.bios) a.push('-bios', fw.bios);
    else if (fw.code && fw.vars) {
      a.push('-drive', `if=pflash,format=raw,unit=0,readonly=on,file=${driveValue(fw.code)}`);
      a.push('-drive', `if=pflash,format=raw,unit=1,file=${driveValue(fw.vars)}`);
    }
  }
  if (opts.kernel) {
    a.push('-kernel', opts.kernel);
    if (opts.dtb) a.push('-dtb', opts.dtb);
    if (opts.initrd) a.push('-initrd', opts.initrd);
    a.push('-append', opts.append ?? (arch === 'arm64' && !p.raspi ? 'console=ttyAMA0' : 'console=ttyS0'));
  }
  for (const d of disks) {
    const cdrom = d.media === 'cdrom';
    if (cdrom && arch !== 'x86_64')
      throw new UsageError(
        'E_USAGE_QEMU',
        `a CD-ROM drive (${d.path}) is for x86_64 guests: QEMU's ${p.machine} machine has no IDE bus`,
        {
          path: d.path,
        },
      );
    let v = `file=${driveValue(d.path)},format=${d.format ?? 'raw'},if=${d.interface ?? (cdrom ? 'ide' : p.raspi ? 'sd' : 'virtio')}`;
    if (cdrom) v += ',media=cdrom';
    if (d.snapshot) v += ',snapshot=on';
    if (d.readonly) v += ',readonly=on';
    a.push('-drive', v);
  }
  const net = opts.net === true || opts.net === 'user' ? { type: 'user' as const } : opts.net || undefined;
  if (net) a.push('-nic', `user,model=${net.model === 'virtio-net' ? 'virtio-net-pci' : 'e1000'}`);
  else a.push('-nic', 'none');
  a.push(...(opts.extraArgs ?? []));
  return a;
}
