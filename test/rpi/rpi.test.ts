/**
 * The Raspberry Pi SD-card image. Layout rules on small synthetic inputs
 * (config.txt, firmware and device trees, sizes, typed errors,
 * determinism); then the must-show with Debian's arm64 kernel, modules,
 * device trees and busybox-static: `tinyimage build --preset rpi` checked by
 * sfdisk --verify, fsck.fat -n, e2fsck -fn and mtools, and booted by QEMU's
 * raspi3b to a login prompt on the serial console, the root read from the
 * SD card's second partition.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { ARM64_IMAGE_HEADER, ARM64_IMAGE_MAGIC } from '../../src/core/boot/kernel.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { openDevice } from '../../src/core/open/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import {
  buildRpiImage,
  planRpiImage,
  readRpiConfigTxt,
  rpiConfigTxt,
  RPI_BOARDS,
  type RpiImageOptions,
} from '../../src/core/system/rpi.js';
import { bootQemu, raspiSerialPort } from '../../src/node/qemu/index.js';
import { build } from '../../src/node/build/build.js';
import { loadSpec } from '../../src/node/build/load.js';
import { openImage } from '../../src/node/open.js';
import { isDisk } from '../../src/core/open/index.js';
import { runCli } from '../helpers/cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { debianArm64, missing, run } from '../helpers/prereq.js';

const MiB = 1 << 20;
const tmp = tmpDir('ti-rpi-');
afterAll(() => tmp.cleanup());
const a64 = debianArm64();

/** A kernel that is an arm64 Image by its header (enough for the layout: it is never booted). */
function fakeImage(size = 2 * MiB): Uint8Array {
  const k = new Uint8Array(size);
  ARM64_IMAGE_HEADER.encode({ magic: ARM64_IMAGE_MAGIC, imageSize: size }, k);
  return k;
}

function fakeDtbs(): FileTree {
  const t = new FileTree({ defaultTime: 1234567890 });
  for (const b of Object.values(RPI_BOARDS)) t.addFile(`/broadcom/${b.dtb}`, `dtb ${b.dtb}`);
  t.addFile('/broadcom/bcm2835-rpi-b.dtb', 'old 32-bit board');
  t.addFile('/broadcom/other-board.dtb', 'not a Pi');
  t.addFile('/overlays/disable-bt.dtbo', 'overlay');
  t.addFile('/rockchip/rk3399-x.dtb', 'not a Pi');
  return t;
}

function fakeFirmware(): FileTree {
  const t = new FileTree();
  t.addFile('/bootcode.bin', 'boot');
  t.addFile('/start.elf', 'start');
  t.addFile('/fixup.dat', 'fixup');
  t.addFile('/kernel8.img', "the firmware's own kernel");
  t.addFile('/config.txt', "the firmware's own config");
  t.addFile('/overlays/miniuart-bt.dtbo', 'overlay');
  return t;
}

