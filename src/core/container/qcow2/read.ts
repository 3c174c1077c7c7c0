/**
 * qcow2 reader: a read-only BlockDevice over the guest disk of a qcow2
 * (version 2 or 3) image, with deflate-compressed clusters. The header and
 * the active L1 table are validated when the image is opened, each L2 table
 * when it is first used; every offset is checked against the file before it
 * is read, so a damaged image gives a FormatError. Backing files, encryption,
 * external data files, extended L2 entries and zstd are refused with a typed
 * error naming the feature.
 */
import { formatFailure } from '../../errors.js';
import { forEachUnit, readAtInto, checkRange, type BlockDevice } from '../../io/device.js';
import { decompressUnit } from '../decompress.js';
import type { OpenedContainer } from '../types.js';
import { readFrom } from '../units.js';
import { readOnlyError } from '../window.js';
import {
  COMPRESSION_ZLIB,
  CRYPT_NONE,
  INCOMPAT_COMPRESSION,
  INCOMPAT_CORRUPT,
  INCOMPAT_DATA_FILE,
  INCOMPAT_DIRTY,
  INCOMPAT_EXTL2,
  INCOMPAT_KNOWN,
  L1_RESERVED_HI,
  L1_RESERVED_LO,
  L2_RESERVED_HI,
  L2_RESERVED_LO,
  MAX_CLUSTER_BITS,
  MAX_L1_BYTES,
  MIN_CLUSTER_BITS,
  OFFSET_MASK_HI,
  OFFSET_MASK_LO,
  OFLAG_COMPRESSED_HI,
  OFLAG_ZERO_LO,
  QCOW2_HEADER,
  QCOW_MAGIC,
  V2_HEADER_LENGTH,
  V3_MIN_HEADER,
} from './structs.js';

const TWO32 = 2 ** 32;
const SECTOR = 512;
const FORMAT = 'qcow2';

const fail = formatFailure('qcow2', FORMAT);

type Header = ReturnType<typeof QCOW2_HEADER.decode>;

function readHeader(file: BlockDevice): Header {
  if (file.size < V2_HEADER_LENGTH)
    throw fail('E_FORMAT_TRUNCATED', `file of ${file.size} bytes is too small for a header`, { structure: 'header' });
  const raw = new Uint8Array(QCOW2_HEADER.size);
  readFrom(file, 0, raw.subarray(0, Math.min(raw.length, file.size)));
  const h = QCOW2_HEADER.decode(raw);
  if (h.magic !== QCOW_MAGIC)
    throw fail('E_FORMAT_MAGIC', 'no QFI\\xfb magic', { structure: 'header', field: 'magic', offset: 0 });
  if (h.version !== 2 && h.version !== 3)
    throw fail('E_FORMAT_QCOW2_VERSION', `version ${h.version} is not supported (only 2 and 3)`, {
      field: 'version',
      actual: h.version,
    });
  if (h.version === 2) {
    Object.assign(h, {
      incompatibleHi: 0,
      incompatibleLo: 0,
      compatibleHi: 0,
      compatibleLo: 0,
      autoclearHi: 0,
      autoclearLo: 0,
      refcountOrder: 4,
      headerLength: V2_HEADER_LENGTH,
      compressionType: COMPRESSION_ZLIB,
    });
  } else if (h.headerLength < V3_MIN_HEADER || h.headerLength % 8 !== 0 || h.headerLength > file.size) {
    throw fail(
      'E_FORMAT_QCOW2_HEADER',
      `header_length ${h.headerLength} is not a multiple of 8 from ${V3_MIN_HEADER} up`,
      { field: 'headerLength', actual: h.headerLength },
    );
  } else if (h.headerLength <= 104) {
    h.compressionType = COMPRESSION_ZLIB;
  }
  return h;
}

