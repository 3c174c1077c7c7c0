/**
 * The system area of a hybrid image (xorriso's GPT isohybrid layout, as
 * grub-mkrescue and distribution ISOs use): a protective MBR whose boot code
 * can be GRUB's boot_hybrid.img (patched at 0x1B0 with where its El Torito
 * image lies), and a GPT whose partition 1 covers the ISO 9660 volume from
 * its descriptors on and whose further partitions are the appended images
 * (the ESP). Written to a USB stick, the same bytes boot as a disk: BIOS
 * runs the MBR code, UEFI finds the ESP in the GPT.
 */
import { UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { BOOT_CODE_SIZE, SECTOR, writeGpt, type GptPartitionSpec } from '../../partition/index.js';
import { hybridSeed, type Prepared } from './plan.js';
import { BLOCK, GRUB2_MBR_LBA_ADD, GRUB2_MBR_LBA_OFFSET, SYSTEM_AREA_BLOCKS, VIRTUAL_SECTOR } from './structs.js';

/** GPT type of the partition over the ISO 9660 volume: basic data, as xorriso marks it. */
const ISO_PARTITION_TYPE = 'msdata';

/** The MBR boot code: the given bytes, with GRUB's boot image address patched in when asked. */
function bootCode(p: Prepared): Uint8Array {
  const code = new Uint8Array(BOOT_CODE_SIZE);
  const given = p.hybrid?.mbrCode;
  if (given) code.set(given.subarray(0, BOOT_CODE_SIZE));
  if (p.hybrid?.grub2Mbr) {
    const bios = p.boot.find((b) => b.entry.platform === 'bios');
    if (!bios)
      throw new UsageError('E_USAGE_ISO_HYBRID', 'the GRUB2 hybrid MBR needs a BIOS El Torito entry to load', {});
    const lba = bios.block * (BLOCK / VIRTUAL_SECTOR) + GRUB2_MBR_LBA_ADD;
    const v = new DataView(code.buffer, GRUB2_MBR_LBA_OFFSET, 8);
    v.setUint32(0, lba >>> 0, true);
    v.setUint32(4, Math.floor(lba / 0x100000000), true);
  }
  return code;
}

/** Write the MBR and both GPT copies of a hybrid image (the device is the whole image). */
export function writeHybrid(p: Prepared, dev: BlockDevice): void {
  const start = SYSTEM_AREA_BLOCKS * BLOCK;
  const partitions: GptPartitionSpec[] = [
    { offset: start, size: p.volumeBlocks * BLOCK - start, type: ISO_PARTITION_TYPE, name: 'ISO9660' },
    ...p.appended.map((a, i) => ({
      offset: a.offset,
      size: Math.ceil(a.part.size / SECTOR) * SECTOR,
      type: a.part.type ?? 'esp',
      name: a.part.name ?? `Appended${i + 2}`,
    })),
  ];
  writeGpt(dev, { seed: hybridSeed(p), partitions }, { bootCode: bootCode(p) });
}
