import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { MBR_ENTRY } from '../../src/core/partition/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileDevice } from '../../src/node/io/file.js';
import { FileTree } from '../../src/core/tree/tree.js';
import {
  GrubBlocklist,
  GrubBootSector,
  addGrubFiles,
  firstPartitionSector,
  grubConfig,
  grubModuleClosure,
  installGrubBios,
  parseModdep,
} from '../../src/core/boot/grub.js';
import { findHostGrub, makeCoreImage } from '../../src/node/system/grub-host.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';
import { accelArgs, spawnQemu } from '../bios/serial.js';

const noGrub = missing({ tools: ['grub-mkimage', 'sfdisk'], files: ['/usr/lib/grub/i386-pc/boot.img'] });

/** A fake MBR with a signature and one partition starting at `start`. */
function mbrWith(start: number, sectors: number, sig = 0x1234abcd): Uint8Array {
  const m = new Uint8Array(512);
  new DataView(m.buffer).setUint32(0x1b8, sig, true);
  MBR_ENTRY.encode({ status: 0x80, type: 0x83, lbaStart: start, sectors }, m, 0x1be);
  m[0x1fe] = 0x55;
  m[0x1ff] = 0xaa;
  return m;
}

describe('GRUB structs', () => {
  it("declares the boot sector fields at GRUB's offsets and the 12-byte blocklist", () => {
    expect(layoutProblems(GrubBlocklist)).toEqual([]);
    expect(GrubBlocklist.size).toBe(12);
    expect(layoutProblems(GrubBootSector, { allowGaps: true })).toEqual([]);
    expect(GrubBootSector.offsetOf('kernelSector')).toBe(0x5c);
    expect(GrubBootSector.offsetOf('bootDrive')).toBe(0x64);
    expect(GrubBootSector.offsetOf('partitionTable')).toBe(0x1be);
  });
});

describe('moddep closure', () => {
  const moddep = parseModdep('normal: extcmd boot\nextcmd:\nboot:\nlinux: normal relocator\nrelocator: mmap\nmmap:\n');
  it('follows dependencies transitively', () => {
    expect(grubModuleClosure(moddep, ['linux'])).toEqual(['boot', 'extcmd', 'linux', 'mmap', 'normal', 'relocator']);
  });
  it('names the module that needed an unknown one', () => {
    const bad = parseModdep('a: b\n');
    expect(() => grubModuleClosure(bad, ['a'])).toThrow(/'b' \(needed by a\)/);
  });
});

