/**
 * Must-show (issue 17): the BIOS disk with a squashfs root and with an EROFS
 * root boots under SeaBIOS: GRUB (from the ext4 /boot partition) -> Debian's
 * kernel -> the module initramfs (squashfs or erofs loaded) -> the root by
 * PARTUUID, mounted read-only -> busybox init -> login on ttyS0, with
 * syslogd, klogd and udhcpc running, /tmp and /var on tmpfs, DHCP and the
 * resolver configured in /run, and a clean power-off. One boot each.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { startQemu } from '../../src/node/qemu/index.js';
import { nodeGzipCompressor } from '../../src/node/squashfs/compress.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { inGuest, powerOff, sh, until } from '../helpers/guest.js';
import { BUSYBOX_SOURCE, buildHostBiosDisk } from './disk.js';

const k = debianKernel();
const skip = missing({
  tools: ['qemu-system-x86_64', 'grub-mkimage', 'sfdisk', 'e2fsck', 'make'],
  files: [k.vmlinuz, k.modules, BUSYBOX_SOURCE, '/usr/lib/grub/i386-pc/boot.img'],
});
const BOOT_TIMEOUT = 240_000;
const tmp = mkdtempSync(join(tmpdir(), 'bios-ro-boot-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe.skipIf(skip)('bios disk with a read-only root boots to login with its services', () => {
  for (const format of ['squashfs', 'erofs'] as const) {
    it(`${format} root`, async () => {
      const img = join(tmp, `${format}.img`);
      const disk = await buildHostBiosDisk(img, {
        rootFormat: format,
        // gzip level 1: the 400 MB of Debian's modules compress in a fraction of level 9's time
        readOnlyRoot: { squashfs: { compressor: nodeGzipCompressor({ level: 1 }) } },
      });
      const v = run('sfdisk', ['--verify', img]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const t0 = Date.now();
      const q = startQemu({
        disk: { path: img, format: 'raw', interface: 'virtio' },
        net: { type: 'user', model: 'e1000' },
        accel: 'tcg',
        memory: 512,
        console: join(tmp, `${format}-console.log`),
      });
      await inGuest(q, async () => {
        await q.waitFor(/Loading \/boot\/vmlinuz/, 60_000);
        await q.waitFor(/login: /, BOOT_TIMEOUT);
        console.log(`bios ${format} root under ${q.accel}: login: after ${((Date.now() - t0) / 1000).toFixed(1)} s`);
        q.send('root\n');
        await q.waitFor(/:~# /, 30_000);
        const mounts = await sh(q, 'cat /proc/cmdline; cat /proc/mounts');
        expect(mounts).toContain(`root=PARTUUID=${disk.result.partuuid} ro rootfstype=${format}`);
        expect(mounts).toMatch(new RegExp(`^/dev/vda2 / ${format} ro[, ]`, 'm'));
        for (const dir of ['/run', '/tmp', '/var']) expect(mounts).toMatch(new RegExp(`^tmpfs ${dir} tmpfs rw`, 'm'));
        // the root refuses writes; /var keeps what the image had
        const ro = await sh(
          q,
          'touch /etc/x 2>&1; test -d /var/lib && test -d /var/spool && echo var-kept; readlink /var/run',
        );
        expect(ro).toMatch(/Read-only file system[\s\S]*var-kept\s+\.\.\/run/);
        // klogd starts once syslogd runs (its run script waits with sv start): all three may take a moment
        const all =
          /(?=[\s\S]*run: \/etc\/service\/klogd)(?=[\s\S]*run: \/etc\/service\/syslogd)(?=[\s\S]*run: \/etc\/service\/udhcpc)/;
        const status = await until(q, 'sv status /etc/service/*', all);
        for (const s of ['klogd', 'syslogd', 'udhcpc'])
          expect(status).toMatch(new RegExp(`run: /etc/service/${s}: \\(pid \\d+\\)`));
        expect(await until(q, 'ip -4 addr show dev eth0', /inet 10\.0\.2\.15\//)).toContain('inet 10.0.2.15/24');
        expect(await until(q, 'cat /etc/resolv.conf', /nameserver/)).toMatch(/nameserver 10\.0\.2\.3/);
        const logs = await sh(q, 'test -s /var/log/messages && echo messages-nonempty; grep -c "" /var/log/kern.log');
        expect(logs).toContain('messages-nonempty');
        const mods = await sh(q, 'cat /proc/modules | cut -d" " -f1 | sort | tr "\\n" " "');
        expect(mods).toMatch(new RegExp(`\\b${format}\\b`));
        expect(mods).toMatch(/\be1000\b/);
        await powerOff(q);
      });
    }, 900_000);
  }
});
