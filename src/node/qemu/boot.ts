/** One boot: start QEMU, wait for a console line (or the guest to power off), stop QEMU. */
import { isRaspiMachine, type Accel, type DiskOptions } from './args.js';
import { startQemu, type QemuExit, type SessionOptions } from './session.js';
import { raspiBootFiles } from './target.js';

export interface BootOptions extends SessionOptions {
  /** Succeed as soon as this matches the console. Without it, succeed when the guest powers off (QEMU exits). */
  expect?: RegExp;
  /** Give up after this long (default 120 s). */
  timeoutMs?: number;
}

export interface BootResult {
  /** The match of `expect` (undefined without `expect`). */
  match?: RegExpExecArray;
  /** The whole console (up to `keep` characters). */
  output: string;
  /** Time from starting QEMU to the match (or exit). */
  elapsedMs: number;
  accel: Accel;
  /** QEMU's exit (after stop() when `expect` matched). */
  exit: QemuExit;
}

/**
 * Boot and watch the serial console. Rejects with ToolError
 * E_TOOL_QEMU_TIMEOUT / E_TOOL_QEMU_PANIC / E_TOOL_QEMU_EXIT carrying the
 * console tail (data.tail). QEMU is always stopped before this settles.
 */
export async function bootQemu(opts: BootOptions): Promise<BootResult> {
  const { opts: o, cleanup } = await withRaspiBootFiles(opts);
  try {
    return await bootPrepared(o);
  } finally {
    cleanup();
  }
}

/**
 * A Raspberry Pi machine given only its SD card: the kernel, device tree,
 * initramfs and command line come from the card's boot partition, and the
 * console is on the UART the command line names.
 */
export async function withRaspiBootFiles<T extends SessionOptions>(opts: T): Promise<{ opts: T; cleanup(): void }> {
  const first = opts.disk === undefined ? undefined : Array.isArray(opts.disk) ? opts.disk[0] : opts.disk;
  if (!isRaspiMachine(opts.machine) || opts.kernel || first === undefined) return { opts, cleanup() {} };
  const path = typeof first === 'string' ? first : (first as DiskOptions).path;
  const f = await raspiBootFiles(path, opts.machine);
  const o: T = {
    ...opts,
    arch: 'arm64',
    kernel: f.kernel,
    dtb: f.dtb,
    ...(f.initrd ? { initrd: f.initrd } : {}),
    append: opts.append ?? f.append,
    serialPort: opts.serialPort ?? f.serialPort,
  };
  return { opts: o, cleanup: f.cleanup };
}

async function bootPrepared(opts: BootOptions): Promise<BootResult> {
  const started = Date.now();
  const s = startQemu(opts);
  const timeout = opts.timeoutMs ?? 120_000;
  try {
    if (opts.expect) {
      const match = await s.waitFor(opts.expect, timeout);
      const elapsedMs = Date.now() - started;
      const exit = await s.stop();
      return { match, output: s.output(), elapsedMs, accel: s.accel, exit };
    }
    const exit = await s.waitExit(timeout);
    return { output: s.output(), elapsedMs: Date.now() - started, accel: s.accel, exit };
  } finally {
    await s.stop();
  }
}
