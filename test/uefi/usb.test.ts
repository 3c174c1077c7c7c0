import { describe, expect, it } from 'vitest';
import { existsSync, readFileSync } from 'node:fs';
import {
  buildUefiSystem,
  buildUefiUsb,
  smallestFat32Size,
  uefiUsbLayout,
  uefiUsbSize,
  REMOVABLE_PATH_X64,
} from '../../src/core/system/uefi.js';
import { DEFAULT_EFI_STUB_PATH, readUki } from '../../src/core/boot/uki.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { MemoryDevice, SubDevice } from '../../src/core/io/device.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { readContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { debianKernel } from '../helpers/prereq.js';

const MiB = 1 << 20;

async function readBack(dev: MemoryDevice) {
  const t = readPartitionTable(dev)!;
  expect(t.scheme).toBe('gpt');
  expect(t.partitions).toHaveLength(1);
  const p = t.partitions[0]!;
  expect(p.type).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
  expect(p.offset).toBe(MiB);
  const vol = openFat(new SubDevice(dev, p.offset, p.size));
  return { t, p, vol };
}

describe('UEFI USB image', () => {
  it('GPT + the smallest FAT32 ESP holding /EFI/BOOT/BOOTX64.EFI and extra files', async () => {
    const efi = new Uint8Array(3 * MiB + 123).map((_, i) => (i * 13) & 0xff);
    const extra = new FileTree();
    extra.addFile('/loader/readme.txt', 'extra\n');
    const size = await uefiUsbSize({ efi, extra });
    const dev = new MemoryDevice(size);
    const res = await buildUefiUsb({ efi, extra }, dev);
    const { p, vol } = await readBack(dev);
    expect(res.partitions[0]!.partuuid).toBe(p.partuuid);
    expect(vol.info.type).toBe('fat32');
    expect(vol.info.clusters).toBeGreaterThanOrEqual(65525);
    expect(vol.info.label).toBe('ESP');
    const node = vol.tree.get(REMOVABLE_PATH_X64);
    expect(node?.type).toBe('file');
    if (node?.type === 'file') expect(Buffer.compare(await readContent(node.content), efi)).toBe(0);
    expect(vol.tree.get('/loader/readme.txt')?.type).toBe('file');
    // smallest: FAT32 cannot be 1 MiB smaller
    expect(size).toBe(35 * MiB);
    expect(p.offset + p.size).toBe(size - 33 * 512);
    expect(await smallestFat32Size(vol.tree)).toBe(33 * MiB);
    // a 32 MiB ESP cannot be FAT32 (fewer than 65525 clusters): a typed error before anything is written
    const small = new MemoryDevice(33 * MiB + 33 * 512);
    await expect(buildUefiUsb({ efi, extra }, small)).rejects.toMatchObject({ code: 'E_SPACE_PARTITION' });
    expect(small.bytes.every((x) => x === 0)).toBe(true);
    // a bigger given size: the ESP takes the rest
    const big = new MemoryDevice(64 * MiB);
    await buildUefiUsb({ efi, size: 64 * MiB }, big);
    const b = await readBack(big);
    expect(b.p.offset + b.p.size).toBe(64 * MiB - 33 * 512);
    expect(uefiUsbLayout({ efi }).partitions[0]!.size).toBe('fit');
  });

  it('is deterministic; the seed changes the GUIDs only', async () => {
    const efi = new Uint8Array(1000).fill(7);
    const make = async (seed?: string) => {
      const d = new MemoryDevice(await uefiUsbSize({ efi }));
      await buildUefiUsb({ efi, ...(seed ? { seed } : {}) }, d);
      return d;
    };
    const a = await make(),
      b = await make(),
      c = await make('other');
    expect(Buffer.compare(a.bytes, b.bytes)).toBe(0);
    expect(readPartitionTable(c)!.diskId).not.toBe(readPartitionTable(a)!.diskId);
  });

  it('buildUefiSystem: UKI sections and a USB image holding it', async () => {
    const k = debianKernel();
    if (!existsSync(k.vmlinuz) || !existsSync(DEFAULT_EFI_STUB_PATH)) return;
    const kernel = new Uint8Array(readFileSync(k.vmlinuz));
    const sys = buildUefiSystem({
      kernel,
      initrd: new Uint8Array([1, 2, 3]),
      cmdline: 'console=ttyS0',
      stub: new Uint8Array(readFileSync(DEFAULT_EFI_STUB_PATH)),
    });
    const parts = readUki(sys.efi);
    expect(parts.cmdline).toBe('console=ttyS0');
    expect([...parts.initrd!]).toEqual([1, 2, 3]);
    const dev = new MemoryDevice(await sys.usbSize());
    await sys.writeUsb(dev);
    const { vol } = await readBack(dev);
    const node = vol.tree.get(REMOVABLE_PATH_X64);
    if (node?.type !== 'file') throw new Error('BOOTX64.EFI missing');
    expect(node.content.size).toBe(sys.efi.length);
    // bare kernel path: the kernel itself
    const bare = buildUefiSystem({ kernel });
    expect(bare.efi).toBe(kernel);
  });
});
