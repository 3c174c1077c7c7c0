/**
 * VMDK writers. monolithicSparse (the layout QEMU gives it): header,
 * embedded descriptor, redundant and primary grain directories each followed
 * by all their grain tables, then 64 KiB grains from a 64 KiB boundary.
 * streamOptimized (VMware's stream layout, gdOffset = GD_AT_END): header,
 * descriptor, then every grain zlib-compressed behind a grain marker, each
 * grain table behind a GT marker once its grains are out, the grain
 * directory, the footer (a copy of the header that knows the directory) and
 * the end-of-stream marker. The CID and ddb.uuid.image come from the
 * content (ids.ts).
 */
import { CapacityError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { silentProgress } from '../../progress.js';
import { AllocatingDevice } from '../alloc.js';
import { fflateCompressor, looksIncompressible, orderedMap } from '../compress.js';
import { bytesUuid, ContentDigest, uuidBytes } from '../ids.js';
import type { ContainerDevice, ContainerOptions, ContainerSummary, ContainerTarget, Extent } from '../types.js';
import { alignUp, checkVirtualSize, dataRuns, normalizeExtents, UnitMap, WriteQueue } from '../units.js';
import { formatDescriptor } from './descriptor.js';
import {
  COMPRESS_DEFLATE,
  COMPRESS_NONE,
  DESCRIPTOR_OFFSET,
  DESCRIPTOR_SECTORS,
  FLAG_COMPRESSED,
  FLAG_MARKERS,
  FLAG_NL_DETECT,
  FLAG_RGD,
  GD_AT_END,
  GRAIN_SECTORS,
  GTES_PER_GT,
  LINE_CHARS,
  MARKER_EOS,
  MARKER_FOOTER,
  MARKER_GD,
  MARKER_GT,
  MAX_VMDK_SIZE,
  SECTOR,
  VMDK_GRAIN_MARKER,
  VMDK_HEADER,
  VMDK_MAGIC,
  VMDK_MARKER,
} from './structs.js';

export type VmdkOptions = Pick<
  ContainerOptions,
  'subformat' | 'cid' | 'uuid' | 'fileName' | 'adapterType' | 'compressor' | 'level' | 'progress' | 'epoch'
>;

const GRAIN = GRAIN_SECTORS * SECTOR;
const GT_SECTORS = (GTES_PER_GT * 4) / SECTOR;

interface Geometry {
  sectors: number;
  grains: number;
  gts: number;
  gdSectors: number;
}

function geometry(size: number): Geometry {
  checkVirtualSize(size, 'VMDK');
  if (size > MAX_VMDK_SIZE)
    throw new CapacityError('E_LIMIT_VMDK_SIZE', `a VMDK sparse extent holds at most 2 TiB; ${size} bytes is more`, {
      expected: MAX_VMDK_SIZE,
      actual: size,
    });
  const sectors = size / SECTOR;
  const grains = Math.ceil(sectors / GRAIN_SECTORS);
  const gts = Math.ceil(grains / GTES_PER_GT);
  return { sectors, grains, gts, gdSectors: Math.ceil((gts * 4) / SECTOR) };
}

/** monolithicSparse layout, in sectors. */
function sparseLayout(g: Geometry) {
  const rgd = DESCRIPTOR_OFFSET + DESCRIPTOR_SECTORS;
  const gd = rgd + g.gdSectors + g.gts * GT_SECTORS;
  const grainStart = alignUp(gd + g.gdSectors + g.gts * GT_SECTORS, GRAIN_SECTORS);
  return { rgd, gd, grainStart };
}

interface Ids {
  cid: number;
  uuid: string;
}

function ids(o: VmdkOptions, digest: () => string): Ids {
  const uuid = o.uuid ? bytesUuid(uuidBytes(o.uuid)) : digest();
  const cid = o.cid !== undefined ? o.cid >>> 0 : parseInt(uuid.slice(0, 8), 16) >>> 0;
  return { cid, uuid };
}

function header(g: Geometry, fields: Partial<ReturnType<typeof VMDK_HEADER.decode>>): Uint8Array {
  return VMDK_HEADER.encode({
    magic: VMDK_MAGIC,
    capacity: g.sectors,
    grainSize: GRAIN_SECTORS,
    descriptorOffset: DESCRIPTOR_OFFSET,
    descriptorSize: DESCRIPTOR_SECTORS,
    numGTEsPerGT: GTES_PER_GT,
    ...LINE_CHARS,
    ...fields,
  });
}

function descriptor(g: Geometry, type: 'monolithicSparse' | 'streamOptimized', id: Ids, o: VmdkOptions): Uint8Array {
  const text = new TextEncoder().encode(
    formatDescriptor({
      cid: id.cid,
      createType: type,
      sectors: g.sectors,
      fileName: o.fileName ?? 'disk.vmdk',
      adapterType: o.adapterType ?? 'ide',
      uuid: id.uuid,
    }),
  );
  const out = new Uint8Array(DESCRIPTOR_SECTORS * SECTOR);
  out.set(text.subarray(0, out.length));
  return out;
}

/** Grain tables and directories of a monolithicSparse image, then its header and descriptor. */
function finishSparse(target: ContainerTarget, g: Geometry, map: UnitMap, id: Ids, o: VmdkOptions): void {
  const lay = sparseLayout(g);
  const gd = new Uint8Array(g.gdSectors * SECTOR);
  const rgd = new Uint8Array(g.gdSectors * SECTOR);
  const gdv = new DataView(gd.buffer);
  const rgdv = new DataView(rgd.buffer);
  const gt = new Uint8Array(GT_SECTORS * SECTOR);
  const gtv = new DataView(gt.buffer);
  for (let t = 0; t < g.gts; t++) {
    const primary = lay.gd + g.gdSectors + t * GT_SECTORS;
    const redundant = lay.rgd + g.gdSectors + t * GT_SECTORS;
    gdv.setUint32(t * 4, primary, true);
    rgdv.setUint32(t * 4, redundant, true);
    if (!map.any(t * GTES_PER_GT, (t + 1) * GTES_PER_GT)) continue; // an empty table is all zeros: leave the hole
    gt.fill(0);
    for (const [u, host] of map.entries(t * GTES_PER_GT, (t + 1) * GTES_PER_GT))
      gtv.setUint32((u - t * GTES_PER_GT) * 4, host / SECTOR, true);
    target.writeAt(primary * SECTOR, gt);
    target.writeAt(redundant * SECTOR, gt);
  }
  target.writeAt(lay.gd * SECTOR, gd);
  target.writeAt(lay.rgd * SECTOR, rgd);
  target.writeAt(DESCRIPTOR_OFFSET * SECTOR, descriptor(g, 'monolithicSparse', id, o));
  target.writeAt(
    0,
    header(g, {
      version: 1,
      flags: FLAG_NL_DETECT | FLAG_RGD,
      rgdOffset: lay.rgd,
      gdOffsetLo: lay.gd,
      gdOffsetHi: 0,
      overHead: lay.grainStart,
      compressAlgorithm: COMPRESS_NONE,
    }),
  );
}

function summary(
  size: number,
  fileSize: number,
  subformat: string,
  map: UnitMap,
  id: Ids,
  compressed?: number,
): ContainerSummary {
  return {
    format: 'vmdk',
    subformat,
    virtualSize: size,
    fileSize,
    allocatedUnits: map.count,
    unitSize: GRAIN,
    uuid: id.uuid,
    cid: id.cid.toString(16).padStart(8, '0'),
    ...(compressed !== undefined ? { compressedUnits: compressed } : {}),
  };
}

/** Stream `src` into a VMDK (monolithicSparse or streamOptimized) on `target`. */
export async function writeVmdk(
  src: BlockDevice,
  target: ContainerTarget,
  o: VmdkOptions & { extents?: readonly Extent[] } = {},
): Promise<ContainerSummary> {
  const size = src.size;
  const g = geometry(size);
  const extents = normalizeExtents(o.extents, size);
  const progress = o.progress ?? silentProgress;
  const stream = o.subformat === 'streamOptimized';
  progress.start(
    `writing VMDK (${stream ? 'streamOptimized' : 'monolithicSparse'})`,
    extents.reduce((n, e) => n + e.length, 0),
    'bytes',
  );
  const digest = new ContentDigest(`vmdk:${size}`);
  const map = new UnitMap(g.grains);
  if (stream) {
    const { end, id } = await writeStream(src, target, g, extents, map, digest, o);
    progress.done();
    return summary(size, end, 'streamOptimized', map, id, map.count);
  }
  let next = sparseLayout(g).grainStart * SECTOR;
  const queue = new WriteQueue(target);
  for await (const run of dataRuns(src, extents, GRAIN, { progress, queue })) {
    queue.write(next, run.data, run.tag);
    for (let k = 0; k * GRAIN < run.data.length; k++) {
      map.set(run.unit + k, next + k * GRAIN);
      if (!o.uuid) digest.add(run.unit + k, run.data.subarray(k * GRAIN, (k + 1) * GRAIN));
    }
    next += run.data.length;
  }
  await queue.drain();
  progress.done();
  const id = ids(o, () => digest.uuid());
  finishSparse(target, g, map, id, o);
  return summary(size, Math.max(next, sparseLayout(g).grainStart * SECTOR), 'monolithicSparse', map, id);
}

function marker(value: number, type: number): Uint8Array {
  const m = new Uint8Array(SECTOR);
  VMDK_MARKER.encode({ value, size: 0, type }, m);
  return m;
}

async function writeStream(
  src: BlockDevice,
  target: ContainerTarget,
  g: Geometry,
  extents: Extent[],
  map: UnitMap,
  digest: ContentDigest,
  o: VmdkOptions,
): Promise<{ end: number; id: Ids }> {
  const compressor = o.compressor ?? fflateCompressor;
  const level = o.level ?? 6;
  let next = GRAIN_SECTORS * SECTOR; // overHead: grains start at 64 KiB
  const gd = new Uint8Array(g.gdSectors * SECTOR);
  const gdv = new DataView(gd.buffer);
  const gt = new Uint8Array(GT_SECTORS * SECTOR);
  const gtv = new DataView(gt.buffer);
  let table = -1;
  const flushTable = () => {
    if (table < 0) return;
    target.writeAt(next, marker(GT_SECTORS, MARKER_GT));
    target.writeAt(next + SECTOR, gt);
    gdv.setUint32(table * 4, next / SECTOR + 1, true);
    next += SECTOR + gt.length;
    gt.fill(0);
  };
  async function* grains() {
    for await (const run of dataRuns(src, extents, GRAIN, { progress: o.progress })) {
      for (let k = 0; k * GRAIN < run.data.length; k++) {
        const data = run.data.subarray(k * GRAIN, (k + 1) * GRAIN);
        if (!o.uuid) digest.add(run.unit + k, data);
        yield { unit: run.unit + k, data: data.slice() };
      }
    }
  }
  const queue = new WriteQueue(target);
  const packed = orderedMap(
    grains(),
    // every grain is a zlib stream; random-looking ones as stored blocks (level 0), which cost no search
    async (x) => ({
      unit: x.unit,
      z: await compressor.compress(x.data, 'zlib', looksIncompressible(x.data) ? 0 : level),
    }),
    compressor.parallelism,
  );
  for await (const { unit, z } of packed) {
    const t = Math.floor(unit / GTES_PER_GT);
    if (t !== table) {
      flushTable();
      table = t;
    }
    const rec = new Uint8Array(alignUp(VMDK_GRAIN_MARKER.size + z.length, SECTOR));
    VMDK_GRAIN_MARKER.encode({ lba: unit * GRAIN_SECTORS, size: z.length }, rec);
    rec.set(z, VMDK_GRAIN_MARKER.size);
    queue.write(next, rec);
    gtv.setUint32((unit - t * GTES_PER_GT) * 4, next / SECTOR, true);
    map.set(unit, next);
    next += rec.length;
  }
  flushTable();
  await queue.drain();
  const id = ids(o, () => digest.uuid());
  const gdSector = next / SECTOR + 1;
  target.writeAt(next, marker(g.gdSectors, MARKER_GD));
  target.writeAt(next + SECTOR, gd);
  next += SECTOR + gd.length;
  const fields = {
    version: 3,
    flags: FLAG_NL_DETECT | FLAG_COMPRESSED | FLAG_MARKERS,
    rgdOffset: 0,
    overHead: GRAIN_SECTORS,
    compressAlgorithm: COMPRESS_DEFLATE,
  };
  target.writeAt(next, marker(1, MARKER_FOOTER));
  target.writeAt(next + SECTOR, header(g, { ...fields, gdOffsetLo: gdSector, gdOffsetHi: 0 }));
  target.writeAt(next + 2 * SECTOR, marker(0, MARKER_EOS));
  next += 3 * SECTOR;
  target.writeAt(DESCRIPTOR_OFFSET * SECTOR, descriptor(g, 'streamOptimized', id, o));
  target.writeAt(0, header(g, { ...fields, gdOffsetLo: GD_AT_END, gdOffsetHi: GD_AT_END }));
  return { end: next, id };
}

/** A device that is a monolithicSparse VMDK being built on `target` (allocate on write). */
export function createVmdkDevice(target: ContainerTarget, size: number, o: VmdkOptions = {}): ContainerDevice {
  const g = geometry(size);
  let next = sparseLayout(g).grainStart * SECTOR;
  const dev = new AllocatingDevice(size, GRAIN, target, () => {
    const at = next;
    next += GRAIN;
    return at;
  });
  return Object.assign(dev, {
    async finish(): Promise<ContainerSummary> {
      dev.seal();
      const id = ids(o, () => {
        const d = new ContentDigest(`vmdk:${size}`);
        d.addStored(dev.map, GRAIN, target);
        return d.uuid();
      });
      finishSparse(target, g, dev.map, id, o);
      return summary(size, Math.max(next, sparseLayout(g).grainStart * SECTOR), 'monolithicSparse', dev.map, id);
    },
    extents: () => dev.map.extents(GRAIN, size),
  });
}
