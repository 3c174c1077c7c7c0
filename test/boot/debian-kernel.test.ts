import { readFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { concatChunks } from '../../src/compress/gzip.js';
import { initramfsChunks, tinyInitramfsTree } from '../../src/initramfs/tiny.js';
import { bootQemu, liveQemuCount, startQemu } from '../../src/qemu/index.js';
import { main } from '../../src/cli/main.js';
import { debianKernel, missing } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const kernel = debianKernel();
const skip = missing({ tools: ['qemu-system-x86_64'], files: [kernel.vmlinuz, BUSYBOX] });
const work = mkdtempSync(join(tmpdir(), 'tinyimage-boot-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const BOOT_TIMEOUT = 240_000;

function sink() {
  let text = '';
  const stream = new Writable({ write(c, _e, cb) { text += c.toString(); cb(); } });
  return { stream, text: () => text };
}

function alive(pid: number | undefined): boolean {
  if (pid === undefined) return false;
  try { process.kill(pid, 0); return true; } catch { return false; }
}

describe.skipIf(skip)("Debian's kernel with our initramfs (QEMU)", () => {
  let initrd = '';
  it('builds the initramfs from Debian busybox-static', async () => {
    initrd = join(work, 'initrd.img');
    const tree = tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(BUSYBOX)) });
    writeFileSync(initrd, await concatChunks(initramfsChunks(tree)));
  });

  it('prints "Welcome to Tiny Linux!" and gives a working shell on the serial console', async () => {
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
      s.send('mountpoint -q /proc && mountpoint -q /sys && mountpoint -q /dev && echo MOUNTS-OK\n');
      await s.waitFor(/MOUNTS-OK/, 30_000);
    } finally {
      await s.stop();
    }
    expect(alive(s.pid)).toBe(false);
    expect(liveQemuCount()).toBe(0);
  }, BOOT_TIMEOUT + 120_000);
});