function checkFeatures(h: Header, file: BlockDevice): void {
  if (h.clusterBits < MIN_CLUSTER_BITS || h.clusterBits > MAX_CLUSTER_BITS) {
    throw fail(
      'E_FORMAT_QCOW2_CLUSTER_BITS',
      `cluster_bits ${h.clusterBits} is outside ${MIN_CLUSTER_BITS}..${MAX_CLUSTER_BITS}`,
      { field: 'clusterBits', actual: h.clusterBits },
    );
  }
  if (h.headerLength > 2 ** h.clusterBits)
    throw fail('E_FORMAT_QCOW2_HEADER', `header_length ${h.headerLength} exceeds the first cluster`, {
      field: 'headerLength',
    });
  if (h.backingFileOffset !== 0) {
    const len = Math.min(h.backingFileSize, 1023, Math.max(0, file.size - h.backingFileOffset));
    const name =
      len > 0 && h.backingFileOffset < file.size ? new TextDecoder().decode(file.readAt(h.backingFileOffset, len)) : '';
    throw fail(
      'E_FORMAT_QCOW2_BACKING',
      `the image has a backing file${name ? ` (${name})` : ''}; images with backing files are not supported — ` +
        'flatten it first (qemu-img convert)',
      { field: 'backingFileOffset', actual: name },
    );
  }
  if (h.cryptMethod !== CRYPT_NONE)
    throw fail(
      'E_FORMAT_QCOW2_ENCRYPTED',
      `the image is encrypted (method ${h.cryptMethod}); encrypted images are not supported`,
      { field: 'cryptMethod', actual: h.cryptMethod },
    );
  const inc = h.incompatibleLo;
  if (h.incompatibleHi !== 0 || (inc & ~INCOMPAT_KNOWN) !== 0)
    throw fail(
      'E_FORMAT_QCOW2_FEATURE',
      `unknown incompatible feature bits 0x${h.incompatibleHi.toString(16)}${inc.toString(16).padStart(8, '0')}`,
      { field: 'incompatibleFeatures' },
    );
  if (inc & INCOMPAT_DATA_FILE)
    throw fail(
      'E_FORMAT_QCOW2_DATA_FILE',
      'the image keeps its data in an external data file, which is not supported',
      { field: 'incompatibleFeatures' },
    );
  if (inc & INCOMPAT_EXTL2)
    throw fail('E_FORMAT_QCOW2_EXTL2', 'extended L2 entries (subclusters) are not supported', {
      field: 'incompatibleFeatures',
    });
  if ((inc & INCOMPAT_COMPRESSION) !== 0 || h.compressionType !== COMPRESSION_ZLIB) {
    throw fail(
      'E_FORMAT_QCOW2_COMPRESSION',
      `compression type ${h.compressionType === 1 ? 'zstd' : h.compressionType} is not supported (only zlib/deflate)`,
      { field: 'compressionType', actual: h.compressionType },
    );
  }
  if (h.refcountOrder > 6)
    throw fail('E_FORMAT_QCOW2_REFCOUNT', `refcount_order ${h.refcountOrder} is above 6`, { field: 'refcountOrder' });
}

/** Decode a 64-bit table offset (bits 9-55) from its two words. */
const tableOffset = (hi: number, lo: number): number => (hi & OFFSET_MASK_HI) * TWO32 + ((lo & OFFSET_MASK_LO) >>> 0);

function readL1(h: Header, file: BlockDevice): Float64Array {
  const C = 2 ** h.clusterBits;
  const needed = Math.ceil(h.size / C / (C / 8));
  if (h.l1Size < needed)
    throw fail('E_FORMAT_QCOW2_L1', `L1 table of ${h.l1Size} entries cannot map ${h.size} bytes (needs ${needed})`, {
      field: 'l1Size',
      expected: needed,
      actual: h.l1Size,
    });
  const bytes = needed * 8;
  if (h.l1Size * 8 > MAX_L1_BYTES)
    throw fail('E_FORMAT_QCOW2_L1', `L1 table of ${h.l1Size} entries is larger than 32 MiB`, {
      field: 'l1Size',
      actual: h.l1Size,
    });
  if (h.l1TableOffset % C !== 0 || h.l1TableOffset + bytes > file.size) {
    throw fail(
      'E_FORMAT_QCOW2_L1',
      `L1 table at ${h.l1TableOffset} is misaligned or outside the file (${file.size} bytes)`,
      { field: 'l1TableOffset', offset: h.l1TableOffset },
    );
  }
  const raw = file.readAt(h.l1TableOffset, bytes);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const l1 = new Float64Array(needed);
  for (let i = 0; i < needed; i++) {
    const hi = v.getUint32(i * 8, false);
    const lo = v.getUint32(i * 8 + 4, false);
    if (hi & L1_RESERVED_HI || lo & L1_RESERVED_LO)
      throw fail('E_FORMAT_QCOW2_L1', `L1 entry ${i} has reserved bits set`, {
        structure: 'L1',
        offset: h.l1TableOffset + i * 8,
      });
    const off = tableOffset(hi, lo);
    if (off % C !== 0 || (off !== 0 && off + C > file.size))
      throw fail('E_FORMAT_QCOW2_L2', `L1 entry ${i} points to ${off}, misaligned or outside the file`, {
        structure: 'L1',
        offset: h.l1TableOffset + i * 8,
      });
    l1[i] = off;
  }
  return l1;
}

