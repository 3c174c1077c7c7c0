/**
 * El Torito: the boot record descriptor, the boot catalog (validation
 * entry, initial entry, one section per further platform) and the patches
 * boot loaders expect in their image (boot info table, GRUB2 boot info).
 */
import { FormatError } from '../../errors.js';
import {
  BLOCK,
  BOOT_ENTRY,
  BOOT_INFO_CHECKSUM_START,
  BOOT_INFO_TABLE,
  BOOT_INFO_TABLE_OFFSET,
  BOOT_RECORD,
  CATALOG_HEADER_ID,
  CATALOG_KEY_55,
  CATALOG_KEY_AA,
  EL_TORITO_ID,
  ENTRY_BOOTABLE,
  GRUB2_BOOT_INFO_ADD,
  GRUB2_BOOT_INFO_OFFSET,
  MEDIA_NO_EMULATION,
  PLATFORM_EFI,
  PLATFORM_X86,
  SECTION_HEADER,
  SECTION_LAST,
  SECTION_MORE,
  STANDARD_ID,
  VALIDATION_ENTRY,
  VD_BOOT_RECORD,
  VIRTUAL_SECTOR,
} from './structs.js';

const ascii = (s: string) => new TextEncoder().encode(s);

export interface CatalogEntry {
  platform: 'bios' | 'efi';
  /** First block (2048 bytes) of the image. */
  block: number;
  /** Virtual sectors (512 bytes) to load. */
  sectors: number;
  bootable?: boolean;
  media?: number;
  loadSegment?: number;
}

const platformId = (p: 'bios' | 'efi') => (p === 'efi' ? PLATFORM_EFI : PLATFORM_X86);

export function bootRecordDescriptor(catalogBlock: number): Uint8Array {
  const id = new Uint8Array(32);
  id.set(ascii(EL_TORITO_ID));
  return BOOT_RECORD.encode({
    type: VD_BOOT_RECORD,
    id: ascii(STANDARD_ID),
    version: 1,
    bootSystemId: id,
    catalog: catalogBlock,
  });
}

function putEntry(buf: Uint8Array, off: number, e: CatalogEntry): void {
  BOOT_ENTRY.encode(
    {
      indicator: ENTRY_BOOTABLE,
      media: MEDIA_NO_EMULATION,
      loadSegment: 0,
      systemType: 0,
      sectorCount: e.sectors,
      loadRba: e.block,
    },
    buf,
    off,
  );
}

/** The boot catalog block: validation entry, initial entry, then one section per further platform. */
export function bootCatalog(entries: CatalogEntry[]): Uint8Array {
  const buf = new Uint8Array(BLOCK);
  const first = entries[0]!;
  VALIDATION_ENTRY.encode(
    { headerId: CATALOG_HEADER_ID, platform: platformId(first.platform), key55: CATALOG_KEY_55, keyAA: CATALOG_KEY_AA },
    buf,
  );
  let sum = 0;
  for (let i = 0; i < VALIDATION_ENTRY.size; i += 2) sum += buf[i]! | (buf[i + 1]! << 8);
  VALIDATION_ENTRY.encode({ checksum: (0x10000 - (sum & 0xffff)) & 0xffff }, buf);
  putEntry(buf, 32, first);
  let off = 64;
  const rest = entries.slice(1);
  const platforms = [...new Set(rest.map((e) => e.platform))];
  platforms.forEach((p, i) => {
    const group = rest.filter((e) => e.platform === p);
    if (off + 32 * (group.length + 1) > BLOCK)
      throw new FormatError('E_FORMAT_ISO_CATALOG', 'too many El Torito entries for one catalog block', {});
    SECTION_HEADER.encode(
      {
        indicator: i === platforms.length - 1 ? SECTION_LAST : SECTION_MORE,
        platform: platformId(p),
        entries: group.length,
      },
      buf,
      off,
    );
    off += 32;
    for (const e of group) {
      putEntry(buf, off, e);
      off += 32;
    }
  });
  return buf;
}

/** Parse a boot catalog block; bounded by the block, lenient about unknown platforms. */
export function readBootCatalog(buf: Uint8Array): CatalogEntry[] {
  const v = VALIDATION_ENTRY.decode(buf);
  let sum = 0;
  for (let i = 0; i < VALIDATION_ENTRY.size; i += 2) sum += buf[i]! | (buf[i + 1]! << 8);
  if (v.headerId !== CATALOG_HEADER_ID || v.key55 !== CATALOG_KEY_55 || v.keyAA !== CATALOG_KEY_AA || sum & 0xffff)
    throw new FormatError('E_FORMAT_ISO_CATALOG', 'El Torito boot catalog: bad validation entry', {
      format: 'iso9660',
      structure: VALIDATION_ENTRY.name,
    });
  const name = (p: number): 'bios' | 'efi' => (p === PLATFORM_EFI ? 'efi' : 'bios');
  const entry = (off: number, platform: number): CatalogEntry => {
    const e = BOOT_ENTRY.decode(buf, off);
    return {
      platform: name(platform),
      block: e.loadRba,
      sectors: e.sectorCount,
      bootable: e.indicator === ENTRY_BOOTABLE,
      media: e.media,
      loadSegment: e.loadSegment,
    };
  };
  const out = [entry(32, v.platform)];
  let off = 64;
  while (off + 32 <= buf.length) {
    const h = SECTION_HEADER.decode(buf, off);
    if (h.indicator !== SECTION_MORE && h.indicator !== SECTION_LAST) break;
    off += 32;
    for (let i = 0; i < h.entries && off + 32 <= buf.length; i++, off += 32) out.push(entry(off, h.platform));
    if (h.indicator === SECTION_LAST) break;
  }
  return out;
}

/**
 * Patch a boot image in place: the boot info table at byte 8 (the PVD's
 * block, the image's block and length, the sum of its 32-bit words from
 * byte 64) and GRUB2's boot info at 2548 (512-byte LBA of the image + 5).
 */
export function patchBootImage(
  image: Uint8Array,
  o: { pvdBlock: number; block: number; bootInfoTable?: boolean | undefined; grub2BootInfo?: boolean | undefined },
): void {
  // GRUB2 first: the boot info table's checksum covers its bytes (xorriso's order)
  if (o.grub2BootInfo) {
    const v = new DataView(image.buffer, image.byteOffset + GRUB2_BOOT_INFO_OFFSET, 8);
    const lba = o.block * (BLOCK / VIRTUAL_SECTOR) + GRUB2_BOOT_INFO_ADD;
    v.setUint32(0, lba >>> 0, true);
    v.setUint32(4, Math.floor(lba / 0x100000000), true);
  }
  if (o.bootInfoTable) {
    let sum = 0;
    const v = new DataView(image.buffer, image.byteOffset, image.byteLength);
    for (let i = BOOT_INFO_CHECKSUM_START; i + 4 <= image.length; i += 4) sum = (sum + v.getUint32(i, true)) >>> 0;
    const tail = image.length % 4;
    if (tail) {
      let w = 0;
      for (let k = 0; k < tail; k++) w |= image[image.length - tail + k]! << (8 * k);
      sum = (sum + (w >>> 0)) >>> 0;
    }
    BOOT_INFO_TABLE.encode(
      { pvdLba: o.pvdBlock, fileLba: o.block, fileLength: image.length, checksum: sum, reserved: new Uint8Array(40) },
      image,
      BOOT_INFO_TABLE_OFFSET,
    );
  }
}
