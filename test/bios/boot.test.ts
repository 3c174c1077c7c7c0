/**
 * Must-show: the bios disk boots from its MBR under SeaBIOS (no -kernel):
 * GRUB -> Debian's kernel -> our module initramfs -> ext4 root by PARTUUID ->
 * busybox init -> login on ttyS0; services supervised by runsv; DHCP on
 * e1000; clean power-off; e2fsck and sfdisk clean afterwards. Then the same
 * disk boots with QEMU's -kernel/-initrd/-append.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startQemu } from '../../src/node/qemu/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { readContent } from '../../src/core/tree/content.js';
import { GrubBootSector } from '../../src/core/boot/grub.js';
import { findHostGrub } from '../../src/node/system/grub-host.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { inGuest, powerOff, sh, until } from '../helpers/guest.js';
import { runCli } from '../helpers/cli.js';
import { BUSYBOX_SOURCE, buildHostBiosDisk, type HostDisk } from './disk.js';

const k = debianKernel();
const skip = missing({
  tools: ['qemu-system-x86_64', 'grub-mkimage', 'sfdisk', 'e2fsck', 'make'],
  files: [k.vmlinuz, k.modules, BUSYBOX_SOURCE, '/usr/lib/grub/i386-pc/boot.img'],
});

const BOOT_TIMEOUT = 240_000;
let tmp = '';
let img = '';
let disk: HostDisk;

/** e2fsprogs' unix_io takes "FILE?offset=N": e2fsck reads the root partition in place. */
function partitionFile(): string {
  return `${img}?offset=${disk.result.partition.offset}`;
}

