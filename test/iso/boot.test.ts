/**
 * The live ISO boots four ways: as a CD (El Torito) and as a raw disk
 * (hybrid MBR/GPT), under SeaBIOS and under OVMF, each time to the tiny
 * initramfs' greeting. The image is what the iso preset builds from
 * Debian's kernel and the host's busybox (GRUB from grub-pc-bin, systemd's
 * EFI stub), built once; independent tools check it before the boots.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_EFI_STUB_PATH } from '../../src/core/boot/uki.js';
import { WELCOME } from '../../src/core/initramfs/index.js';
import { build } from '../../src/node/build/build.js';
import { loadSpec } from '../../src/node/build/load.js';
import { bootQemu, qemuArgs } from '../../src/node/qemu/index.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const tmp = tmpDir('tinyimage-isoboot-');
afterAll(() => tmp.cleanup());

const BUSYBOX = existsSync('/bin/busybox') ? '/bin/busybox' : '/usr/bin/busybox';
const OVMF = ['/usr/share/OVMF/OVMF_CODE.fd', '/usr/share/OVMF/OVMF_VARS.fd'];
const CMDLINE = 'console=ttyS0 panic=-1';
const k = debianKernel();
const skip = missing({
  tools: ['qemu-system-x86_64', 'grub-mkimage', 'xorriso', 'isoinfo', 'sfdisk', 'sgdisk'],
  files: [k.vmlinuz, DEFAULT_EFI_STUB_PATH, BUSYBOX, '/usr/lib/grub/i386-pc/boot_hybrid.img', ...OVMF],
});
const iso = join(tmp.dir, 'live.iso');

beforeAll(async () => {
  if (skip) return;
  // the preset, as `tinyimage build --preset iso --kernel K --busybox B -o DIR` runs it
  const { spec } = loadSpec({ preset: 'iso', overrides: { kernel: k.vmlinuz, busybox: BUSYBOX, cmdline: CMDLINE } });
  const r = await build(spec, { outDir: tmp.dir, env: { SOURCE_DATE_EPOCH: '1700000000' } });
  expect(r.outputs.map((o) => o.name)).toEqual(['live.iso']);
}, 120_000);

describe.skipIf(skip)('live ISO', () => {
  it('is a hybrid image the independent tools accept', () => {
    const d = run('isoinfo', ['-d', '-i', iso]).stdout;
    expect(d).toContain('Rock Ridge signatures');
    expect(d).toContain('Joliet with UCS level 3');
    expect(d).toContain('El Torito VD version 1 found');
    const v = run('sfdisk', ['--verify', iso]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    expect(v.stdout).toContain('No errors detected');
    expect(v.stdout + v.stderr).not.toMatch(/overlap|warning/i);
    expect(run('sgdisk', ['-v', iso]).stdout).toContain('No problems found');
    const t = JSON.parse(run('sfdisk', ['--json', iso]).stdout).partitiontable;
    expect(t.label).toBe('gpt');
    expect(t.partitions.map((p: any) => p.type)).toEqual([
      'EBD0A0A2-B9E5-4433-87C0-68B6B72699C7',
      'C12A7328-F81F-11D2-BA4B-00A0C93EC93B',
    ]);
    const el = run('xorriso', ['-indev', iso, '-report_el_torito', 'plain']);
    const out = el.stdout + el.stderr;
    expect(out).toMatch(/El Torito boot img :\s+1\s+BIOS\s+y\s+none\s+0x0000\s+0x00\s+4\s+\d+/);
    expect(out).toMatch(/El Torito boot img :\s+2\s+UEFI\s+y\s+none/);
    expect(out).toContain('/boot/grub/i386-pc/eltorito.img');
  });

  const boots = [
    ['CD under SeaBIOS', 'bios', 'cdrom'],
    ['CD under OVMF', 'uefi', 'cdrom'],
    ['raw disk under SeaBIOS', 'bios', 'disk'],
    ['raw disk under OVMF', 'uefi', 'disk'],
  ] as const;
  for (const [name, firmware, media] of boots) {
    it(`boots to the greeting as a ${name}`, async () => {
      const r = await bootQemu({
        disk: { path: iso, media, snapshot: true, ...(media === 'cdrom' ? {} : { interface: 'virtio' as const }) },
        firmware,
        memory: 512,
        expect: new RegExp(WELCOME.replace(/[!]/g, '\\!')),
        timeoutMs: 300_000,
        console: join(tmp.dir, `console-${firmware}-${media}.log`),
      });
      expect(r.match?.[0]).toBe(WELCOME);
      expect(r.output).toContain(`Command line: ${firmware === 'bios' ? 'BOOT_IMAGE=/boot/vmlinuz ' : ''}${CMDLINE}`);
      console.log(`${name}: greeting after ${r.elapsedMs} ms (${r.accel})`);
    }, 320_000);
  }
});

describe('QEMU command line for a CD', () => {
  it('attaches the image as an IDE CD-ROM drive', () => {
    const a = qemuArgs({ disk: { path: '/x/live.iso', media: 'cdrom', readonly: true } }, 'tcg', {});
    expect(a).toContain('file=/x/live.iso,format=raw,if=ide,media=cdrom,readonly=on');
  });
});
