/**
 * VMDK reader: a read-only BlockDevice over a hosted sparse extent
 * (monolithicSparse, streamOptimized with compressed grains and a footer,
 * QEMU's stream variant with the directory in front), or over a descriptor
 * file whose FLAT, SPARSE and ZERO extents are opened through a resolver
 * (the Node side resolves names beside the descriptor). Header, footer and
 * grain directory are validated at open, grain tables on first use, every
 * sector number against the file before it is read.
 */
import { formatFailure } from '../../errors.js';
import { forEachUnit, readAtInto, checkRange, type BlockDevice } from '../../io/device.js';
import { decompressUnit } from '../decompress.js';
import type { ContainerInfo, OpenedContainer } from '../types.js';
import { isPowerOfTwo, readFrom } from '../units.js';
import { ConcatDevice, readOnlyError, ReadOnlyWindow } from '../window.js';
import { MAX_DESCRIPTOR, parseDescriptor } from './descriptor.js';
import {
  COMPRESS_DEFLATE,
  FLAG_MARKERS,
  FLAG_ZERO_GRAIN,
  GD_AT_END,
  GTE_ZEROED,
  MARKER_EOS,
  MARKER_FOOTER,
  SECTOR,
  VMDK_GRAIN_MARKER,
  VMDK_HEADER,
  VMDK_MAGIC,
  VMDK_MARKER,
} from './structs.js';

const FORMAT = 'vmdk';
const fail = formatFailure('VMDK', FORMAT);
/** Largest grain accepted: 2 MiB (VMware and QEMU write 64 KiB). */
const MAX_GRAIN_SECTORS = 4096;

type Header = ReturnType<typeof VMDK_HEADER.decode>;

/** Resolves an extent file named in a descriptor to a device (undefined when it cannot). */
export type ExtentResolver = (name: string) => BlockDevice | undefined;

function readHeader(file: BlockDevice): Header {
  if (file.size < SECTOR)
    throw fail('E_FORMAT_TRUNCATED', `file of ${file.size} bytes is too small for a header`, { structure: 'header' });
  const h = VMDK_HEADER.decode(file.readAt(0, SECTOR));
  if (h.magic !== VMDK_MAGIC) throw fail('E_FORMAT_MAGIC', 'no KDMV magic', { structure: 'header', field: 'magic' });
  if (h.gdOffsetLo !== GD_AT_END || h.gdOffsetHi !== GD_AT_END) return h;
  // a stream: the footer (one sector before the end-of-stream marker) has the real directory
  const at = file.size - 3 * SECTOR;
  if (at < SECTOR)
    throw fail(
      'E_FORMAT_VMDK_FOOTER',
      'the header says the grain directory is at the end, but the file has no footer',
      { structure: 'footer' },
    );
  const tail = file.readAt(at, 3 * SECTOR);
  const fm = VMDK_MARKER.decode(tail, 0);
  const eos = VMDK_MARKER.decode(tail, 2 * SECTOR);
  const footer = VMDK_HEADER.decode(tail, SECTOR);
  if (
    fm.type !== MARKER_FOOTER ||
    fm.size !== 0 ||
    eos.type !== MARKER_EOS ||
    eos.size !== 0 ||
    eos.value !== 0 ||
    footer.magic !== VMDK_MAGIC
  ) {
    throw fail(
      'E_FORMAT_VMDK_FOOTER',
      'footer marker, footer or end-of-stream marker is missing at the end of the file',
      { structure: 'footer', offset: at },
    );
  }
  if (footer.gdOffsetHi !== 0)
    throw fail('E_FORMAT_VMDK_FOOTER', 'the footer does not locate the grain directory', {
      structure: 'footer',
      field: 'gdOffset',
    });
  return footer;
}

export function openVmdk(file: BlockDevice, resolve?: ExtentResolver): OpenedContainer {
  const head = file.readAt(0, Math.min(file.size, 64));
  if (new TextDecoder('latin1').decode(head).trimStart().startsWith('# Disk DescriptorFile'))
    return openDescriptor(file, resolve);
  const h = readHeader(file);
  const dev = new SparseExtent(file, h);
  const stream = h.compressAlgorithm === COMPRESS_DEFLATE;
  const info: ContainerInfo = {
    kind: stream ? 'vmdk-stream' : 'vmdk-sparse',
    virtualSize: dev.size,
    fileSize: file.size,
    version: h.version,
    grainSize: h.grainSize * SECTOR,
    ...embeddedDescriptor(file, h),
  };
  return { device: dev, info };
}

