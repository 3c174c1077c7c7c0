/**
 * VHD writers. Fixed: the raw device (padded to `align`, 1 MiB by default as
 * Azure requires) followed by the footer; only non-zero data is written, the
 * rest stays a hole. Dynamic: footer copy, dynamic header, BAT, then 2 MiB
 * blocks (a 512-byte sector bitmap, all ones as QEMU and Hyper-V write it,
 * then the data), then the footer. The streaming writer stores blocks in
 * guest order; the allocate-on-write device in the order they are first
 * written. The unique id comes from the content (ids.ts), the timestamp from
 * `epoch`, the geometry from the specification's CHS algorithm.
 */
import { CapacityError, UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { readAtInto, checkRange, isZero } from '../../io/device.js';
import { silentProgress } from '../../progress.js';
import { AllocatingDevice } from '../alloc.js';
import { bytesUuid, ContentDigest, uuidBytes } from '../ids.js';
import type { ContainerDevice, ContainerOptions, ContainerSummary, ContainerTarget, Extent } from '../types.js';
import {
  alignUp,
  checkVirtualSize,
  dataRuns,
  isPowerOfTwo,
  normalizeExtents,
  UnitMap,
  WriteQueue,
  writeNonZero,
} from '../units.js';
import {
  BAT_OFFSET,
  CREATOR_VERSION,
  DEFAULT_BLOCK_SIZE,
  DISK_DYNAMIC,
  DISK_FIXED,
  DYNAMIC_COOKIE,
  DYNAMIC_HEADER_OFFSET,
  FEATURES_RESERVED,
  FOOTER_COOKIE,
  FORMAT_VERSION,
  HEADER_VERSION,
  HOST_OS_WINDOWS,
  MAX_VHD_SIZE,
  SECTOR,
  VHD_DYNAMIC_HEADER,
  VHD_EPOCH,
  VHD_FOOTER,
  vhdChecksum,
  vhdGeometry,
} from './structs.js';

export type VhdOptions = Pick<ContainerOptions, 'subformat' | 'align' | 'epoch' | 'uuid' | 'creatorApp' | 'progress'>;

const enc = new TextEncoder();
const MIB = 1024 * 1024;
const SCAN_UNIT = 64 * 1024;

function creatorApp(o: VhdOptions): Uint8Array {
  const app = o.creatorApp ?? 'win ';
  if (!/^[\x20-\x7e]{1,4}$/.test(app))
    throw new UsageError(
      'E_USAGE_VHD_CREATOR',
      `VHD creator application must be 1 to 4 printable ASCII characters, got '${app}'`,
      { field: 'creatorApp', actual: app },
    );
  return enc.encode(app.padEnd(4, ' '));
}

function vhdTimestamp(epoch = 0): number {
  return Math.max(0, Math.min(0xffffffff, Math.floor(epoch) - VHD_EPOCH));
}

function checkSize(size: number): void {
  checkVirtualSize(size, 'VHD');
  if (size > MAX_VHD_SIZE)
    throw new CapacityError('E_LIMIT_VHD_SIZE', `VHD disks hold at most 2040 GiB; ${size} bytes is more`, {
      expected: MAX_VHD_SIZE,
      actual: size,
    });
}

export function vhdFooter(size: number, type: number, uuid: string, o: VhdOptions): Uint8Array {
  const g = vhdGeometry(size);
  const dyn = type === DISK_DYNAMIC;
  const b = VHD_FOOTER.encode({
    cookie: enc.encode(FOOTER_COOKIE),
    features: FEATURES_RESERVED,
    formatVersion: FORMAT_VERSION,
    dataOffsetHi: dyn ? 0 : 0xffffffff,
    dataOffsetLo: dyn ? DYNAMIC_HEADER_OFFSET : 0xffffffff,
    timestamp: vhdTimestamp(o.epoch),
    creatorApp: creatorApp(o),
    creatorVersion: CREATOR_VERSION,
    creatorHostOs: HOST_OS_WINDOWS,
    originalSize: size,
    currentSize: size,
    cylinders: g.cylinders,
    heads: g.heads,
    sectorsPerTrack: g.sectorsPerTrack,
    diskType: type,
    uniqueId: uuidBytes(uuid),
    savedState: 0,
  });
  VHD_FOOTER.encode({ checksum: vhdChecksum(b, VHD_FOOTER.offsetOf('checksum')) }, b);
  return b;
}

function dynamicHeader(entries: number, blockSize: number): Uint8Array {
  const b = VHD_DYNAMIC_HEADER.encode({
    cookie: enc.encode(DYNAMIC_COOKIE),
    dataOffsetHi: 0xffffffff,
    dataOffsetLo: 0xffffffff,
    tableOffset: BAT_OFFSET,
    headerVersion: HEADER_VERSION,
    maxTableEntries: entries,
    blockSize,
  });
  VHD_DYNAMIC_HEADER.encode({ checksum: vhdChecksum(b, VHD_DYNAMIC_HEADER.offsetOf('checksum')) }, b);
  return b;
}

const batBytes = (entries: number) => alignUp(entries * 4, SECTOR);

/** The BAT of `map` (block -> byte offset of the block's data, bitmap one sector before). */
function encodeBat(map: UnitMap, entries: number): Uint8Array {
  const bat = new Uint8Array(batBytes(entries)).fill(0xff);
  const v = new DataView(bat.buffer);
  for (const [u, host] of map.entries()) v.setUint32(u * 4, (host - SECTOR) / SECTOR, false);
  return bat;
}

function idFor(o: VhdOptions, kind: string, size: number, fill: (d: ContentDigest) => void): string {
  if (o.uuid) return bytesUuid(uuidBytes(o.uuid));
  const d = new ContentDigest(`vhd:${kind}:${size}:${o.epoch ?? 0}`);
  fill(d);
  return d.uuid();
}

function finishDynamic(
  target: ContainerTarget,
  size: number,
  map: UnitMap,
  end: number,
  uuid: string,
  o: VhdOptions,
): number {
  const entries = Math.ceil(size / DEFAULT_BLOCK_SIZE);
  const footer = vhdFooter(size, DISK_DYNAMIC, uuid, o);
  target.writeAt(BAT_OFFSET, encodeBat(map, entries));
  target.writeAt(end, footer);
  target.writeAt(DYNAMIC_HEADER_OFFSET, dynamicHeader(entries, DEFAULT_BLOCK_SIZE));
  target.writeAt(0, footer);
  return end + SECTOR;
}

const BITMAP = new Uint8Array(SECTOR).fill(0xff);

/** Stream `src` into a VHD (fixed or dynamic) on `target`. */
export async function writeVhd(
  src: BlockDevice,
  target: ContainerTarget,
  o: VhdOptions & { extents?: readonly Extent[] } = {},
): Promise<ContainerSummary> {
  const fixed = o.subformat === 'fixed';
  const size = fixed ? alignUp(src.size, alignment(o)) : src.size;
  checkSize(size);
  const extents = normalizeExtents(o.extents, src.size);
  const progress = o.progress ?? silentProgress;
  progress.start(
    `writing VHD (${fixed ? 'fixed' : 'dynamic'})`,
    extents.reduce((n, e) => n + e.length, 0),
    'bytes',
  );
  const unit = fixed ? SCAN_UNIT : DEFAULT_BLOCK_SIZE;
  const map = new UnitMap(Math.ceil(size / unit));
  const digest = new ContentDigest(`vhd:${fixed ? 'fixed' : 'dynamic'}:${size}:${o.epoch ?? 0}`);
  let next = BAT_OFFSET + batBytes(Math.ceil(size / DEFAULT_BLOCK_SIZE));
  const queue = new WriteQueue(target);
  for await (const run of dataRuns(src, extents, unit, { progress, queue })) {
    for (let k = 0; k * unit < run.data.length; k++) {
      const u = run.unit + k;
      const piece = run.data.subarray(k * unit, (k + 1) * unit);
      if (!o.uuid) digest.addUnit(u, piece, unit);
      if (fixed) {
        map.set(u, u * unit + 1);
        continue;
      }
      queue.write(next, BITMAP);
      writeNonZero(queue, next + SECTOR, piece, run.tag);
      map.set(u, next + SECTOR);
      next += SECTOR + unit;
    }
    if (fixed)
      queue.write(
        run.unit * unit,
        run.data.subarray(0, Math.min(run.data.length, src.size - run.unit * unit)),
        run.tag,
      );
  }
  await queue.drain();
  progress.done();
  const uuid = o.uuid ? bytesUuid(uuidBytes(o.uuid)) : digest.uuid();
  let fileSize: number;
  if (fixed) {
    target.writeAt(size, vhdFooter(size, DISK_FIXED, uuid, o));
    fileSize = size + SECTOR;
  } else {
    fileSize = finishDynamic(target, size, map, next, uuid, o);
  }
  return {
    format: 'vhd',
    subformat: fixed ? 'fixed' : 'dynamic',
    virtualSize: size,
    fileSize,
    allocatedUnits: map.count,
    unitSize: unit,
    uuid,
  };
}

function alignment(o: VhdOptions): number {
  const a = o.align ?? MIB;
  if (!isPowerOfTwo(a) || a < SECTOR)
    throw new UsageError('E_USAGE_ALIGN', `VHD alignment must be a power of two of at least 512, got ${a}`, {
      field: 'align',
      actual: a,
    });
  return a;
}

/**
 * A device that is a VHD being built on `target`. Dynamic: allocate on
 * write. Fixed: the device writes straight through (its size is `size`
 * rounded up to the alignment) and `finish` appends the footer.
 */
export function createVhdDevice(target: ContainerTarget, size: number, o: VhdOptions = {}): ContainerDevice {
  if (o.subformat === 'fixed') return new FixedVhdDevice(target, alignUp(size, alignment(o)), o);
  checkSize(size);
  let next = BAT_OFFSET + batBytes(Math.ceil(size / DEFAULT_BLOCK_SIZE));
  const dev = new AllocatingDevice(size, DEFAULT_BLOCK_SIZE, target, () => {
    target.writeAt(next, BITMAP);
    const at = next + SECTOR;
    next = at + DEFAULT_BLOCK_SIZE;
    return at;
  });
  return Object.assign(dev, {
    async finish(): Promise<ContainerSummary> {
      dev.seal();
      const uuid = idFor(o, 'dynamic', size, (d) => d.addStored(dev.map, DEFAULT_BLOCK_SIZE, target));
      const fileSize = finishDynamic(target, size, dev.map, next, uuid, o);
      return {
        format: 'vhd',
        subformat: 'dynamic',
        virtualSize: size,
        fileSize,
        allocatedUnits: dev.map.count,
        unitSize: DEFAULT_BLOCK_SIZE,
        uuid,
      } as ContainerSummary;
    },
    extents: () => dev.map.extents(DEFAULT_BLOCK_SIZE, size),
  });
}

/** Fixed VHD built in place: the raw device, then the footer. Tracks written 64 KiB units for the id and extents. */
class FixedVhdDevice implements ContainerDevice {
  private readonly map: UnitMap;
  private finished = false;
  constructor(
    private readonly target: ContainerTarget,
    readonly size: number,
    private readonly o: VhdOptions,
  ) {
    checkSize(size);
    this.map = new UnitMap(Math.ceil(size / SCAN_UNIT));
  }
  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }
  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    this.target.readInto(offset, out);
  }
  writeAt(offset: number, data: Uint8Array): void {
    if (this.finished)
      throw new UsageError('E_USAGE_FINISHED', 'the container is finished; it can no longer be written', {});
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.size)
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside the device (size ${this.size})`);
    // like a fresh FileDevice: zeros for a unit never written stay a hole (they read as zeros anyway)
    let runStart = -1;
    for (let i = 0; i <= data.length;) {
      const u = Math.floor((offset + i) / SCAN_UNIT);
      const end = Math.min(data.length, (u + 1) * SCAN_UNIT - offset);
      const skip = i === data.length || (!this.map.get(u) && isZero(data, i, end));
      if (!skip && !this.map.get(u)) this.map.set(u, u * SCAN_UNIT + 1);
      if (!skip && runStart < 0) runStart = i;
      if (skip && runStart >= 0) {
        this.target.writeAt(offset + runStart, data.subarray(runStart, i));
        runStart = -1;
      }
      if (i === data.length) break;
      i = end;
    }
  }
  /** Nothing to persist before `finish`: the container is complete only then (the Node side fsyncs on request). */
  flush(): void {}
  extents(): Extent[] {
    return this.map.extents(SCAN_UNIT, this.size);
  }
  async finish(): Promise<ContainerSummary> {
    this.finished = true;
    const uuid = idFor(this.o, 'fixed', this.size, (d) => {
      const head = new Uint8Array(SECTOR);
      const tail = new Uint8Array(SECTOR);
      for (const [u] of this.map.entries()) {
        this.target.readInto(u * SCAN_UNIT, head);
        this.target.readInto((u + 1) * SCAN_UNIT - SECTOR, tail);
        d.addEdges(u, head, tail);
      }
    });
    this.target.writeAt(this.size, vhdFooter(this.size, DISK_FIXED, uuid, this.o));
    return {
      format: 'vhd',
      subformat: 'fixed',
      virtualSize: this.size,
      fileSize: this.size + SECTOR,
      allocatedUnits: this.map.count,
      unitSize: SCAN_UNIT,
      uuid,
    };
  }
}
