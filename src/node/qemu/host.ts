/**
 * Host facts the harness needs: a working accelerator (probed once per
 * process) and the OVMF firmware files.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ToolError } from '../../core/errors.js';
import type { Accel, ResolvedFirmware } from './args.js';
import type { Arch } from '../../core/arch.js';

export const DEFAULT_QEMU = 'qemu-system-x86_64';

/** A PATH lookup without spawning a shell. */
export function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    if (dir && existsSync(join(dir, cmd))) return join(dir, cmd);
  }
  return undefined;
}

export function requireQemu(qemu = DEFAULT_QEMU): string {
  const p = which(qemu);
  const pkg = /aarch64|arm/.test(qemu) ? 'qemu-system-arm' : 'qemu-system-x86';
  if (!p)
    throw new ToolError('E_TOOL_MISSING', `${qemu} not found: install QEMU (Debian: apt-get install ${pkg})`, {
      command: qemu,
    });
  return p;
}

/**
 * A 64 KiB "BIOS" whose reset vector writes 0x2a to the isa-debug-exit port
 * and halts: QEMU then exits with status (0x2a << 1) | 1 = 85. The code sits
 * in the last 16 bytes (F000:FFF0).
 */
function probeBios(): Uint8Array {
  const b = new Uint8Array(65536);
  b.set([0xb0, 0x2a, 0xe6, 0xf4, 0xf4, 0xeb, 0xfe], 65536 - 16); // mov al,0x2a; out 0xf4,al; hlt; jmp $
  return b;
}

let kvmVerdict: { ok: boolean; why: string } | undefined;

/**
 * Whether KVM actually runs guests here: /dev/kvm must exist, and a probe
 * guest under `-accel kvm -cpu max` (the CPU model real runs use) must run
 * its first instruction and exit with the expected status, with no warning
 * from QEMU (a KVM that lacks basic CPU features or rejects MSR writes, as
 * in some nested or sandboxed hosts, fails here). Cached for the process.
 */