describe.skipIf(noGrub)('installGrubBios with the host grub-pc-bin', () => {
  it('keeps the partition table and signature, patches kernel sector, drive check and blocklist', async () => {
    const grub = findHostGrub();
    const core = await makeCoreImage(grub);
    const dev = new MemoryDevice(4 << 20);
    const mbr = mbrWith(2048, 4096);
    dev.writeAt(0, mbr);
    const r = installGrubBios(dev, { boot: grub.boot, core });
    expect(r.coreSector).toBe(1);
    expect(r.coreSectors).toBe(Math.ceil(core.length / 512));
    const out = dev.readAt(0, 512);
    expect(out.subarray(0x1b8, 0x200)).toEqual(mbr.subarray(0x1b8, 0x200));
    const b = GrubBootSector.decode(out);
    expect(b.kernelSector).toBe(1);
    expect(b.bootDrive).toBe(0xff);
    expect([...b.driveCheck]).toEqual([0x90, 0x90]);
    // the code part is GRUB's boot.img
    expect(out.subarray(0x68, 0x1b8)).toEqual(grub.boot.subarray(0x68, 0x1b8));
    const first = GrubBlocklist.decode(dev.readAt(512, 512), 500);
    expect(first).toEqual({ start: 2, len: r.coreSectors - 1, segment: 0x820 });
    expect(GrubBlocklist.decode(dev.readAt(512, 512), 488)).toEqual({ start: 0, len: 0, segment: 0 });
    // the rest of core.img is unchanged
    expect(dev.readAt(1024, core.length - 512)).toEqual(core.subarray(512));
    expect(firstPartitionSector(out)).toBe(2048);
  });

  it('throws CapacityError E_SPACE_GAP when the first partition starts too early', async () => {
    const grub = findHostGrub();
    const core = await makeCoreImage(grub);
    const dev = new MemoryDevice(1 << 20);
    dev.writeAt(0, mbrWith(34, 1000)); // GPT-style start: 33 sectors of gap, core.img needs ~53
    expect(() => installGrubBios(dev, { boot: grub.boot, core })).toThrow(
      expect.objectContaining({ code: 'E_SPACE_GAP' }),
    );
  });

  it('reports a missing grub-pc-bin with an install hint', () => {
    expect(() => findHostGrub({ dir: '/nonexistent/grub' })).toThrow(
      expect.objectContaining({
        code: 'E_TOOL_MISSING',
        message: expect.stringContaining('apt-get install grub-pc-bin'),
      }),
    );
  });

  it('core.img from grub-mkimage is deterministic', async () => {
    const grub = findHostGrub();
    expect(await makeCoreImage(grub)).toEqual(await makeCoreImage(grub));
  });

  const k = debianKernel();
  const noBoot = missing({ tools: ['qemu-system-x86_64', 'mke2fs'], files: [k.vmlinuz] });
  it.skipIf(noBoot)(
    'SeaBIOS runs our boot sector, GRUB loads the kernel from the ext4 partition',
    async () => {
      const tmp = mkdtempSync(join(tmpdir(), 'grubtest-'));
      try {
        const grub = findHostGrub();
        const tree = new FileTree();
        addGrubFiles(tree, grub.files, {
          config: grubConfig({ cmdline: 'console=ttyS0 panic=-1 root=/dev/nonexistent' }),
        });
        // stand-in: materialise the tree on the host for mke2fs -d
        const root = join(tmp, 'root');
        for (const e of tree.walk()) {
          const p = join(root, e.path);
          if (e.node.type === 'dir') mkdirSync(p, { recursive: true });
          else if (e.node.type === 'file') {
            const c = e.node.content;
            writeFileSync(p, c instanceof Uint8Array ? c : c.readAt!(0, c.size));
          }
        }
        copyFileSync(k.vmlinuz, join(root, 'boot/vmlinuz'));
        const img = join(tmp, 'disk.img');
        const part = join(tmp, 'part.img');
        expect(run('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', root, part, '32M']).code).toBe(0);
        writeFileSync(img, new Uint8Array(0));
        expect(run('truncate', ['-s', `${1 + 32}M`, img]).code).toBe(0);
        expect(
          run('sfdisk', ['-q', img], { input: 'label: dos\nlabel-id: 0x1234abcd\nstart=2048, type=83, bootable\n' })
            .code,
        ).toBe(0);
        expect(run('dd', [`if=${part}`, `of=${img}`, 'bs=1M', 'seek=1', 'conv=notrunc', 'status=none']).code).toBe(0);
        const dev = FileDevice.open(img, { write: true });
        installGrubBios(dev, { boot: grub.boot, core: await makeCoreImage(grub) });
        dev.flush();
        const v = run('sfdisk', ['--verify', img]);
        expect(v.code, v.stdout + v.stderr).toBe(0);
        const dump = run('sfdisk', ['--dump', img]).stdout;
        expect(dump).toMatch(/label-id: 0x1234abcd/);
        expect(dump).toMatch(/start=\s*2048, size=\s*65536, type=83, bootable/);
        const q = spawnQemu([
          ...accelArgs(),
          '-m',
          '256',
          '-nographic',
          '-no-reboot',
          '-drive',
          `file=${img},format=raw,if=ide`,
        ]);
        try {
          await q.waitFor(/Linux version \d/, 120_000);
        } finally {
          q.kill();
          await q.exited;
        }
      } finally {
        rmSync(tmp, { recursive: true, force: true });
      }
    },
    180_000,
  );
});