function embeddedDescriptor(file: BlockDevice, h: Header): Record<string, unknown> {
  const at = h.descriptorOffset * SECTOR;
  const len = Math.min(h.descriptorSize * SECTOR, MAX_DESCRIPTOR, Math.max(0, file.size - at));
  if (h.descriptorOffset === 0 || len <= 0) return {};
  const d = parseDescriptor(new TextDecoder('latin1').decode(file.readAt(at, len)));
  return {
    createType: d.createType,
    ...(d.cid ? { cid: d.cid } : {}),
    ...(d.ddb['ddb.uuid.image'] ? { uuid: d.ddb['ddb.uuid.image'] } : {}),
  };
}

function openDescriptor(file: BlockDevice, resolve?: ExtentResolver): OpenedContainer {
  const d = parseDescriptor(new TextDecoder('latin1').decode(file.readAt(0, Math.min(file.size, MAX_DESCRIPTOR))));
  if (!resolve)
    throw fail(
      'E_FORMAT_VMDK_DESCRIPTOR',
      'this is a descriptor file; open it by its path so its extent files can be found',
      { structure: 'descriptor' },
    );
  if (d.extents.length === 0)
    throw fail('E_FORMAT_VMDK_DESCRIPTOR', 'the descriptor names no extents', { structure: 'descriptor' });
  const parts = d.extents.map((e) => {
    const bytes = e.sectors * SECTOR;
    if (e.type === 'ZERO') return new ReadOnlyWindow(emptyDevice, 0, bytes, FORMAT);
    if (e.type !== 'FLAT' && e.type !== 'SPARSE' && e.type !== 'VMFS')
      throw fail('E_FORMAT_VMDK_EXTENT', `extent type ${e.type} ("${e.file}") is not supported`, {
        structure: 'descriptor',
      });
    const f = resolve(e.file);
    if (!f)
      throw fail('E_FORMAT_VMDK_EXTENT', `extent file "${e.file}" was not found`, {
        structure: 'descriptor',
        path: e.file,
      });
    if (e.type !== 'SPARSE') return new ReadOnlyWindow(f, e.offset * SECTOR, bytes, FORMAT);
    const inner = new SparseExtent(f, readHeader(f));
    return inner.size === bytes ? inner : new ReadOnlyWindow(inner, 0, bytes, FORMAT);
  });
  const device = new ConcatDevice(parts, FORMAT);
  return {
    device,
    info: {
      kind: 'vmdk-descriptor',
      virtualSize: device.size,
      fileSize: file.size,
      createType: d.createType,
      extents: d.extents.length,
      ...(d.cid ? { cid: d.cid } : {}),
    },
  };
}

const emptyDevice: BlockDevice = {
  size: 0,
  readAt: () => new Uint8Array(0),
  writeAt: () => {
    throw readOnlyError(FORMAT);
  },
  flush: () => {},
};

class SparseExtent implements BlockDevice {
  readonly size: number;
  private readonly grain: number;
  private readonly perGt: number;
  private readonly gd: Float64Array;
  private readonly compressed: boolean;
  private readonly markers: boolean;
  private readonly zeroGrain: boolean;
  private readonly gtCache = new Map<number, DataView>();
  private cachedGrain = -1;
  private readonly cached: Uint8Array;

