/**
 * The BIOS disk with a read-only root (squashfs, EROFS), without booting:
 * ext4 /boot in partition 1 (bootable: kernel, module initramfs, GRUB), the
 * root in partition 2 found by PARTUUID <signature>-02, mounted read-only;
 * the distro layer set up for it (fstab ro, tmpfs for /tmp and /var in rcS,
 * runit state and resolv.conf in /run); the initramfs loads the root's
 * filesystem module. Checked with sfdisk, e2fsck, fsck.erofs, unsquashfs and
 * our readers. The boots are in boot-readonly.test.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openImage, isDisk } from '../../src/node/open.js';
import { FileDevice } from '../../src/node/io/file.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { nodeGzipCompressor } from '../../src/node/squashfs/compress.js';
import { readContent } from '../../src/core/tree/content.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { BUSYBOX_SOURCE, buildHostBiosDisk, type HostDisk } from './disk.js';

const k = debianKernel();
const skip = missing({
  tools: ['grub-mkimage', 'sfdisk', 'e2fsck', 'make', 'fsck.erofs', 'unsquashfs'],
  files: [k.vmlinuz, k.modules, BUSYBOX_SOURCE, '/usr/lib/grub/i386-pc/boot.img'],
});
const tmp = mkdtempSync(join(tmpdir(), 'bios-ro-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function text(img: string, path: string): Promise<string> {
  const v = await openImage(img);
  try {
    if (isDisk(v)) throw new Error('a disk');
    return new TextDecoder().decode(await v.readFile(path));
  } finally {
    v.close();
  }
}

describe.skipIf(skip)('bios disk with a read-only root', () => {
  for (const format of ['erofs', 'squashfs'] as const) {
    it(`${format}: /boot and root partitions, a read-only distro, the module in the initramfs`, async () => {
      const img = join(tmp, `${format}.img`);
      const d: HostDisk = await buildHostBiosDisk(img, {
        rootFormat: format,
        readOnlyRoot: { squashfs: { compressor: nodeGzipCompressor() } },
        // the root gets only the initramfs's modules here: the boot test has them all
        modules: { tree: treeFromHostDir(k.modules), version: k.version, all: false },
      });
      const r = d.result;
      expect(r.rootFormat).toBe(format);
      expect(r.partuuid).toBe(`${r.signature.toString(16).padStart(8, '0')}-02`);
      expect(r.cmdline).toBe(`root=PARTUUID=${r.partuuid} ro rootfstype=${format} console=tty0 console=ttyS0`);
      expect(r.initrd!.modules).toEqual(expect.arrayContaining([format, 'ata_piix', 'virtio_blk']));
      expect(r.initrd!.modules).not.toContain('ext4');
      const v = run('sfdisk', ['--verify', img]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const dump = run('sfdisk', ['--dump', img]).stdout;
      expect(dump).toMatch(new RegExp(`start=\\s*2048, size=\\s*${r.boot!.size / 512}, type=83, bootable`));
      expect(dump).toMatch(
        new RegExp(`start=\\s*${r.partition.offset / 512}, size=\\s*${r.partition.size / 512}, type=83\\n`),
      );
      const f = run('e2fsck', ['-fn', `${img}?offset=${r.boot!.offset}`]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      // /boot: GRUB's files, the kernel, the initramfs with the module and an /init that loads it
      const cfg = await text(`${img}:1`, '/boot/grub/grub.cfg');
      expect(cfg).toContain(`linux /boot/vmlinuz ${r.cmdline}`);
      expect(cfg).toContain('initrd /boot/initrd.img');
      // the root partition, checked by the format's own tool and opened by ours
      const rootImg = join(tmp, `${format}-root.img`);
      const dev = FileDevice.open(img);
      try {
        writeFileSync(rootImg, dev.readAt(r.partition.offset, r.partition.size));
      } finally {
        dev.close();
      }
      const check = format === 'erofs' ? run('fsck.erofs', [rootImg]) : run('unsquashfs', ['-s', rootImg]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
      const root = await openImage(`${img}:2`);
      try {
        if (isDisk(root)) throw new Error('a disk');
        expect(root.kind).toBe(format);
        expect(root.tree.get('/boot/vmlinuz')).toBeUndefined();
        expect(root.tree.get('/boot')?.type).toBe('dir');
        const read = async (p: string) => {
          const n = root.tree.get(p);
          if (n?.type !== 'file') throw new Error(`${p} is not a file`);
          return new TextDecoder().decode(await readContent(n.content));
        };
        expect(await read('/etc/fstab')).toMatch(new RegExp(`^PARTUUID=${r.partuuid}\\t/\\t${format}\\tro\\t`, 'm'));
        const rcS = await read('/etc/init.d/rcS');
        expect(rcS).not.toContain('remount,rw');
        expect(rcS).toContain('mount -t tmpfs -o mode=1777,nosuid,nodev tmpfs /tmp');
        expect(rcS).toMatch(/cp -a \/var\/\. \/run\/\.var\//);
        expect(rcS).toContain('mkdir -p /run/runit /run/runit/supervise.klogd');
        expect(root.tree.get('/etc/resolv.conf')).toMatchObject({ type: 'symlink', target: '/run/resolv.conf' });
        expect(root.tree.get('/etc/sv/syslogd/supervise')).toMatchObject({
          type: 'symlink',
          target: '/run/runit/supervise.syslogd',
        });
        expect(await read('/usr/share/udhcpc/default.script')).toContain('RESOLV_CONF=/run/resolv.conf');
        expect(root.tree.get(`/lib/modules/${k.version}/kernel/fs/${format}/${format}.ko`)?.type).toBe('file');
      } finally {
        root.close();
      }
    }, 600_000);
  }
});