export function kvmWorks(qemu = DEFAULT_QEMU): { ok: boolean; why: string } {
  if (kvmVerdict) return kvmVerdict;
  if (!existsSync('/dev/kvm')) return (kvmVerdict = { ok: false, why: '/dev/kvm does not exist' });
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-kvm-'));
  try {
    const bios = join(dir, 'probe.bin');
    writeFileSync(bios, probeBios());
    const r = spawnSync(
      qemu,
      [
        '-machine',
        'pc,accel=kvm',
        '-cpu',
        'max',
        '-m',
        '16',
        '-nodefaults',
        '-display',
        'none',
        '-monitor',
        'none',
        '-serial',
        'none',
        '-bios',
        bios,
        '-device',
        'isa-debug-exit,iobase=0xf4,iosize=0x04',
      ],
      { timeout: 10_000, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const err = `${r.stderr ?? ''}`.trim();
    if (r.error) kvmVerdict = { ok: false, why: `probe failed: ${r.error.message}` };
    else if (r.status !== 85)
      kvmVerdict = {
        ok: false,
        why: `probe guest did not run (status ${r.status ?? r.signal}): ${err.split('\n')[0] ?? ''}`,
      };
    else if (err) kvmVerdict = { ok: false, why: `QEMU warned under KVM: ${err.split('\n')[0]}` };
    else kvmVerdict = { ok: true, why: 'probe guest ran under KVM' };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return kvmVerdict;
}

/**
 * The accelerator to use: explicit choice, else $TINYIMAGE_ACCEL, else KVM
 * when it works, else TCG. A guest of another architecture than the host
 * (arm64 on x86-64), and a Raspberry Pi machine, always run under TCG.
 */
export function chooseAccel(
  choice: 'auto' | Accel | undefined,
  qemu = DEFAULT_QEMU,
  guest: { arch?: Arch; machine?: string } = {},
): Accel {
  if (choice === 'kvm' || choice === 'tcg') return choice;
  if ((guest.arch ?? 'x86_64') !== 'x86_64' || /^raspi/.test(guest.machine ?? '')) return 'tcg';
  const env = process.env.TINYIMAGE_ACCEL;
  if (env === 'kvm' || env === 'tcg') return env;
  return kvmWorks(qemu).ok ? 'kvm' : 'tcg';
}

const OVMF_PAIRS: Array<[string, string]> = [
  ['/usr/share/OVMF/OVMF_CODE_4M.fd', '/usr/share/OVMF/OVMF_VARS_4M.fd'],
  ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'],
  ['/usr/share/edk2/ovmf/OVMF_CODE.fd', '/usr/share/edk2/ovmf/OVMF_VARS.fd'],
  ['/usr/share/edk2/x64/OVMF_CODE.4m.fd', '/usr/share/edk2/x64/OVMF_VARS.4m.fd'],
];
const OVMF_COMBINED = ['/usr/share/ovmf/OVMF.fd', '/usr/share/qemu/OVMF.fd'];

/** AAVMF (Debian's qemu-efi-aarch64): UEFI for QEMU's arm64 virt machine. */
const AAVMF_PAIRS: Array<[string, string]> = [
  ['/usr/share/AAVMF/AAVMF_CODE.fd', '/usr/share/AAVMF/AAVMF_VARS.fd'],
  ['/usr/share/edk2/aarch64/QEMU_EFI-pflash.raw', '/usr/share/edk2/aarch64/vars-template-pflash.raw'],
];

/**
 * OVMF for a UEFI boot: a code image plus a private copy of its vars image
 * (so the guest's variable writes never touch the system file), or a combined
 * OVMF.fd. `cleanup` removes the copy.
 */
export function resolveOvmf(
  opts: { ovmfCode?: string; ovmfVars?: string; arch?: Arch } = {},
): ResolvedFirmware & { cleanup(): void } {
  if ((opts.arch ?? 'x86_64') === 'arm64') return resolveAavmf(opts);
  let pair: [string, string] | undefined;
  if (opts.ovmfCode) {
    if (!existsSync(opts.ovmfCode))
      throw new ToolError('E_TOOL_OVMF', `OVMF code image ${opts.ovmfCode} does not exist`, { path: opts.ovmfCode });
    if (!opts.ovmfVars) return { bios: opts.ovmfCode, cleanup() {} };
    pair = [opts.ovmfCode, opts.ovmfVars];
  } else {
    pair = OVMF_PAIRS.find(([c, v]) => existsSync(c) && existsSync(v));
  }
  if (pair) {
    if (!existsSync(pair[1]))
      throw new ToolError('E_TOOL_OVMF', `OVMF vars image ${pair[1]} does not exist`, { path: pair[1] });
    const dir = mkdtempSync(join(tmpdir(), 'tinyimage-ovmf-'));
    const vars = join(dir, 'OVMF_VARS.fd');
    copyFileSync(pair[1], vars);
    return { code: pair[0], vars, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
  }
  const combined = OVMF_COMBINED.find((p) => existsSync(p));
  if (combined) return { bios: combined, cleanup() {} };
  throw new ToolError(
    'E_TOOL_OVMF',
    `no OVMF firmware found (looked for ${OVMF_PAIRS.map((p) => p[0]).join(', ')}, ${OVMF_COMBINED.join(', ')}): install it (Debian: apt-get install ovmf) or pass ovmfCode/ovmfVars`,
    {},
  );
}

/** AAVMF for an arm64 UEFI boot: its code image and a private copy of its vars image (pflash needs both). */
export function resolveAavmf(
  opts: { ovmfCode?: string; ovmfVars?: string } = {},
): ResolvedFirmware & { cleanup(): void } {
  const pair: [string, string] | undefined =
    opts.ovmfCode && opts.ovmfVars
      ? [opts.ovmfCode, opts.ovmfVars]
      : AAVMF_PAIRS.find(([c, v]) => existsSync(c) && existsSync(v));
  if (!pair || !existsSync(pair[0]) || !existsSync(pair[1]))
    throw new ToolError(
      'E_TOOL_OVMF',
      pair
        ? `AAVMF image ${existsSync(pair[0]) ? pair[1] : pair[0]} does not exist`
        : `no AAVMF firmware found (looked for ${AAVMF_PAIRS.map((p) => p[0]).join(', ')}): install it (Debian: apt-get install qemu-efi-aarch64) or pass ovmfCode/ovmfVars`,
      {},
    );
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-aavmf-'));
  const vars = join(dir, 'AAVMF_VARS.fd');
  copyFileSync(pair[1], vars);
  return { code: pair[0], vars, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
