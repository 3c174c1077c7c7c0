import { describe, expect, it } from 'vitest';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildBiosDiskFile, hostModules } from '../../src/node/system/bios-host.js';
import { FileDevice } from '../../src/node/io/file.js';
import { SubDevice } from '../../src/core/io/device.js';
import { openExt4 } from '../../src/core/fs/ext4/index.js';
import { readContent } from '../../src/core/tree/content.js';
import { debianKernel, missing, run, REPO } from '../helpers/prereq.js';
import { BUSYBOX_SOURCE } from './disk.js';
import { buildBusybox } from '../../src/node/toolchain/index.js';

const k = debianKernel();
const skip = missing({
  tools: ['grub-mkimage', 'sfdisk', 'e2fsck', 'make'],
  files: [k.vmlinuz, BUSYBOX_SOURCE, '/usr/lib/grub/i386-pc/boot.img'],
});

describe.skipIf(skip)('buildBiosDiskFile (host paths -> disk.img)', () => {
  it('writes a disk without modules (no initramfs) that sfdisk and e2fsck accept, deterministically', async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bios-host-'));
    try {
      const bb = await buildBusybox({ source: BUSYBOX_SOURCE, config: 'defconfig', quiet: true });
      mkdirSync(join(tmp, 'out')); // outputs go to existing directories
      const out = join(tmp, 'out/disk.img');
      const r = await buildBiosDiskFile(out, {
        kernel: k.vmlinuz,
        busybox: bb.binary,
        epoch: 1_600_000_000,
        distro: { hostname: 'hosttest' },
      });
      expect(r.initrd).toBeUndefined();
      expect(r.cmdline).toBe(`root=PARTUUID=${r.partuuid} rw rootwait console=tty0 console=ttyS0`);
      const v = run('sfdisk', ['--verify', out]);
      expect(v.code, v.stdout + v.stderr).toBe(0);
      const f = run('e2fsck', ['-fn', `${out}?offset=${r.partition.offset}`]);
      expect(f.code, f.stdout + f.stderr).toBe(0);
      // read our files back with the ext4 reader
      const dev = FileDevice.open(out);
      try {
        const vol = openExt4(new SubDevice(dev, r.partition.offset, r.partition.size));
        const cfg = vol.tree.get('/boot/grub/grub.cfg');
        if (cfg?.type !== 'file') throw new Error('no grub.cfg');
        const text = new TextDecoder().decode(await readContent(cfg.content));
        expect(text).toContain(`linux /boot/vmlinuz ${r.cmdline}`);
        expect(text).not.toContain('initrd');
        expect(vol.tree.get('/boot/grub/i386-pc/normal.mod')?.type).toBe('file');
        expect(vol.tree.get('/boot/vmlinuz')?.type).toBe('file');
        expect(vol.tree.get('/etc/hostname')?.type).toBe('file');
      } finally {
        dev.close();
      }
      // same inputs, same bytes
      const out2 = join(tmp, 'out/disk2.img');
      await buildBiosDiskFile(out2, {
        kernel: k.vmlinuz,
        busybox: bb.binary,
        epoch: 1_600_000_000,
        distro: { hostname: 'hosttest' },
      });
      expect(run('cmp', [out, out2]).code).toBe(0);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  }, 600_000);

  const debStatic = existsSync('/bin/busybox') && run('dpkg', ['-S', '/bin/busybox']).stdout.includes('busybox-static');
  it.skipIf(!debStatic)("refuses Debian's busybox-static before writing anything", async () => {
    const tmp = mkdtempSync(join(tmpdir(), 'bios-host-'));
    try {
      const out = join(tmp, 'disk.img');
      await expect(buildBiosDiskFile(out, { kernel: k.vmlinuz, busybox: '/bin/busybox' })).rejects.toMatchObject({
        code: 'E_USAGE_BUSYBOX_APPLETS',
        message: expect.stringMatching(/runsv, runsvdir, sv/),
      });
      expect(readdirSync(tmp)).toEqual([]);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('finds lib/modules/VERSION below a package root', () => {
    if (!existsSync(k.modules)) return;
    const m = hostModules(join(k.modules, '../../..'));
    expect(m.version).toBe(k.version);
    expect(() => hostModules(REPO)).toThrow(expect.objectContaining({ code: 'E_USAGE_MODULES' }));
  });
});
