/**
 * Talking to a booted guest on its serial console (the BIOS boot tests): a
 * shell command's output, a command retried until its output matches, a
 * clean power-off, and a session that prints the console's tail on failure
 * and always stops QEMU.
 */
import { expect } from 'vitest';
import type { QemuSession } from '../../src/node/qemu/index.js';

/** Run a shell command on the serial console and return its output (between markers). */
export async function sh(q: QemuSession, cmd: string, ms = 30_000): Promise<string> {
  const id = Math.random().toString(36).slice(2, 8);
  // The marker is printed by printf from split pieces so the echoed command line never matches.
  q.send(`${cmd}; printf '%s-%s\\n' END ${id}\n`);
  const m = await q.waitFor(new RegExp(`\\n([\\s\\S]*?)END-${id}`), ms);
  return m[1]!;
}

/** `cmd` until its output matches `re` (at most 30 tries a second apart); returns the last output. */
export async function until(q: QemuSession, cmd: string, re: RegExp): Promise<string> {
  let out = '';
  for (let i = 0; i < 30; i++) {
    out = await sh(q, cmd);
    if (re.test(out)) break;
    await new Promise((r) => setTimeout(r, 1000));
  }
  return out;
}

/** `poweroff` in the guest: QEMU exits 0 after the kernel's "reboot: Power down". */
export async function powerOff(q: QemuSession): Promise<void> {
  q.send('poweroff\n');
  const exit = await q.waitExit(120_000);
  expect(exit.code).toBe(0);
  expect(q.output()).toMatch(/reboot: Power down/);
}

/** Run `fn` on the session; on failure print the console's last `tail` lines; always stop QEMU. */
export async function inGuest<T>(q: QemuSession, fn: () => Promise<T>, tail = 80): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    console.log(q.tail(tail));
    throw e;
  } finally {
    await q.stop();
  }
}
