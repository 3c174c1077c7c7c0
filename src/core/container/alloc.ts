/**
 * The allocate-on-write device behind qcow2, VHD dynamic and VMDK
 * monolithicSparse: a BlockDevice that filesystem and disk writers write
 * straight into. A unit (cluster, block, grain) gets its place in the
 * container on the first write that carries a non-zero byte; writes of zeros
 * to units never written cost nothing (they read as zeros); consecutive
 * units that land consecutively in the container go out as one write. The
 * format's tables are written by its `finish`, from `map`.
 */
import { UsageError } from '../errors.js';
import { forEachUnit, readAtInto, checkRange, isZero, type BlockDevice } from '../io/device.js';
import type { ContainerTarget } from './types.js';
import { UnitMap } from './units.js';

export class AllocatingDevice implements BlockDevice {
  readonly map: UnitMap;
  private finished = false;

  constructor(
    readonly size: number,
    readonly unitSize: number,
    private readonly target: ContainerTarget,
    /** Place unit `u` in the container; returns the byte offset of its data. */
    private readonly allocate: (u: number) => number,
  ) {
    this.map = new UnitMap(Math.ceil(size / unitSize));
  }

  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }

  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    forEachUnit(offset, out, this.unitSize, (u, inUnit, part) => {
      const host = this.map.get(u);
      if (host) this.target.readInto(host + inUnit, part);
      else part.fill(0);
    });
  }

  writeAt(offset: number, data: Uint8Array): void {
    if (this.finished)
      throw new UsageError('E_USAGE_FINISHED', 'the container is finished; it can no longer be written', {});
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + data.length > this.size) {
      throw new RangeError(`write of ${data.length} bytes at ${offset} outside the device (size ${this.size})`);
    }
    // pending run: data[runData, runData + runLen) goes to host offset runHost
    let runHost = 0;
    let runData = 0;
    let runLen = 0;
    const flushRun = () => {
      if (runLen) this.target.writeAt(runHost, data.subarray(runData, runData + runLen));
      runLen = 0;
    };
    let i = 0; // where `part` starts in data
    forEachUnit(offset, data, this.unitSize, (u, inUnit, part) => {
      const n = part.length;
      let host = this.map.get(u);
      if (!host) {
        if (isZero(data, i, i + n)) {
          flushRun();
          i += n;
          return;
        }
        host = this.allocate(u);
        this.map.set(u, host);
      }
      const at = host + inUnit;
      if (runLen && runHost + runLen === at && runData + runLen === i) runLen += n;
      else {
        flushRun();
        runHost = at;
        runData = i;
        runLen = n;
      }
      i += n;
    });
    flushRun();
  }

  /** Nothing to persist before `finish`: the container is complete only then (the Node side fsyncs on request). */
  flush(): void {}

  /** No more writes (finish() of the format calls this first). */
  seal(): void {
    this.finished = true;
  }
}
