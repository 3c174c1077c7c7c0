/**
 * qcow2 v3 writers. `writeQcow2` streams a source device into a container:
 * non-zero clusters of the data extents go out in guest order from host
 * cluster 1 (deflate-compressed and packed byte by byte when `compress` is
 * on and it saves space), then the tables. `createQcow2Device` is the
 * allocate-on-write device: clusters take their place in the order they are
 * first written, and `finish` writes the same tables.
 */
import { UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { silentProgress } from '../../progress.js';
import { AllocatingDevice } from '../alloc.js';
import { fflateCompressor, looksIncompressible, orderedMap } from '../compress.js';
import type { ContainerDevice, ContainerOptions, ContainerSummary, ContainerTarget, Extent } from '../types.js';
import { alignUp, checkVirtualSize, dataRuns, isPowerOfTwo, normalizeExtents, UnitMap, WriteQueue } from '../units.js';
import { HostRefs, writeQcow2Metadata } from './meta.js';
import { DEFAULT_CLUSTER_BITS, MAX_CLUSTER_BITS, MIN_CLUSTER_BITS } from './structs.js';

export type Qcow2Options = Pick<ContainerOptions, 'compress' | 'clusterSize' | 'compressor' | 'level' | 'progress'>;

const SECTOR = 512;

export function clusterBitsFor(clusterSize: number | undefined): number {
  if (clusterSize === undefined) return DEFAULT_CLUSTER_BITS;
  const bits = Math.log2(clusterSize);
  if (!isPowerOfTwo(clusterSize) || bits < MIN_CLUSTER_BITS || bits > MAX_CLUSTER_BITS) {
    throw new UsageError(
      'E_USAGE_CLUSTER_SIZE',
      `qcow2 cluster size must be a power of two from 512 bytes to 2 MiB, got ${clusterSize}`,
      { field: 'clusterSize', actual: clusterSize },
    );
  }
  return bits;
}

function summary(size: number, fileSize: number, map: UnitMap, C: number, compressed?: number): ContainerSummary {
  return {
    format: 'qcow2',
    virtualSize: size,
    fileSize,
    allocatedUnits: map.count,
    unitSize: C,
    ...(compressed !== undefined ? { compressedUnits: compressed } : {}),
  };
}

/** Stream `src` (its data `extents`, default all of it) into a qcow2 image on `target`. */
export async function writeQcow2(
  src: BlockDevice,
  target: ContainerTarget,
  o: Qcow2Options & { extents?: readonly Extent[] } = {},
): Promise<ContainerSummary> {
  const size = src.size;
  checkVirtualSize(size, 'qcow2');
  const clusterBits = clusterBitsFor(o.clusterSize);
  const C = 2 ** clusterBits;
  const map = new UnitMap(Math.ceil(size / C));
  const refs = new HostRefs();
  const extents = normalizeExtents(o.extents, size);
  const progress = o.progress ?? silentProgress;
  progress.start(
    'writing qcow2',
    extents.reduce((n, e) => n + e.length, 0),
    'bytes',
  );
  let next = C;
  let compressed: number | undefined;
  const queue = new WriteQueue(target);
  if (!o.compress) {
    // qemu-img's 2 MiB chunks, four buffers: measured less CPU and time than 4 MiB x 6 (docs/benchmarks.md)
    for await (const run of dataRuns(src, extents, C, { progress, queue, batch: Math.max(C, 2 << 20), buffers: 4 })) {
      queue.write(next, run.data, run.tag);
      const n = run.data.length / C;
      for (let k = 0; k < n; k++) map.set(run.unit + k, next + k * C);
      refs.add(next / C, next / C + n - 1);
      next += run.data.length;
    }
  } else {
    compressed = 0;
    const compressor = o.compressor ?? fflateCompressor;
    const level = o.level ?? 6;
    async function* units() {
      for await (const run of dataRuns(src, extents, C, { progress })) {
        for (let k = 0; k < run.data.length / C; k++)
          yield { unit: run.unit + k, data: run.data.slice(k * C, (k + 1) * C) };
      }
    }
    const results = orderedMap(
      units(),
      // random-looking clusters would not shrink: store them as they are, without trying
      async (x) => ({
        ...x,
        packed: looksIncompressible(x.data) ? x.data : await compressor.compress(x.data, 'deflate-raw', level),
      }),
      compressor.parallelism,
    );
    for await (const { unit, data, packed } of results) {
      if (packed.length < C) {
        queue.write(next, packed);
        const extra = Math.floor((next + packed.length - 1) / SECTOR) - Math.floor(next / SECTOR);
        map.set(unit, next, extra + 1);
        refs.add(Math.floor(next / C), Math.floor((next + packed.length - 1) / C));
        next += packed.length;
        compressed++;
      } else {
        next = alignUp(next, C);
        queue.write(next, data);
        map.set(unit, next);
        refs.add(next / C, next / C);
        next += C;
      }
    }
  }
  await queue.drain();
  progress.done();
  const layout = writeQcow2Metadata(target, { clusterBits, size, map, refs });
  return summary(size, layout.fileSize, map, C, compressed);
}

/**
 * A BlockDevice of `size` bytes that is a qcow2 image being built on
 * `target`: write into it as into a raw device, then `finish()`.
 */
export function createQcow2Device(
  target: ContainerTarget,
  size: number,
  o: Pick<Qcow2Options, 'clusterSize'> = {},
): ContainerDevice & AllocatingDevice {
  checkVirtualSize(size, 'qcow2');
  const clusterBits = clusterBitsFor(o.clusterSize);
  const C = 2 ** clusterBits;
  const refs = new HostRefs();
  let next = C;
  const dev = new AllocatingDevice(size, C, target, () => {
    const at = next;
    next += C;
    refs.add(at / C, at / C);
    return at;
  });
  return Object.assign(dev, {
    async finish(): Promise<ContainerSummary> {
      dev.seal();
      const layout = writeQcow2Metadata(target, { clusterBits, size, map: dev.map, refs });
      return summary(size, layout.fileSize, dev.map, C);
    },
    extents: () => dev.map.extents(C, size),
  });
}