export function openQcow2(file: BlockDevice): OpenedContainer {
  const h = readHeader(file);
  checkFeatures(h, file);
  const l1 = readL1(h, file);
  const device = new Qcow2Reader(file, h.size, h.clusterBits, h.version, l1);
  return {
    device,
    info: {
      kind: 'qcow2',
      virtualSize: h.size,
      fileSize: file.size,
      version: h.version,
      clusterSize: 2 ** h.clusterBits,
      compression: 'zlib',
      dirty: (h.incompatibleLo & INCOMPAT_DIRTY) !== 0,
      corrupt: (h.incompatibleLo & INCOMPAT_CORRUPT) !== 0,
      snapshots: h.nbSnapshots,
      refcountBits: 2 ** h.refcountOrder,
    },
  };
}

const KIND_ZERO = 0;
const KIND_DATA = 1;
const KIND_COMPRESSED = 2;

class Qcow2Reader implements BlockDevice {
  private readonly C: number;
  private readonly l2Cache = new Map<number, DataView>();
  private readonly l2CacheMax: number;
  private cachedUnit = -1;
  private readonly cached: Uint8Array;
  // result of lookup(): kind, host offset, compressed byte count
  private kind = KIND_ZERO;
  private host = 0;
  private clen = 0;

  constructor(
    private readonly file: BlockDevice,
    readonly size: number,
    private readonly bits: number,
    private readonly version: number,
    private readonly l1: Float64Array,
  ) {
    this.C = 2 ** bits;
    this.l2CacheMax = Math.max(4, Math.floor((8 << 20) / this.C));
    this.cached = new Uint8Array(this.C);
  }

  private l2(i: number): DataView | undefined {
    const off = this.l1[i]!;
    if (off === 0) return undefined;
    let t = this.l2Cache.get(off);
    if (t) {
      this.l2Cache.delete(off);
    } else {
      const raw = this.file.readAt(off, this.C);
      t = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      if (this.l2Cache.size >= this.l2CacheMax) this.l2Cache.delete(this.l2Cache.keys().next().value!);
    }
    this.l2Cache.set(off, t);
    return t;
  }

  /** Sets kind/host/clen for guest cluster `u`. */
  private lookup(u: number): void {
    const per = this.C / 8;
    const i = Math.floor(u / per);
    const t = this.l2(i);
    this.kind = KIND_ZERO;
    if (!t) return;
    const at = (u - i * per) * 8;
    const hi = t.getUint32(at, false);
    const lo = t.getUint32(at + 4, false);
    const where = { structure: 'L2', offset: this.l1[i]! + at };
    if (hi & OFLAG_COMPRESSED_HI) {
      const x = 70 - this.bits;
      const offHi = hi & ((1 << (x - 32)) - 1);
      const host = offHi * TWO32 + lo;
      const sectors = (hi >>> (x - 32)) & ((1 << (this.bits - 8)) - 1);
      if (x > 56 && offHi >= 2 ** 24)
        throw fail('E_FORMAT_QCOW2_L2', `compressed cluster ${u} has offset bits above 55 set`, where);
      if (host >= this.file.size)
        throw fail('E_FORMAT_QCOW2_L2', `compressed cluster ${u} at ${host} lies outside the file`, where);
      this.kind = KIND_COMPRESSED;
      this.host = host;
      this.clen = Math.min((sectors + 1) * SECTOR - (host % SECTOR), this.file.size - host);
      return;
    }
    if (hi & L2_RESERVED_HI || lo & L2_RESERVED_LO)
      throw fail('E_FORMAT_QCOW2_L2', `L2 entry of cluster ${u} has reserved bits set`, where);
    if (this.version >= 3 && lo & OFLAG_ZERO_LO) return;
    const host = tableOffset(hi, lo);
    if (host === 0) return;
    if (host % this.C !== 0 || host >= this.file.size)
      throw fail('E_FORMAT_QCOW2_L2', `cluster ${u} maps to ${host}, misaligned or outside the file`, where);
    this.kind = KIND_DATA;
    this.host = host;
  }

  private decompressed(u: number): Uint8Array {
    if (this.cachedUnit !== u) {
      this.cachedUnit = -1;
      const packed = this.file.readAt(this.host, this.clen);
      decompressUnit(packed, 'deflate-raw', this.cached, {
        structure: 'compressed cluster',
        offset: this.host,
        cluster: u,
      });
      this.cachedUnit = u;
    }
    return this.cached;
  }

  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }

  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    forEachUnit(offset, out, this.C, (u, inUnit, part) => {
      this.lookup(u);
      if (this.kind === KIND_ZERO) part.fill(0);
      else if (this.kind === KIND_DATA) readFrom(this.file, this.host + inUnit, part);
      else part.set(this.decompressed(u).subarray(inUnit, inUnit + part.length));
    });
  }

  writeAt(): void {
    throw readOnlyError(FORMAT);
  }

  flush(): void {}
}
