/**
 * Hostile containers: mutations and truncations of valid images of every
 * kind, random bytes behind each magic, and forged sizes, counts and offsets
 * must give a correct read or a TinyImageError: never another exception, a
 * hang, or an allocation sized by a forged field.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { MemoryDevice } from '../../src/core/io/device.js';
import { openContainer } from '../../src/core/container/open.js';
import { TinyImageError } from '../../src/core/errors.js';
import { QCOW2_HEADER } from '../../src/core/container/qcow2/structs.js';
import { VHD_DYNAMIC_HEADER, VHD_FOOTER, vhdChecksum } from '../../src/core/container/vhd/structs.js';
import { VMDK_HEADER } from '../../src/core/container/vmdk/structs.js';
import { SPARSE_CHUNK, SPARSE_HEADER } from '../../src/core/container/sparse/structs.js';
import { KINDS, MiB, noise, toContainer } from './helpers.js';

const CASES = Number(process.env.FUZZ_CASES ?? 150);

async function sourceDevice(): Promise<MemoryDevice> {
  const d = new MemoryDevice(3 * MiB);
  d.writeAt(4096, noise(200_000, 3));
  d.writeAt(MiB + 12345, new TextEncoder().encode('hello '.repeat(20000)));
  d.writeAt(3 * MiB - 70_000, noise(70_000, 5));
  return d;
}

/** Open and read all of it; any outcome but success must be a typed error. */
function check(bytes: Uint8Array): void {
  const before = process.memoryUsage().arrayBuffers;
  try {
    const c = openContainer(new MemoryDevice(bytes));
    if (c) {
      const buf = new Uint8Array(1 << 20);
      for (let off = 0; off < Math.min(c.device.size, 64 * MiB); off += buf.length) {
        const n = Math.min(buf.length, c.device.size - off);
        c.device.readInto!(off, buf.subarray(0, n));
      }
    }
  } catch (e) {
    if (!(e instanceof TinyImageError)) throw new Error(`untyped error: ${(e as Error)?.stack ?? e}`, { cause: e });
  }
  expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(128 << 20);
}

describe('fuzzing every container reader', async () => {
  const src = await sourceDevice();
  const images = await Promise.all(KINDS.map(async ([name, o]) => [name, await toContainer(src, o)] as const));
  for (const [name, valid] of images) {
    test(`${name}: ${CASES} mutated or truncated images fail only with typed errors`, async () => {
      check(valid);
      fc.assert(
        fc.property(
          fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 16 }),
          fc.nat(),
          fc.boolean(),
          (flips, cut, truncate) => {
            const b = valid.slice(0, truncate ? Math.max(8, cut % valid.length) : valid.length);
            // metadata lives at the start and (VHD, VMDK stream) at the end: aim most flips there
            for (const [pos, val] of flips) {
              const zone = pos % 3;
              const p =
                zone === 0
                  ? pos % Math.min(b.length, 8192)
                  : zone === 1
                    ? b.length - 1 - (pos % Math.min(b.length, 4096))
                    : pos % b.length;
              b[p] = val;
            }
            check(b);
          },
        ),
        { numRuns: CASES, seed: 42 },
      );
    }, 120_000);
  }

  test('random bytes behind every magic fail only with typed errors', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 8, maxLength: 20_000 }), fc.integer({ min: 0, max: 5 }), (b, magic) => {
        const v = new DataView(b.buffer);
        if (magic === 0) v.setUint32(0, 0x514649fb);
        if (magic === 1) v.setUint32(0, 0x564d444b, true);
        if (magic === 2) v.setUint32(0, 0xed26ff3a, true);
        if (magic === 3) b.set(new TextEncoder().encode('conectix'), 0);
        if (magic === 4 && b.length >= 1024) b.set(new TextEncoder().encode('conectix'), (b.length & ~511) - 512);
        if (magic === 5) b.set(new TextEncoder().encode('# Disk DescriptorFile\n'.slice(0, b.length)), 0);
        check(b);
      }),
      { numRuns: CASES * 4, seed: 7 },
    );
  });
});

