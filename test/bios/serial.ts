/**
 * Stand-in QEMU driver for the bios tests (until src/qemu's startQemu is
 * used): spawn qemu-system-x86_64 with the serial console on stdio, collect
 * output, wait for a regex, type text.
 */
import { spawn, type ChildProcess } from 'node:child_process';

export interface Serial {
  readonly output: () => string;
  waitFor(re: RegExp, ms: number, from?: number): Promise<RegExpMatchArray & { end: number }>;
  send(text: string): void;
  exited: Promise<number | null>;
  kill(): void;
  proc: ChildProcess;
}

export function spawnQemu(args: string[]): Serial {
  const proc = spawn('qemu-system-x86_64', args, { stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  const waiters = new Set<() => void>();
  const onData = (b: Buffer) => {
    out += b.toString('latin1');
    for (const w of [...waiters]) w();
  };
  proc.stdout!.on('data', onData);
  proc.stderr!.on('data', onData);
  const exited = new Promise<number | null>((res) =>
    proc.on('close', (code) => {
      for (const w of [...waiters]) w();
      res(code);
    }),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    proc,
    output: () => out,
    exited,
    send(text) {
      proc.stdin!.write(text);
    },
    kill() {
      if (!done) proc.kill('SIGKILL');
    },
    waitFor(re, ms, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.slice(from).match(re);
          if (m) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(Object.assign(m, { end: from + (m.index ?? 0) + m[0].length }));
          } else if (done) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`QEMU exited before ${re} appeared; output tail:\n${out.slice(-3000)}`));
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`timeout (${ms} ms) waiting for ${re}; output tail:\n${out.slice(-3000)}`));
        }, ms);
        waiters.add(check);
        check();
      });
    },
  };
}

/** -accel kvm when /dev/kvm is usable, else TCG. */
export function accelArgs(): string[] {
  return process.env.TINYIMAGE_KVM === '1' ? ['-accel', 'kvm'] : ['-accel', 'tcg'];
}
