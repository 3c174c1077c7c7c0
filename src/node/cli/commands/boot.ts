import { existsSync } from 'node:fs';
import { parseCommandArgs, type Command } from '../command.js';
import { isTinyImageError, UsageError } from '../../../core/errors.js';
import { bootQemu, type BootOptions } from '../../qemu/index.js';

const usage = `usage: tinyimage boot (--kernel FILE [--initrd FILE] [--append STR] | --disk IMG)
                      [--firmware bios|uefi] [--expect REGEX] [--timeout SEC]
                      [--console FILE] [--memory MB] [--net user] [--snapshot]
                      [--accel auto|kvm|tcg]

Boot a kernel (+ initrd) or a disk image in qemu-system-x86_64 and stream the
serial console to stdout (or --console FILE). KVM is used only when it
actually works here, TCG otherwise (override with TINYIMAGE_ACCEL=kvm|tcg).

Options:
  --kernel FILE        kernel image (bzImage / vmlinuz) for a direct boot
  --initrd FILE        initramfs for the kernel
  --append STR         kernel command line (default "console=ttyS0")
  --disk IMG           raw disk image to boot (repeatable)
  --disk-if IF         disk bus: virtio (default) or ide
  --snapshot           discard the guest's writes to the disk
  --firmware FW        bios (SeaBIOS, default) or uefi (OVMF)
  --expect REGEX       exit 0 as soon as REGEX (JavaScript syntax) appears
  --timeout SEC        give up after SEC seconds (default 120)
  --console FILE       write the console to FILE instead of stdout
  --memory MB          guest memory (default 256, 512 with uefi)
  --net user           user-mode network with an e1000 NIC (--net virtio: virtio-net)
  --accel MODE         auto (default: KVM only if a probe guest runs under it), kvm or tcg

Exit status: 0 when --expect matched (or, without --expect, when the guest
powered off); 1 on timeout, kernel panic or QEMU failure, with the tail of
the console on stderr; 2 on bad usage.`;

export const command: Command = {
  name: 'boot',
  summary: 'boot a kernel/initrd or a disk image in QEMU and watch the serial console',
  usage,
  async run(argv, ctx) {
    const { values, positionals } = parseCommandArgs('boot', argv, {
      kernel: { type: 'string' },
      initrd: { type: 'string' },
      append: { type: 'string' },
      disk: { type: 'string', multiple: true },
      'disk-if': { type: 'string' },
      snapshot: { type: 'boolean' },
      firmware: { type: 'string' },
      expect: { type: 'string' },
      timeout: { type: 'string' },
      console: { type: 'string' },
      memory: { type: 'string' },
      net: { type: 'string' },
      accel: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
    });
    const bad = (m: string, field?: string) =>
      new UsageError('E_USAGE_ARGS', `boot: ${m}\nTry 'tinyimage boot --help'.`, field ? { field } : {});
    if (positionals.length) throw bad(`unexpected argument '${positionals[0]}'`);
    const disks = values.disk ?? [];
    if (!values.kernel && disks.length === 0) throw bad('give --kernel FILE or --disk IMG');
    if (!values.kernel && (values.initrd || values.append)) throw bad('--initrd and --append need --kernel');
    for (const f of [values.kernel, values.initrd, ...disks])
      if (f && !existsSync(f)) throw new UsageError('E_USAGE_NOT_FOUND', `boot: ${f} does not exist`, { path: f });
    const firmware = values.firmware ?? 'bios';
    if (firmware !== 'bios' && firmware !== 'uefi')
      throw bad(`--firmware must be bios or uefi, got '${firmware}'`, '--firmware');
    const diskIf = values['disk-if'] ?? 'virtio';
    if (diskIf !== 'virtio' && diskIf !== 'ide')
      throw bad(`--disk-if must be virtio or ide, got '${diskIf}'`, '--disk-if');
    let expect: RegExp | undefined;
    if (values.expect !== undefined) {
      try {
        expect = new RegExp(values.expect);
      } catch (e) {
        throw bad(`--expect: ${(e as Error).message}`, '--expect');
      }
    }
    const timeout = values.timeout !== undefined ? Number(values.timeout) : 120;
    if (!Number.isFinite(timeout) || timeout <= 0)
      throw bad(`--timeout must be a positive number of seconds, got '${values.timeout}'`, '--timeout');
    let memory: number | undefined;
    if (values.memory !== undefined) {
      memory = Number(values.memory);
      if (!Number.isInteger(memory) || memory < 16)
        throw bad(`--memory must be a whole number of MiB (at least 16), got '${values.memory}'`, '--memory');
    }
    const accel = values.accel ?? 'auto';
    if (accel !== 'auto' && accel !== 'kvm' && accel !== 'tcg')
      throw bad(`--accel must be auto, kvm or tcg, got '${accel}'`, '--accel');
    let net: BootOptions['net'];
    if (values.net !== undefined) {
      if (values.net === 'user' || values.net === 'e1000') net = { type: 'user', model: 'e1000' };
      else if (values.net === 'virtio') net = { type: 'user', model: 'virtio-net' };
      else throw bad(`--net must be user (e1000) or virtio, got '${values.net}'`, '--net');
    }
    if (values.append !== undefined && !/(^|\s)console=ttyS0\b/.test(values.append))
      ctx.warn("--append has no console=ttyS0: the kernel's messages will not reach the serial console shown here");
    const opts: BootOptions = {
      firmware,
      accel,
      timeoutMs: timeout * 1000,
      console: values.console ?? ctx.stdout,
      ...(values.kernel ? { kernel: values.kernel } : {}),
      ...(values.initrd ? { initrd: values.initrd } : {}),
      ...(values.append !== undefined ? { append: values.append } : {}),
      ...(disks.length
        ? { disk: disks.map((path) => ({ path, interface: diskIf, snapshot: values.snapshot ?? false })) }
        : {}),
      ...(expect ? { expect } : {}),
      ...(memory !== undefined ? { memory } : {}),
      ...(net ? { net } : {}),
    };
    try {
      const r = await bootQemu(opts);
      const what = expect ? `matched ${expect}` : 'guest powered off';
      ctx.stderr.write(`\ntinyimage: boot: ${what} after ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})\n`);
      return 0;
    } catch (e) {
      if (!isTinyImageError(e) || !e.code.startsWith('E_TOOL_QEMU')) throw e;
      ctx.stderr.write(`\ntinyimage: boot: ${e.message}\n`);
      return 1;
    }
  },
};
