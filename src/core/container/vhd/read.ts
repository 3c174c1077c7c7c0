/**
 * VHD reader: a read-only BlockDevice over a fixed or dynamic VHD. The
 * footer at the end is checked (cookie, checksum, type); a dynamic disk whose
 * last footer is damaged falls back to the copy at offset 0, as QEMU does.
 * The dynamic header and every BAT entry are validated before use, and the
 * sector bitmap is honoured (sectors never written read as zeros). The
 * virtual size is the footer's current size. Differencing disks are refused.
 */
import { formatFailure } from '../../errors.js';
import { forEachUnit, readAtInto, checkRange, type BlockDevice } from '../../io/device.js';
import { bytesUuid } from '../ids.js';
import type { ContainerInfo, OpenedContainer } from '../types.js';
import { alignUp, isPowerOfTwo, readFrom } from '../units.js';
import { readOnlyError, ReadOnlyWindow } from '../window.js';
import {
  BAT_UNUSED,
  DISK_DIFFERENCING,
  DISK_DYNAMIC,
  DISK_FIXED,
  DYNAMIC_COOKIE,
  FOOTER_COOKIE,
  SECTOR,
  VHD_DYNAMIC_HEADER,
  VHD_EPOCH,
  VHD_FOOTER,
  vhdChecksum,
} from './structs.js';

const FORMAT = 'vhd';
const dec = new TextDecoder('latin1');
const fail = formatFailure('VHD', FORMAT);
/** Largest block size accepted (the specification uses 2 MiB; 256 MiB bounds the bitmap). */
const MAX_BLOCK = 256 * 1024 * 1024;

type Footer = ReturnType<typeof VHD_FOOTER.decode>;

function footerAt(file: BlockDevice, offset: number): Footer | string {
  if (offset < 0 || offset + SECTOR > file.size) return 'no room for a footer';
  const raw = file.readAt(offset, SECTOR);
  const f = VHD_FOOTER.decode(raw);
  if (dec.decode(f.cookie) !== FOOTER_COOKIE) return 'no "conectix" cookie';
  if (vhdChecksum(raw, VHD_FOOTER.offsetOf('checksum')) !== f.checksum)
    return `footer checksum 0x${f.checksum.toString(16)} does not match its bytes`;
  return f;
}

/** The valid footer: the last sector, else (dynamic disks) the copy in the first. */
function findFooter(file: BlockDevice): Footer {
  const end = footerAt(file, file.size - SECTOR);
  if (typeof end !== 'string') return end;
  const start = footerAt(file, 0);
  if (typeof start !== 'string' && start.diskType !== DISK_FIXED) return start;
  throw fail(
    end.includes('checksum') ? 'E_FORMAT_VHD_CHECKSUM' : 'E_FORMAT_VHD_FOOTER',
    `${end} at the end of the file`,
    { structure: 'footer', offset: file.size - SECTOR },
  );
}

export function openVhd(file: BlockDevice): OpenedContainer {
  const f = findFooter(file);
  const size = f.currentSize;
  if (size % SECTOR !== 0)
    throw fail('E_FORMAT_VHD_SIZE', `current size ${size} is not a multiple of 512`, {
      field: 'currentSize',
      actual: size,
    });
  const info: ContainerInfo = {
    kind: f.diskType === DISK_FIXED ? 'vhd-fixed' : 'vhd-dynamic',
    virtualSize: size,
    fileSize: file.size,
    creatorApp: dec.decode(f.creatorApp),
    timestamp: new Date((f.timestamp + VHD_EPOCH) * 1000).toISOString(),
    uniqueId: bytesUuid(f.uniqueId),
    geometry: `${f.cylinders}/${f.heads}/${f.sectorsPerTrack}`,
  };
  if (f.diskType === DISK_FIXED) {
    if (size > file.size - SECTOR)
      throw fail('E_FORMAT_TRUNCATED', `fixed disk of ${size} bytes in a file of ${file.size}`, {
        field: 'currentSize',
        expected: size + SECTOR,
        actual: file.size,
      });
    return { device: new ReadOnlyWindow(file, 0, size, FORMAT), info };
  }
  if (f.diskType === DISK_DIFFERENCING)
    throw fail('E_FORMAT_VHD_DIFFERENCING', 'differencing disks (with a parent) are not supported', {
      field: 'diskType',
      actual: f.diskType,
    });
  if (f.diskType !== DISK_DYNAMIC)
    throw fail('E_FORMAT_VHD_TYPE', `unknown disk type ${f.diskType}`, { field: 'diskType', actual: f.diskType });
  const dev = openDynamic(file, f, size);
  info.blockSize = dev.blockSize;
  return { device: dev, info };
}

