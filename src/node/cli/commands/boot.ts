import { existsSync } from 'node:fs';
import { defineCommand } from '../command.js';
import { isTinyImageError, UsageError } from '../../../core/errors.js';
import { FileDevice } from '../../io/file.js';
import { detectContainer } from '../../../core/container/open.js';
import { bootQemu, type BootOptions } from '../../qemu/index.js';

export const command = defineCommand({
  name: 'boot',
  summary: 'boot a kernel/initrd or a disk image in QEMU and watch the serial console',
  synopsis:
    '(--kernel FILE [--initrd FILE] [--append STR] | --disk IMG | --cdrom ISO) [--firmware bios|uefi] [--expect REGEX] ' +
    '[--timeout SEC] [options]',
  description:
    'Boot a kernel (+ initrd) or a disk image in qemu-system-x86_64 and stream the serial console to stdout ' +
    '(or --console FILE). KVM is used only when it actually works here, TCG otherwise (override with ' +
    'TINYIMAGE_ACCEL=kvm|tcg).',
  options: {
    kernel: { type: 'path', value: 'FILE', help: 'kernel image (bzImage / vmlinuz) for a direct boot' },
    initrd: { type: 'path', value: 'FILE', help: 'initramfs for the kernel' },
    append: { type: 'string', value: 'STR', help: 'kernel command line (default "console=ttyS0")' },
    disk: {
      type: 'path',
      value: 'IMG',
      repeatable: true,
      help: 'disk image to boot: raw, qcow2, VHD or VMDK (the format is read from the file and given to QEMU)',
    },
    cdrom: { type: 'path', value: 'ISO', help: 'an ISO image in a CD-ROM drive, booted through El Torito' },
    diskIf: { type: 'enum', choices: ['virtio', 'ide'], default: 'virtio', help: 'disk bus' },
    snapshot: { type: 'boolean', help: "discard the guest's writes to the disk" },
    firmware: { type: 'enum', choices: ['bios', 'uefi'], default: 'bios', help: 'SeaBIOS or OVMF' },
    expect: { type: 'string', value: 'REGEX', help: 'exit 0 as soon as REGEX (JavaScript syntax) appears' },
    timeout: { type: 'number', value: 'SEC', min: 0.001, default: 120, help: 'give up after SEC seconds' },
    console: { type: 'path', value: 'FILE', help: 'write the console to FILE instead of stdout' },
    memory: { type: 'integer', value: 'MB', min: 16, help: 'guest memory in MiB (default 256, 512 with uefi)' },
    net: {
      type: 'enum',
      choices: ['user', 'e1000', 'virtio'],
      help: 'user-mode network: user or e1000 (an e1000 NIC), virtio (virtio-net)',
    },
    accel: {
      type: 'enum',
      choices: ['auto', 'kvm', 'tcg'],
      default: 'auto',
      help: 'auto: KVM only if a probe guest runs under it',
    },
  },
  examples: [
    "tinyimage boot --kernel bzImage --initrd initramfs.cpio.gz --expect 'Welcome to Tiny Linux'",
    "tinyimage boot --cdrom out/live.iso --firmware uefi --expect 'Welcome to Tiny Linux'",
  ],
  notes:
    'Exit status: 0 when --expect matched (or, without --expect, when the guest powered off); 1 on timeout, ' +
    'kernel panic or QEMU failure, with the tail of the console on stderr; 2 on bad usage.',
  async run({ values, ctx, usage }) {
    const disks = values.disk;
    const cdrom = values.cdrom;
    if (!values.kernel && disks.length === 0 && !cdrom) throw usage('give --kernel FILE, --disk IMG or --cdrom ISO');
    if (!values.kernel && (values.initrd || values.append)) throw usage('--initrd and --append need --kernel');
    for (const f of [values.kernel, values.initrd, ...disks, cdrom])
      if (f && !existsSync(f)) throw new UsageError('E_USAGE_NOT_FOUND', `boot: ${f} does not exist`, { path: f });
    let expect: RegExp | undefined;
    if (values.expect !== undefined) {
      try {
        expect = new RegExp(values.expect);
      } catch (e) {
        throw usage(`--expect: ${(e as Error).message}`, { field: '--expect' });
      }
    }
    const net: BootOptions['net'] =
      values.net === undefined ? undefined : { type: 'user', model: values.net === 'virtio' ? 'virtio-net' : 'e1000' };
    if (values.append !== undefined && !/(^|\s)console=ttyS0\b/.test(values.append))
      ctx.warn("--append has no console=ttyS0: the kernel's messages will not reach the serial console shown here");
    const opts: BootOptions = {
      firmware: values.firmware,
      accel: values.accel,
      timeoutMs: values.timeout * 1000,
      console: values.console ?? ctx.stdout,
      ...(values.kernel ? { kernel: values.kernel } : {}),
      ...(values.initrd ? { initrd: values.initrd } : {}),
      ...(values.append !== undefined ? { append: values.append } : {}),
      ...(disks.length || cdrom
        ? {
            disk: [
              ...disks.map((path) => ({
                path,
                format: qemuFormat(path),
                interface: values.diskIf,
                snapshot: values.snapshot,
              })),
              ...(cdrom ? [{ path: cdrom, media: 'cdrom' as const, readonly: true }] : []),
            ],
          }
        : {}),
      ...(expect ? { expect } : {}),
      ...(values.memory !== undefined ? { memory: values.memory } : {}),
      ...(net ? { net } : {}),
    };
    try {
      const r = await bootQemu(opts);
      const what = expect ? `matched ${expect}` : 'guest powered off';
      if (!ctx.quiet)
        ctx.stderr.write(`\ntinyimage: boot: ${what} after ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})\n`);
      return 0;
    } catch (e) {
      if (!isTinyImageError(e) || !e.code.startsWith('E_TOOL_QEMU')) throw e;
      ctx.stderr.write(`\ntinyimage: boot: ${e.message}\n`);
      return 1;
    }
  },
});

/** QEMU's format name for a disk file, from what it holds (QEMU is told, never left to guess). */
function qemuFormat(path: string): 'raw' | 'qcow2' | 'vpc' | 'vmdk' {
  const f = FileDevice.open(path);
  try {
    const kind = detectContainer(f);
    if (kind === 'android-sparse')
      throw new UsageError(
        'E_USAGE_FORMAT',
        `boot: ${path} is an Android sparse image, which QEMU cannot boot; convert it to raw or qcow2 first`,
        { path },
      );
    if (kind === undefined) return 'raw';
    return kind === 'qcow2' ? 'qcow2' : kind.startsWith('vhd') ? 'vpc' : 'vmdk';
  } finally {
    f.close();
  }
}