describe('forged fields', async () => {
  const src = await sourceDevice();
  const img = async (o: Parameters<typeof toContainer>[1]) => toContainer(src, o);
  const expectTyped = (b: Uint8Array, code?: RegExp) => {
    let err: unknown;
    try {
      const c = openContainer(new MemoryDevice(b))!;
      c.device.readAt(0, Math.min(c.device.size, 4 * MiB));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(TinyImageError);
    if (code) expect((err as TinyImageError).code).toMatch(code);
  };

  test('qcow2: huge size, L1 beyond the file, wild cluster bits, backing file, encryption, unknown features', async () => {
    const good = await img({ format: 'qcow2' });
    const set = (f: Partial<ReturnType<typeof QCOW2_HEADER.decode>>) => {
      const b = good.slice();
      QCOW2_HEADER.encode(f, b);
      return b;
    };
    expectTyped(set({ size: 2 ** 52 }), /L1/);
    expectTyped(set({ l1Size: 0xffffffff }), /L1/);
    expectTyped(set({ l1TableOffset: 2 ** 40 }), /L1/);
    expectTyped(set({ clusterBits: 31 }), /CLUSTER_BITS/);
    expectTyped(set({ clusterBits: 8 }), /CLUSTER_BITS/);
    expectTyped(set({ backingFileOffset: 200, backingFileSize: 5 }), /BACKING/);
    expectTyped(set({ cryptMethod: 2 }), /ENCRYPTED/);
    expectTyped(set({ incompatibleLo: 1 << 9 }), /FEATURE/);
    expectTyped(set({ incompatibleHi: 1 }), /FEATURE/);
    expectTyped(set({ incompatibleLo: 1 << 3, compressionType: 1 }), /COMPRESSION/);
    expectTyped(set({ incompatibleLo: 1 << 4 }), /EXTL2/);
    expectTyped(set({ version: 1 }), /VERSION/);
    expectTyped(set({ headerLength: 13 }), /HEADER/);
  });

  test('VHD: forged block size, table size and offsets (with valid checksums)', async () => {
    const good = await img({ format: 'vhd' });
    const forge = (f: Partial<ReturnType<typeof VHD_DYNAMIC_HEADER.decode>>) => {
      const b = good.slice();
      const h = b.subarray(512, 1536);
      VHD_DYNAMIC_HEADER.encode(f, h);
      VHD_DYNAMIC_HEADER.encode({ checksum: vhdChecksum(h, VHD_DYNAMIC_HEADER.offsetOf('checksum')) }, h);
      return b;
    };
    expectTyped(forge({ blockSize: 0 }), /BLOCK_SIZE/);
    expectTyped(forge({ blockSize: 2 ** 31 }), /BLOCK_SIZE/);
    expectTyped(forge({ maxTableEntries: 1 }), /BAT/);
    expectTyped(forge({ tableOffset: 2 ** 45 }), /BAT/);
    const footer = (f: Partial<ReturnType<typeof VHD_FOOTER.decode>>) => {
      const b = good.slice();
      for (const at of [0, b.length - 512]) {
        const s = b.subarray(at, at + 512);
        VHD_FOOTER.encode(f, s);
        VHD_FOOTER.encode({ checksum: vhdChecksum(s, VHD_FOOTER.offsetOf('checksum')) }, s);
      }
      return b;
    };
    expectTyped(footer({ currentSize: 2 ** 50 }), /BAT/);
    expectTyped(footer({ diskType: 4 }), /DIFFERENCING/);
    expectTyped(footer({ currentSize: 1000 }), /SIZE/);
    const bad = good.slice();
    bad[bad.length - 100] ^= 1;
    bad[100] ^= 1;
    expectTyped(bad, /CHECKSUM/);
  });

  test('VMDK: forged capacity, grain size and directory; a stream without its footer', async () => {
    const good = await img({ format: 'vmdk' });
    const set = (f: Partial<ReturnType<typeof VMDK_HEADER.decode>>, from = good) => {
      const b = from.slice();
      VMDK_HEADER.encode(f, b);
      return b;
    };
    expectTyped(set({ capacity: 2 ** 40 }), /GD/);
    expectTyped(set({ capacity: 2 ** 46 }), /CAPACITY/);
    expectTyped(set({ grainSize: 3 }), /GRAIN/);
    expectTyped(set({ grainSize: 2 ** 20 }), /GRAIN/);
    expectTyped(set({ numGTEsPerGT: 0 }), /GT/);
    expectTyped(set({ gdOffsetLo: 0xfffffff0 }), /GD/);
    expectTyped(set({ version: 9 }), /VERSION/);
    const stream = await img({ format: 'vmdk', subformat: 'streamOptimized' });
    expectTyped(stream.slice(0, stream.length - 512), /FOOTER/);
  });

  test('Android sparse: forged counts and chunk sizes', async () => {
    const good = await img({ format: 'sparse' });
    const set = (f: Partial<ReturnType<typeof SPARSE_HEADER.decode>>) => {
      const b = good.slice();
      SPARSE_HEADER.encode(f, b);
      return b;
    };
    expectTyped(set({ totalChunks: 0xffffffff }), /CHUNKS/);
    expectTyped(set({ blockSize: 3 }), /BLOCK_SIZE/);
    expectTyped(set({ totalBlocks: 1 }), /CHUNKS/);
    expectTyped(set({ majorVersion: 2 }), /VERSION/);
    const chunk = good.slice();
    SPARSE_CHUNK.encode({ blocks: 0xffffffff }, chunk, SPARSE_HEADER.size);
    expectTyped(chunk, /CHUNK/);
  });
});
