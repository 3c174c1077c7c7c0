import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { concatChunks } from '../../src/core/compress/gzip.js';
import { initramfsChunks, tinyInitramfsTree } from '../../src/core/initramfs/tiny.js';
import { bootQemu, liveQemuCount, startQemu } from '../../src/node/qemu/index.js';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';
import { debianKernel, missing } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const kernel = debianKernel();
const skip = missing({ tools: ['qemu-system-x86_64'], files: [kernel.vmlinuz, BUSYBOX] });
const work = mkdtempSync(join(tmpdir(), 'tinyimage-boot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const BOOT_TIMEOUT = 240_000;

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe.skipIf(skip)("Debian's kernel with our initramfs (QEMU)", () => {
  let initrd = '';
  it('builds the initramfs from Debian busybox-static', async () => {
    initrd = join(work, 'initrd.img');
    const tree = tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(BUSYBOX)) });
    writeFileSync(initrd, await concatChunks(initramfsChunks(tree)));
  });

  it(
    'prints "Welcome to Tiny Linux!" and gives a working shell on the serial console',
    async () => {
      const s = startQemu({ kernel: kernel.vmlinuz, initrd, append: 'console=ttyS0 quiet' });
      try {
        const t0 = Date.now();
        await s.waitFor(/Welcome to Tiny Linux!/, BOOT_TIMEOUT);
        console.log(`boot to welcome: ${((Date.now() - t0) / 1000).toFixed(1)} s (${s.accel})`);
        s.send('echo sum=$((40+2)); cat /proc/cmdline; ls /dev | grep -c .\n');
        await s.waitFor(/sum=42/, 60_000);
        const m = await s.waitFor(/console=ttyS0 quiet/, 30_000);
        expect(m[0]).toBe('console=ttyS0 quiet');
        // devtmpfs is mounted over /dev: many nodes, not just our two.
        s.send("echo mounts=$(grep -cE '^(proc /proc proc|sysfs /sys sysfs|devtmpfs /dev devtmpfs) ' /proc/mounts)\n");
        await s.waitFor(/mounts=3/, 30_000);
        // cttyhack gave the shell the serial line as its controlling terminal.
        s.send('echo "tty=$(tty)"\n');
        await s.waitFor(/tty=\/dev\/ttyS0/, 30_000);
      } finally {
        await s.stop();
      }
      expect(alive(s.pid)).toBe(false);
      expect(liveQemuCount()).toBe(0);
    },
    BOOT_TIMEOUT + 120_000,
  );

  it(
    'end to end through the CLI: tinyimage initramfs, then tinyimage boot --expect',
    async () => {
      const out = join(work, 'cli-initrd.img');
      expect(await main(['initramfs', '--busybox', BUSYBOX, '-o', out], capture())).toBe(0);
      const c = capture();
      const code = await main(
        [
          'boot',
          '--kernel',
          kernel.vmlinuz,
          '--initrd',
          out,
          '--expect',
          'Welcome to Tiny Linux!',
          '--timeout',
          String(BOOT_TIMEOUT / 1000),
        ],
        c,
      );
      expect(c.err()).toMatch(/matched/);
      expect(code).toBe(0);
      expect(c.out()).toContain('Run /init as init process');
      expect(c.out()).toContain('Welcome to Tiny Linux!');
      expect(liveQemuCount()).toBe(0);
    },
    BOOT_TIMEOUT + 60_000,
  );

  it(
    'bootQemu resolves with the match and the elapsed time',
    async () => {
      const r = await bootQemu({
        kernel: kernel.vmlinuz,
        initrd,
        expect: /Welcome to Tiny Linux!/,
        timeoutMs: BOOT_TIMEOUT,
      });
      expect(r.match?.[0]).toBe('Welcome to Tiny Linux!');
      expect(r.output).toMatch(/Linux version 6\./);
      console.log(`bootQemu: welcome after ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})`);
    },
    BOOT_TIMEOUT + 60_000,
  );
});
