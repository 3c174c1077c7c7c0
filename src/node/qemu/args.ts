/**
 * The QEMU command line for a boot, built from options as plain data (no
 * host access here, so it is unit-testable).
 */
import { UsageError } from '../../core/errors.js';

export type Firmware = 'bios' | 'uefi';
export type Accel = 'kvm' | 'tcg';

export interface DiskOptions {
  path: string;
  /** QEMU's name of the image format (default 'raw'): raw, qcow2, vpc (VHD) or vmdk. */
  format?: 'raw' | 'qcow2' | 'vpc' | 'vmdk';
  /** Bus (default 'virtio'; 'ide' for a CD). The guest kernel needs the driver (virtio_blk / ata_piix) built in or in its initramfs. */
  interface?: 'virtio' | 'ide';
  /** 'cdrom' attaches the image as a CD-ROM drive (QEMU's -cdrom: IDE, read-only), booted through El Torito. */
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
  /** Kernel image (bzImage/vmlinuz) for a direct kernel boot. */
  kernel?: string;
  initrd?: string;
  /** Kernel command line (default "console=ttyS0"). */
  append?: string;
  /** A disk image (or several) to boot from / attach. */
  disk?: string | DiskOptions | Array<string | DiskOptions>;
  /** 'bios' (SeaBIOS, default) or 'uefi' (OVMF). */
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
  /** QEMU binary (default qemu-system-x86_64). */
  qemu?: string;
  /** Machine type (default 'pc'). */
  machine?: string;
  /** OVMF code/vars images (default: found under /usr/share/OVMF or /usr/share/ovmf). */
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

export function defaultMemory(firmware: Firmware): number {
  return firmware === 'uefi' ? 512 : 256;
}

/** QEMU arguments (without the binary). The serial console is on stdio. */
export function qemuArgs(opts: QemuOptions, accel: Accel, fw: ResolvedFirmware): string[] {
  const firmware = opts.firmware ?? 'bios';
  const disks = diskList(opts.disk);
  if (!opts.kernel && disks.length === 0)
    throw new UsageError('E_USAGE_QEMU', 'nothing to boot: give a kernel or a disk image', {});
  if (!opts.kernel && (opts.initrd || opts.append))
    throw new UsageError('E_USAGE_QEMU', 'an initrd or a command line needs a kernel', {});
  const memory = opts.memory ?? defaultMemory(firmware);
  if (!Number.isInteger(memory) || memory < 16)
    throw new UsageError('E_USAGE_QEMU', `memory must be at least 16 MiB, got ${memory}`, {
      field: 'memory',
      actual: memory,
    });
  const cpus = opts.cpus ?? 1;
  const a: string[] = [
    '-machine',
    `${opts.machine ?? 'pc'},accel=${accel}`,
    ...(accel === 'kvm' ? ['-cpu', 'max'] : []),
    '-m',
    String(memory),
    '-smp',
    String(cpus),
    '-nodefaults',
    '-display',
    'none',
    '-monitor',
    'none',
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
    if (opts.initrd) a.push('-initrd', opts.initrd);
    a.push('-append', opts.append ?? 'console=ttyS0');
  }
  for (const d of disks) {
    const cdrom = d.media === 'cdrom';
    let v = `file=${driveValue(d.path)},format=${d.format ?? 'raw'},if=${d.interface ?? (cdrom ? 'ide' : 'virtio')}`;
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