  constructor(
    private readonly file: BlockDevice,
    h: Header,
  ) {
    if (h.version < 1 || h.version > 3)
      throw fail('E_FORMAT_VMDK_VERSION', `version ${h.version} is not supported (1 to 3)`, {
        field: 'version',
        actual: h.version,
      });
    if (!isPowerOfTwo(h.grainSize) || h.grainSize > MAX_GRAIN_SECTORS)
      throw fail(
        'E_FORMAT_VMDK_GRAIN',
        `grain of ${h.grainSize} sectors is not a power of two up to ${MAX_GRAIN_SECTORS}`,
        { field: 'grainSize', actual: h.grainSize },
      );
    if (h.numGTEsPerGT < 1 || h.numGTEsPerGT > 512)
      throw fail('E_FORMAT_VMDK_GT', `${h.numGTEsPerGT} entries per grain table is outside 1..512`, {
        field: 'numGTEsPerGT',
        actual: h.numGTEsPerGT,
      });
    if (h.compressAlgorithm > COMPRESS_DEFLATE)
      throw fail('E_FORMAT_VMDK_COMPRESSION', `compression algorithm ${h.compressAlgorithm} is not supported`, {
        field: 'compressAlgorithm',
      });
    this.size = h.capacity * SECTOR;
    if (!Number.isSafeInteger(this.size))
      throw fail('E_FORMAT_VMDK_CAPACITY', `capacity of ${h.capacity} sectors is too large`, { field: 'capacity' });
    this.grain = h.grainSize * SECTOR;
    this.perGt = h.numGTEsPerGT;
    this.compressed = h.compressAlgorithm === COMPRESS_DEFLATE;
    this.markers = (h.flags & FLAG_MARKERS) !== 0;
    this.zeroGrain = (h.flags & FLAG_ZERO_GRAIN) !== 0;
    this.cached = new Uint8Array(this.grain);
    const entries = Math.ceil(h.capacity / h.grainSize / h.numGTEsPerGT);
    const at = h.gdOffsetLo * SECTOR;
    if (at === 0 && entries > 0)
      throw fail('E_FORMAT_VMDK_GD', 'the header has no grain directory', { field: 'gdOffset' });
    if (at + entries * 4 > file.size)
      throw fail(
        'E_FORMAT_VMDK_GD',
        `grain directory of ${entries} entries at ${at} lies outside the file (${file.size} bytes)`,
        { field: 'gdOffset', offset: at },
      );
    const raw = entries ? file.readAt(at, entries * 4) : new Uint8Array(0);
    const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    this.gd = new Float64Array(entries);
    for (let i = 0; i < entries; i++) {
      const s = v.getUint32(i * 4, true) * SECTOR;
      if (s !== 0 && s + this.perGt * 4 > file.size)
        throw fail('E_FORMAT_VMDK_GD', `grain directory entry ${i} points outside the file`, {
          structure: 'grain directory',
          offset: at + i * 4,
        });
      this.gd[i] = s;
    }
  }

  private gte(g: number): number {
    const t = Math.floor(g / this.perGt);
    const at = this.gd[t]!;
    if (at === 0) return 0;
    let table = this.gtCache.get(t);
    if (!table) {
      const raw = this.file.readAt(at, this.perGt * 4);
      table = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
      if (this.gtCache.size >= 64) this.gtCache.delete(this.gtCache.keys().next().value!);
      this.gtCache.set(t, table);
    }
    return table.getUint32((g - t * this.perGt) * 4, true);
  }

  private inflated(g: number, at: number): Uint8Array {
    if (this.cachedGrain === g) return this.cached;
    this.cachedGrain = -1;
    let start = at;
    let len: number;
    if (this.markers) {
      if (at + VMDK_GRAIN_MARKER.size > this.file.size)
        throw fail('E_FORMAT_VMDK_GRAIN', `grain ${g} marker lies outside the file`, { offset: at });
      const m = VMDK_GRAIN_MARKER.decode(this.file.readAt(at, VMDK_GRAIN_MARKER.size));
      start = at + VMDK_GRAIN_MARKER.size;
      len = m.size;
      if (len === 0 || len > 2 * this.grain || start + len > this.file.size)
        throw fail(
          'E_FORMAT_VMDK_GRAIN',
          `grain ${g} holds ${len} compressed bytes, outside the file or the grain's bound`,
          { offset: at },
        );
    } else {
      len = Math.min(2 * this.grain, this.file.size - at);
    }
    decompressUnit(
      this.file.readAt(start, len),
      'zlib',
      this.cached,
      { structure: 'compressed grain', offset: at, grain: g },
      false,
    );
    this.cachedGrain = g;
    return this.cached;
  }

  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }

  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    forEachUnit(offset, out, this.grain, (g, inGrain, part) => {
      const e = this.gte(g);
      if (e === 0 || (e === GTE_ZEROED && this.zeroGrain)) {
        part.fill(0);
        return;
      }
      const at = e * SECTOR;
      if (at >= this.file.size)
        throw fail('E_FORMAT_VMDK_GRAIN', `grain ${g} at sector ${e} lies outside the file`, {
          structure: 'grain table',
          offset: at,
        });
      if (this.compressed) part.set(this.inflated(g, at).subarray(inGrain, inGrain + part.length));
      else readFrom(this.file, at + inGrain, part);
    });
  }

  writeAt(): void {
    throw readOnlyError(FORMAT);
  }

  flush(): void {}
}
