/**
 * Property tests over random sparse devices and random extent lists: every
 * container kind, written from a device and read back, is that device; and
 * an allocate-on-write device that received random writes reads back, before
 * and after finish, as a plain memory device that received the same writes.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { MemoryDevice } from '../../src/core/io/device.js';
import { createContainerDevice } from '../../src/core/container/write.js';
import { MemoryTarget } from '../../src/core/container/units.js';
import type { ContainerOptions, Extent } from '../../src/core/container/types.js';
import { noise, readAll, reopen, sameDevice, toContainer } from './helpers.js';

const RUNS = Number(process.env.PROPERTY_RUNS ?? 12);

/** A device of 1..64 x 64 KiB (plus an odd number of sectors) with random runs: noise, a repeated byte, zeros. */
const deviceArb = fc
  .record({
    blocks: fc.integer({ min: 1, max: 64 }),
    extraSectors: fc.integer({ min: 0, max: 127 }),
    runs: fc.array(
      fc.record({
        at: fc.nat(),
        len: fc.integer({ min: 1, max: 300_000 }),
        kind: fc.constantFrom('noise', 'fill', 'zero'),
        seed: fc.integer({ min: 1, max: 1e9 }),
      }),
      { maxLength: 12 },
    ),
    slack: fc.array(fc.record({ at: fc.nat(), len: fc.nat({ max: 200_000 }) }), { maxLength: 4 }),
  })
  .map(({ blocks, extraSectors, runs, slack }) => {
    const size = blocks * 65536 + extraSectors * 512;
    const bytes = new Uint8Array(size);
    const extents: Extent[] = [];
    for (const r of runs) {
      const at = r.at % size;
      const len = Math.min(r.len, size - at);
      if (r.kind === 'noise') bytes.set(noise(len, r.seed), at);
      else if (r.kind === 'fill') bytes.fill(r.seed & 0xff || 1, at, at + len);
      else bytes.fill(0, at, at + len);
      extents.push({ offset: at, length: len });
    }
    // extents cover every written byte, plus random extra ranges that hold zeros
    for (const s of slack) extents.push({ offset: s.at % size, length: s.len });
    return { bytes, extents };
  });

const VARIANTS: Array<[string, ContainerOptions]> = [
  ['qcow2 64 KiB', { format: 'qcow2' }],
  ['qcow2 512 B', { format: 'qcow2', clusterSize: 512 }],
  ['qcow2 2 MiB compressed', { format: 'qcow2', clusterSize: 2 << 20, compress: true }],
  ['qcow2 4 KiB compressed', { format: 'qcow2', clusterSize: 4096, compress: true }],
  ['vhd dynamic', { format: 'vhd' }],
  ['vhd fixed', { format: 'vhd', subformat: 'fixed', align: 512 }],
  ['vmdk sparse', { format: 'vmdk' }],
  ['vmdk stream', { format: 'vmdk', subformat: 'streamOptimized' }],
  ['android sparse 4 KiB', { format: 'sparse' }],
  ['android sparse 1 KiB, dont-care', { format: 'sparse', blockSize: 1024, zeroBlocks: 'dont-care' }],
];

describe('every container reads back as the device it was written from', () => {
  test.each(VARIANTS)(
    '%s',
    async (_n, opts) => {
      await fc.assert(
        fc.asyncProperty(deviceArb, fc.boolean(), async ({ bytes, extents }, withExtents) => {
          const c = reopen(
            await toContainer(new MemoryDevice(bytes), { ...opts, ...(withExtents ? { extents } : {}) }),
          );
          expect(sameDevice(readAll(c.device, 77_777), bytes)).toBe(true);
        }),
        { numRuns: RUNS, seed: 19 },
      );
    },
    120_000,
  );
});

const writesArb = fc.array(
  fc.record({
    at: fc.nat(),
    len: fc.integer({ min: 1, max: 200_000 }),
    zero: fc.boolean(),
    seed: fc.integer({ min: 1, max: 1e9 }),
  }),
  { minLength: 1, maxLength: 30 },
);

describe('allocate-on-write devices behave like a plain device', () => {
  test.each([
    ['qcow2', { format: 'qcow2' }],
    ['qcow2 4 KiB', { format: 'qcow2', clusterSize: 4096 }],
    ['vhd dynamic', { format: 'vhd' }],
    ['vhd fixed', { format: 'vhd', subformat: 'fixed' }],
    ['vmdk sparse', { format: 'vmdk' }],
    ['android sparse (spooled)', { format: 'sparse' }],
  ] as Array<[string, ContainerOptions]>)(
    '%s',
    async (_n, opts) => {
      await fc.assert(
        fc.asyncProperty(fc.integer({ min: 1, max: 96 }), writesArb, async (mib8, writes) => {
          const size = mib8 * 65536 * 2;
          const target = new MemoryTarget();
          const dev = createContainerDevice(target, size, opts, () => new MemoryTarget());
          const plain = new MemoryDevice(dev.size);
          for (const w of writes) {
            const at = w.at % size;
            const data = w.zero
              ? new Uint8Array(Math.min(w.len, size - at))
              : noise(Math.min(w.len, size - at), w.seed);
            dev.writeAt(at, data);
            plain.writeAt(at, data);
          }
          expect(sameDevice(readAll(dev), plain.bytes)).toBe(true);
          await dev.finish();
          expect(sameDevice(readAll(reopen(target.bytes().slice()).device), plain.bytes)).toBe(true);
        }),
        { numRuns: RUNS, seed: 23 },
      );
    },
    120_000,
  );
});