describe.skipIf(skip)('bios disk: SeaBIOS -> GRUB -> Debian kernel -> busybox init', () => {
  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'bios-boot-'));
    img = join(tmp, 'disk.img');
    disk = await buildHostBiosDisk(img);
    // the container forms, written from the pristine raw disk before any boot writes to it
    for (const [out, extra] of [
      ['disk.qcow2', []],
      ['disk.vmdk', ['--subformat', 'streamOptimized']],
    ] as const) {
      const r = await runCli(['convert', img, '-o', join(tmp, out), '-q', ...extra]);
      expect(r.code, r.stderr).toBe(0);
    }
  }, 900_000);
  afterAll(() => {
    if (tmp) rmSync(tmp, { recursive: true, force: true });
  });

  it('has a valid MBR table that survived GRUB, and a clean ext4 root', () => {
    const v = run('sfdisk', ['--verify', img]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const dump = run('sfdisk', ['--dump', img]).stdout;
    expect(dump).toContain(`label-id: 0x${disk.result.signature.toString(16).padStart(8, '0')}`);
    expect(dump).toMatch(new RegExp(`start=\\s*2048, size=\\s*${disk.result.partition.size / 512}, type=83, bootable`));
    const dev = FileDevice.open(img);
    try {
      const t = readPartitionTable(dev)!;
      expect(t.scheme).toBe('mbr');
      expect(t.partitions.map((p) => [p.index, p.offset, p.size, p.partuuid, p.bootable])).toEqual([
        [1, 1 << 20, disk.result.partition.size, disk.result.partuuid, true],
      ]);
      const mbr = dev.readAt(0, 512);
      const boot = findHostGrub().boot;
      expect(mbr.subarray(0x68, 0x1b8)).toEqual(boot.subarray(0x68, 0x1b8)); // GRUB's code
      expect(GrubBootSector.decode(mbr).kernelSector).toBe(1);
    } finally {
      dev.close();
    }
    const f = run('e2fsck', ['-fn', partitionFile()]);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    expect(disk.result.initrd!.modules).toEqual(
      expect.arrayContaining(['ext4', 'ata_piix', 'sd_mod', 'virtio_blk', 'crc32c_generic']),
    );
  });

  it('boots from the MBR to a login prompt, runs the services, gets DHCP, powers off cleanly', async () => {
    const t0 = Date.now();
    // virtio-blk: SeaBIOS reads it by DMA, so GRUB loads the kernel in a second or two under TCG
    // (over IDE PIO it takes ~50 s); the -kernel boot below uses IDE (ata_piix) instead.
    const q = startQemu({
      disk: { path: img, format: 'raw', interface: 'virtio' },
      net: { type: 'user', model: 'e1000' },
      accel: 'tcg',
      memory: 512,
      console: process.env.BIOS_CONSOLE_LOG ?? join(tmp, 'console.log'),
    });
    await inGuest(q, async () => {
      await q.waitFor(/Loading \/boot\/vmlinuz/, 60_000);
      const grubMs = Date.now() - t0;
      await q.waitFor(/Linux version/, 60_000);
      const kernelMs = Date.now() - t0;
      await q.waitFor(/login: /, BOOT_TIMEOUT);
      const loginMs = Date.now() - t0;
      console.log(
        `bios boot under ${q.accel}: QEMU start to GRUB loading the kernel ${(grubMs / 1000).toFixed(1)} s, to "Linux version" ${(kernelMs / 1000).toFixed(1)} s, to login: ${(loginMs / 1000).toFixed(1)} s`,
      );
      writeFileSync(join(process.env.BIOS_TIMING_DIR ?? tmp, 'bios-boot-time.txt'), `${q.accel} ${loginMs}\n`);
      q.send('root\n');
      await q.waitFor(/:~# /, 30_000);
      // the root filesystem is our partition, found by PARTUUID
      const mounts = await sh(q, 'cat /proc/cmdline; grep " / " /proc/mounts');
      expect(mounts).toContain(`root=PARTUUID=${disk.result.partuuid}`);
      expect(mounts).toMatch(/\/dev\/vda1 \/ ext4 rw/);
      // services: all three up (udhcpc may need a moment for eth0)
      const all =
        /(?=[\s\S]*run: \/etc\/service\/klogd)(?=[\s\S]*run: \/etc\/service\/syslogd)(?=[\s\S]*run: \/etc\/service\/udhcpc)/;
      const status = await until(q, 'sv status /etc/service/*', all);
      for (const s of ['klogd', 'syslogd', 'udhcpc'])
        expect(status).toMatch(new RegExp(`run: /etc/service/${s}: \\(pid \\d+\\)`));
      const addr = await until(q, 'ip -4 addr show dev eth0', /inet 10\.0\.2\.15\//);
      expect(addr).toContain('inet 10.0.2.15/24');
      expect(await sh(q, 'ip route')).toMatch(/default via 10\.0\.2\.2 dev eth0/);
      expect(await sh(q, 'cat /etc/resolv.conf')).toMatch(/nameserver 10\.0\.2\.3/);
      const logs = await sh(
        q,
        'for f in /var/log/messages /var/log/kern.log; do test -s $f && echo "$f nonempty"; done; grep -c "" /var/log/kern.log',
      );
      expect(logs).toContain('/var/log/messages nonempty');
      expect(logs).toContain('/var/log/kern.log nonempty');
      const mods = await sh(q, 'cat /proc/modules | cut -d" " -f1 | sort | tr "\\n" " "');
      expect(mods).toMatch(/\be1000\b/);
      expect(mods).toMatch(/\bext4\b/);
      await powerOff(q);
    });
    const f = run('e2fsck', ['-fn', partitionFile()]);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    const v = run('sfdisk', ['--verify', img]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  }, 600_000);

  it('also boots with QEMU -kernel/-initrd/-append on the same disk', async () => {
    const initrd = join(tmp, 'initrd.img');
    const node = disk.plan.root.get('/boot/initrd.img');
    if (node?.type !== 'file') throw new Error('no /boot/initrd.img');
    writeFileSync(initrd, await readContent(node.content));
    const q = startQemu({
      kernel: disk.kernelPath,
      initrd,
      append: disk.result.cmdline,
      disk: { path: img, format: 'raw', interface: 'ide', snapshot: true },
      accel: 'tcg',
      memory: 512,
    });
    await inGuest(
      q,
      async () => {
        await q.waitFor(/login: /, BOOT_TIMEOUT);
        q.send('root\n');
        await q.waitFor(/:~# /, 30_000);
        expect(await sh(q, 'grep " / " /proc/mounts')).toMatch(/\/dev\/sda1 \/ ext4 rw/);
        await powerOff(q);
      },
      60,
    );
  }, 600_000);

  // issue 19: SeaBIOS boots the same disk inside qcow2 and inside a VMDK (QEMU told the format, guest writes discarded)
  for (const [name, format] of [
    ['disk.qcow2', 'qcow2'],
    ['disk.vmdk', 'vmdk'],
  ] as const) {
    it(`boots to a login prompt from ${name} (${format})`, async () => {
      const path = join(tmp, name);
      expect(run('qemu-img', ['info', '-f', format, path]).code).toBe(0);
      const q = startQemu({
        disk: { path, format, interface: 'virtio', snapshot: true },
        accel: 'tcg',
        memory: 512,
        console: join(tmp, `console-${format}.log`),
      });
      await inGuest(
        q,
        async () => {
          await q.waitFor(/Loading \/boot\/vmlinuz/, 60_000);
          await q.waitFor(/login: /, BOOT_TIMEOUT);
          expect(q.output()).toContain(`root=PARTUUID=${disk.result.partuuid}`);
        },
        60,
      );
    }, 600_000);
  }
});