function openDynamic(file: BlockDevice, f: Footer, size: number): DynamicVhd {
  const at = f.dataOffsetHi * 2 ** 32 + f.dataOffsetLo;
  if (at % SECTOR !== 0 || at + VHD_DYNAMIC_HEADER.size > file.size)
    throw fail('E_FORMAT_VHD_HEADER', `dynamic header offset ${at} is misaligned or outside the file`, {
      field: 'dataOffset',
      offset: at,
    });
  const raw = file.readAt(at, VHD_DYNAMIC_HEADER.size);
  const h = VHD_DYNAMIC_HEADER.decode(raw);
  const where = { structure: 'dynamic header', offset: at };
  if (dec.decode(h.cookie) !== DYNAMIC_COOKIE)
    throw fail('E_FORMAT_VHD_HEADER', 'no "cxsparse" cookie in the dynamic header', where);
  if (vhdChecksum(raw, VHD_DYNAMIC_HEADER.offsetOf('checksum')) !== h.checksum)
    throw fail('E_FORMAT_VHD_CHECKSUM', 'dynamic header checksum does not match', where);
  const bs = h.blockSize;
  if (!isPowerOfTwo(bs) || bs < SECTOR || bs > MAX_BLOCK)
    throw fail('E_FORMAT_VHD_BLOCK_SIZE', `block size ${bs} is not a power of two from 512 bytes to 256 MiB`, {
      ...where,
      field: 'blockSize',
      actual: bs,
    });
  const entries = Math.ceil(size / bs);
  if (h.maxTableEntries < entries)
    throw fail('E_FORMAT_VHD_BAT', `BAT of ${h.maxTableEntries} entries cannot map ${size} bytes`, {
      ...where,
      field: 'maxTableEntries',
      expected: entries,
    });
  if (h.tableOffset % SECTOR !== 0 || h.tableOffset + entries * 4 > file.size)
    throw fail('E_FORMAT_VHD_BAT', `BAT at ${h.tableOffset} is misaligned or outside the file`, {
      ...where,
      field: 'tableOffset',
    });
  const batRaw = file.readAt(h.tableOffset, entries * 4);
  const bv = new DataView(batRaw.buffer, batRaw.byteOffset, batRaw.byteLength);
  const bitmapBytes = alignUp(bs / SECTOR / 8, SECTOR);
  const bat = new Float64Array(entries);
  for (let i = 0; i < entries; i++) {
    const e = bv.getUint32(i * 4, false);
    if (e === BAT_UNUSED) {
      bat[i] = -1;
      continue;
    }
    const off = e * SECTOR;
    if (off + bitmapBytes + bs > file.size)
      throw fail('E_FORMAT_VHD_BAT', `block ${i} at ${off} runs past the end of the file`, {
        structure: 'BAT',
        offset: h.tableOffset + i * 4,
      });
    bat[i] = off;
  }
  return new DynamicVhd(file, size, bs, bitmapBytes, bat);
}

class DynamicVhd implements BlockDevice {
  private bitmapBlock = -1;
  private bitmap: Uint8Array;
  constructor(
    private readonly file: BlockDevice,
    readonly size: number,
    readonly blockSize: number,
    private readonly bitmapBytes: number,
    private readonly bat: Float64Array,
  ) {
    this.bitmap = new Uint8Array(bitmapBytes);
  }

  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }

  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    forEachUnit(offset, out, this.blockSize, (b, inBlock, part) => {
      const at = this.bat[b]!;
      if (at < 0) part.fill(0);
      else this.readBlock(b, at, inBlock, part);
    });
  }

  /** Read within one allocated block: sectors whose bitmap bit is set come from the file, the rest are zeros. */
  private readBlock(b: number, at: number, inBlock: number, out: Uint8Array): void {
    if (this.bitmapBlock !== b) {
      readFrom(this.file, at, this.bitmap);
      this.bitmapBlock = b;
    }
    let i = 0;
    while (i < out.length) {
      const s = Math.floor((inBlock + i) / SECTOR);
      const n = Math.min((s + 1) * SECTOR - (inBlock + i), out.length - i);
      const set = (this.bitmap[s >>> 3]! & (0x80 >>> (s & 7))) !== 0;
      // extend over following sectors with the same bit
      let m = n;
      while (i + m < out.length) {
        const t = (inBlock + i + m) / SECTOR; // sector-aligned from here on
        if (((this.bitmap[t >>> 3]! & (0x80 >>> (t & 7))) !== 0) !== set) break;
        m += Math.min(SECTOR, out.length - i - m);
      }
      if (set) readFrom(this.file, at + this.bitmapBytes + inBlock + i, out.subarray(i, i + m));
      else out.fill(0, i, i + m);
      i += m;
    }
  }

  writeAt(): void {
    throw readOnlyError(FORMAT);
  }

  flush(): void {}
}