describe('rpi image: layout', () => {
  let busybox: Uint8Array;
  beforeAll(() => {
    busybox = new Uint8Array(readFileSync(missing({ files: [a64.busybox] }) ? '/bin/busybox' : a64.busybox));
  });
  const base = (): RpiImageOptions => ({
    kernel: fakeImage(),
    busybox,
    dtbs: fakeDtbs(),
    firmware: fakeFirmware(),
    distro: { services: { syslogd: false, klogd: false, udhcpc: false }, consoles: ['ttyS1'] },
    epoch: 1700000000,
  });

  it('config.txt: 64-bit, our kernel and initramfs, mainline DTB names, the UART; read back by the QEMU harness', () => {
    const c = rpiConfigTxt({ initrd: true, board: RPI_BOARDS['3b']!, extra: ['dtparam=audio=on'] });
    for (const l of ['arm_64bit=1', 'kernel=kernel8.img', 'initramfs initrd.img followkernel', 'upstream_kernel=1'])
      expect(c.split('\n')).toContain(l);
    expect(c.trimEnd().split('\n').at(-1)).toBe('dtparam=audio=on');
    expect(readRpiConfigTxt(c)).toEqual({ kernel: 'kernel8.img', initramfs: 'initrd.img' });
    expect(readRpiConfigTxt('kernel=a.img # mine\n[pi4]\nkernel=b.img\n')).toEqual({ kernel: 'a.img' });
    expect(() => rpiConfigTxt({ initrd: false, board: RPI_BOARDS['3b']!, extra: ['a\nb'] })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_RPI_CONFIG' }),
    );
    expect(raspiSerialPort('console=tty1 console=ttyS1,115200')).toBe(1);
    expect(raspiSerialPort('console=ttyS1 console=ttyAMA0,115200 console=tty1')).toBe(0);
  });

  it('MBR: FAT32 boot (0x0c) with firmware, Pi DTBs, overlays, our files; ext4 root (0x83) by PARTUUID', async () => {
    const dev = new MemoryDevice(0);
    const r = await buildRpiImage(base(), (size) => {
      const d = new MemoryDevice(size);
      Object.assign(dev, { d });
      return d;
    });
    const d = (dev as unknown as { d: MemoryDevice }).d;
    const t = readPartitionTable(d)!;
    expect(t.scheme).toBe('mbr');
    expect(t.partitions.map((p) => [p.index, p.type])).toEqual([
      [1, '0x0c'],
      [2, '0x83'],
    ]);
    expect(t.partitions[1]!.partuuid).toBe(r.partuuid);
    expect(r.partuuid).toMatch(/^[0-9a-f]{8}-02$/);
    expect(t.partitions[0]!.size).toBe(64 * MiB);
    const boot = await openDevice(d, { partition: 1 });
    if (!('readFile' in boot)) throw new Error('not a filesystem');
    expect(boot.kind).toBe('fat32');
    const names = boot.readdir('/').sort();
    expect(names).toEqual(
      [
        ...Object.values(RPI_BOARDS).map((b) => b.dtb),
        'bcm2835-rpi-b.dtb',
        'bootcode.bin',
        'cmdline.txt',
        'config.txt',
        'fixup.dat',
        'kernel8.img',
        'overlays',
        'start.elf',
      ].sort(),
    );
    expect(boot.readdir('/overlays').sort()).toEqual(['disable-bt.dtbo', 'miniuart-bt.dtbo']);
    const text = async (p: string) => new TextDecoder().decode(await boot.readFile(p));
    expect(await text('/config.txt')).toBe(r.config);
    expect(await text('/cmdline.txt')).toBe(
      `root=PARTUUID=${r.partuuid} rw rootwait console=tty1 console=ttyS1,115200\n`,
    );
    expect((await boot.readFile('/kernel8.img')).length).toBe(2 * MiB);
    // the image's time, not the source trees'
    expect(boot.lstat('/bcm2837-rpi-3-b.dtb').mtime.sec).toBe(1700000000);
    const root = await openDevice(d, { partition: 2 });
    if (!('readFile' in root)) throw new Error('not a filesystem');
    expect(root.kind).toBe('ext4');
    expect(new TextDecoder().decode(await root.readFile('/etc/fstab'))).toContain(`PARTUUID=${r.partuuid}`);
    expect(new TextDecoder().decode(await root.readFile('/etc/inittab'))).toMatch(
      /^ttyS1::respawn:.*getty -L 115200 ttyS1/m,
    );
  });

  it('sizes: power of two when asked, a given disk size, the boot size', async () => {
    const p = await planRpiImage({ ...base(), powerOfTwo: true });
    expect(p.size & (p.size - 1)).toBe(0);
    expect((await planRpiImage({ ...base(), diskSize: 200 * MiB })).size).toBe(200 * MiB);
    expect((await planRpiImage({ ...base(), diskSize: 200 * MiB, powerOfTwo: true })).size).toBe(256 * MiB);
    const b = await planRpiImage({ ...base(), bootSize: 96 * MiB });
    expect(b.layout.partitions[0]!.size).toBe(96 * MiB);
    await expect(planRpiImage({ ...base(), bootSize: 16 * MiB })).rejects.toMatchObject({ code: 'E_USAGE_DISK_SIZE' });
  });

  it('typed errors: no DTB for the board, not a firmware directory, an x86 or compressed kernel, unknown board', async () => {
    const noDtb = new FileTree();
    noDtb.addFile('/broadcom/bcm2711-rpi-4-b.dtb', 'x');
    await expect(planRpiImage({ ...base(), dtbs: noDtb })).rejects.toThrow(
      /no bcm2837-rpi-3-b.dtb for the Raspberry Pi 3 Model B \(found bcm2711-rpi-4-b.dtb in \/broadcom\)/,
    );
    const fw = new FileTree();
    fw.addFile('/README', 'x');
    await expect(planRpiImage({ ...base(), firmware: fw })).rejects.toMatchObject({ code: 'E_USAGE_RPI_FIRMWARE' });
    const bz = new Uint8Array(4096);
    bz.set([0x48, 0x64, 0x72, 0x53], 0x202);
    await expect(planRpiImage({ ...base(), kernel: bz })).rejects.toMatchObject({ code: 'E_USAGE_ARCH_MISMATCH' });
    await expect(planRpiImage({ ...base(), kernel: new Uint8Array([0x1f, 0x8b, 8, 0]) })).rejects.toMatchObject({
      code: 'E_USAGE_RPI_KERNEL',
    });
    await expect(planRpiImage({ ...base(), board: 'pi5' })).rejects.toThrow(
      /unknown Raspberry Pi board 'pi5' \(known: 3b,/,
    );
  });

  it('is deterministic: same inputs, same bytes; another seed, other ids', async () => {
    const make = async (seed?: string) => {
      let d: MemoryDevice | undefined;
      await buildRpiImage({ ...base(), ...(seed ? { seed } : {}) }, (size) => (d = new MemoryDevice(size)));
      return d!;
    };
    const [a, b, c] = [await make(), await make(), await make('other')];
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    expect(readPartitionTable(c)!.diskId).not.toBe(readPartitionTable(a)!.diskId);
  });
});

describe('rpi build: rootfs.from', () => {
  it.skipIf(missing({ files: [a64.busybox] }) !== undefined)(
    'lays the sources over the root, and gives the card other ids than without them',
    async () => {
      const kernel = tmp.path('from/Image');
      mkdirSync(tmp.path('from/dtbs/broadcom'), { recursive: true });
      writeFileSync(kernel, fakeImage());
      for (const b of Object.values(RPI_BOARDS)) writeFileSync(tmp.path(`from/dtbs/broadcom/${b.dtb}`), b.dtb);
      const layer = tmp.path('from/layer');
      mkdirSync(join(layer, 'etc'), { recursive: true });
      writeFileSync(join(layer, 'etc/motd'), 'from a source\n');
      const card = async (from: boolean, out: string) => {
        const overrides = {
          kernel,
          busybox: a64.busybox,
          dtbs: tmp.path('from/dtbs'),
          rootfs: { services: [], ...(from ? { from: [layer] } : {}) },
        };
        const r = await build(loadSpec({ preset: 'rpi', overrides }).spec, {
          outDir: tmp.path(out),
          env: { SOURCE_DATE_EPOCH: '1700000000' },
        });
        expect(r.outputs.map((o) => o.name)).toEqual(['sdcard.img']);
        return { path: r.outputs[0]!.path, partuuid: r.partuuid };
      };
      const plain = await card(false, 'from/plain');
      const layered = await card(true, 'from/layered');
      expect(layered.partuuid).not.toBe(plain.partuuid);
      const img = await openImage(layered.path);
      try {
        if (!isDisk(img)) throw new Error('not a disk');
        const root = img.partitions[1]!.fs!;
        expect(new TextDecoder().decode(await root.readFile('/etc/motd'))).toBe('from a source\n');
        expect(root.exists('/bin/busybox')).toBe(true);
      } finally {
        img.close();
      }
    },
    120_000,
  );
});

describe("rpi preset with Debian's arm64 kernel: independent checkers and QEMU raspi3b", () => {
  const skip = missing({
    tools: ['qemu-system-aarch64', 'sfdisk', 'fsck.fat', 'e2fsck', 'mdir'],
    files: a64.files,
  });
  let img = '';
  let cli = '';
  let args: string[] = [];
  beforeAll(async () => {
    if (skip) return;
    const spec = tmp.path('rpi.yaml');
    // Debian's busybox-static has no runit applets: the services stay off here (the bios tests cover them)
    writeFileSync(spec, 'preset: rpi\nrootfs: { services: [] }\n');
    const fw = tmp.path('firmware');
    mkdirSync(join(fw, 'overlays'), { recursive: true });
    for (const f of ['bootcode.bin', 'start.elf', 'fixup.dat']) writeFileSync(join(fw, f), `stand-in for ${f}\n`);
    const out = tmp.path('out');
    args = [
      'build',
      spec,
      '--kernel',
      a64.vmlinuz,
      '--busybox',
      a64.busybox,
      '--dtbs',
      a64.dtbs,
      '--modules',
      a64.modules,
      '--firmware',
      fw,
    ];
    const r = await runCli([...args, '-o', out], { SOURCE_DATE_EPOCH: '1700000000' });
    cli = r.stderr;
    expect(r.code, r.stderr).toBe(0);
    img = join(out, 'sdcard.img');
  }, 300_000);

  it.skipIf(skip)('sfdisk --verify, fsck.fat -n, e2fsck -fn are clean; mtools lists the boot files', () => {
    expect(cli).toMatch(/built rpi/);
    const size = statSync(img).size;
    expect(size & (size - 1)).toBe(0);
    const v = run('sfdisk', ['--verify', img]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
    const parts = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable.partitions;
    expect(parts.map((p: { type: string }) => p.type)).toEqual(['c', '83']);
    const [boot, root] = parts as Array<{ start: number; size: number }>;
    const bootImg = tmp.path('boot.img');
    writeFileSync(bootImg, readFileSync(img).subarray(boot!.start * 512, (boot!.start + boot!.size) * 512));
    const f = run('fsck.fat', ['-n', bootImg]);
    expect(f.code, f.stdout + f.stderr).toBe(0);
    const e = run('e2fsck', ['-fn', `${img}?offset=${root!.start * 512}`]);
    expect(e.code, e.stdout + e.stderr).toBe(0);
    const listing = run('mdir', ['-b', '-i', `${img}@@${boot!.start * 512}`, '::/']).stdout;
    for (const name of ['config.txt', 'cmdline.txt', 'kernel8.img', 'bcm2837-rpi-3-b.dtb', 'initrd.img', 'start.elf'])
      expect(listing, name).toContain(`::/${name}`);
    const kernel = run('mtype', ['-i', `${img}@@${boot!.start * 512}`, '::/kernel8.img']);
    expect(kernel.stdout.length).toBeGreaterThan(0);
  });

  it.skipIf(skip)(
    '--format qcow2 writes the same card into sdcard.qcow2',
    async () => {
      const out = tmp.path('out-qcow2');
      const r = await runCli([...args, '--format', 'qcow2', '-o', out], { SOURCE_DATE_EPOCH: '1700000000' });
      expect(r.code, r.stderr).toBe(0);
      const q = join(out, 'sdcard.qcow2');
      if (missing({ tools: ['qemu-img'] })) return;
      expect(run('qemu-img', ['check', q]).code).toBe(0);
      expect(JSON.parse(run('qemu-img', ['info', '--output=json', q]).stdout).format).toBe('qcow2');
      expect(run('qemu-img', ['compare', img, q]).stdout).toContain('Images are identical');
    },
    300_000,
  );

  it.skipIf(skip)(
    'QEMU raspi3b boots it: SD host driver from the initramfs, root from mmcblk0p2, login on ttyS1',
    async () => {
      const r = await bootQemu({
        arch: 'arm64',
        machine: 'raspi3b',
        disk: { path: img, snapshot: true },
        expect: /tiny login:/,
        timeoutMs: 400_000,
        console: tmp.path('console.log'),
      });
      expect(r.output).toMatch(
        /Kernel command line: root=PARTUUID=[0-9a-f]{8}-02 rw console=tty1 console=ttyS1,115200/,
      );
      expect(r.output).toMatch(/EXT4-fs \(mmcblk0p2\): mounted filesystem/);
      expect(r.output).toMatch(/tinyimage Linux tiny \/dev\/ttyS1/);
      console.log(`raspi3b: login prompt after ${(r.elapsedMs / 1000).toFixed(1)} s (${r.accel})`);
    },
    600_000,
  );
});
