/** Random layouts: what we write, our reader and sfdisk read back the same way. */
import { afterAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { MemoryDevice } from '../../src/core/io/device.js';
import {
  readPartitionTable,
  writeGpt,
  writeMbr,
  type GptPartitionSpec,
  type MbrPartitionSpec,
} from '../../src/core/partition/index.js';
import { IN_CI, missing, run } from '../helpers/prereq.js';
import { tempDir } from './helpers.js';

const tmp = tempDir('tinyimage-partprop-');
afterAll(() => tmp.cleanup());
const S = 512;
const DISK = 64 * 2048 * S; // 64 MiB

/** Random disjoint sector runs (start, length) inside [first, end). */
const runs = (first: number, end: number, max: number) =>
  fc
    .array(fc.tuple(fc.integer({ min: 0, max: 300 }), fc.integer({ min: 1, max: 4000 })), {
      minLength: 1,
      maxLength: max,
    })
    .map((xs) => {
      const out: Array<[number, number]> = [];
      let cur = first;
      for (const [gap, len] of xs) {
        const s = cur + gap;
        if (s + len > end) break;
        out.push([s, len]);
        cur = s + len;
      }
      return out;
    })
    .filter((xs) => xs.length > 0);

const sfdiskOk = !missing({ tools: ['sfdisk'] });

describe('partition tables, random layouts', () => {
  it('GPT: reader round-trips, sfdisk agrees', () => {
    let n = 0;
    fc.assert(
      fc.property(
        runs(34, DISK / S - 34, 12),
        fc.string({ maxLength: 8 }),
        fc.constantFrom('linux', 'esp', 'swap', 'root-x86-64', 'bios-boot'),
        (rs, seed, type) => {
          const dev = new MemoryDevice(DISK);
          const parts: GptPartitionSpec[] = rs.map(([s, l], i) => ({
            offset: s * S,
            size: l * S,
            type,
            name: `p${i}`,
          }));
          const res = writeGpt(dev, { seed, partitions: parts });
          const t = readPartitionTable(dev)!;
          expect(t.partitions).toEqual(res.partitions);
          if (sfdiskOk && n++ < 8) {
            const img = join(tmp.dir, 'gpt.img');
            writeFileSync(img, dev.bytes);
            const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
            expect(
              j.partitions.map((p: { start: number; size: number; uuid: string }) => [
                p.start,
                p.size,
                p.uuid.toLowerCase(),
              ]),
            ).toEqual(res.partitions.map((p) => [p.offset / S, p.size / S, p.partuuid]));
          }
        },
      ),
      { numRuns: IN_CI ? 100 : 40 },
    );
  });

  it('MBR with logical partitions: reader round-trips, sfdisk --verify agrees', () => {
    let n = 0;
    fc.assert(
      fc.property(
        runs(1, DISK / S, 9),
        fc.integer({ min: 0, max: 4 }),
        fc.integer({ min: 1, max: 0xffffffff }),
        (rs, primaries, sig) => {
          // the first `primaries` runs are primary (at most 3 when logicals follow); each logical needs a free sector before it for its EBR
          const np = Math.min(primaries, rs.length, rs.length > primaries ? 3 : 4);
          const parts: MbrPartitionSpec[] = [];
          let prevEnd = 0;
          for (const [i, [s, l]] of rs.entries()) {
            const logical = i >= np;
            if (logical && s - 1 < Math.max(prevEnd, 1)) {
              prevEnd = s + l;
              continue;
            }
            parts.push({ offset: s * S, size: l * S, type: 'linux', logical, bootable: i === 0 });
            prevEnd = s + l;
          }
          fc.pre(parts.length > 0);
          const dev = new MemoryDevice(DISK);
          const res = writeMbr(dev, { signature: sig, partitions: parts, ebrGapSectors: 1 });
          const t = readPartitionTable(dev)!;
          expect(t.partitions).toEqual(res.partitions);
          if (sfdiskOk && n++ < 8) {
            const img = join(tmp.dir, 'mbr.img');
            writeFileSync(img, dev.bytes);
            const v = run('sfdisk', ['--verify', img]);
            expect(v.stdout, v.stdout + v.stderr).toContain('No errors detected');
            const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
            const sf = j.partitions
              .filter((p: { type: string }) => p.type !== '5')
              .map((p: { node: string; start: number; size: number }) => [
                Number(/(\d+)$/.exec(p.node)![1]),
                p.start,
                p.size,
              ]);
            expect(sf).toEqual(res.partitions.map((p) => [p.index, p.offset / S, p.size / S]));
          }
        },
      ),
      { numRuns: IN_CI ? 100 : 40 },
    );
  });

  it('never throws anything but FormatError on random bytes, and never hangs', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1024, maxLength: 1024 }),
        fc.boolean(),
        fc.boolean(),
        (junk, sig, prot) => {
          const dev = new MemoryDevice(1 << 20);
          dev.bytes.set(junk, 0);
          if (sig) {
            dev.bytes[510] = 0x55;
            dev.bytes[511] = 0xaa;
          }
          if (prot) {
            dev.bytes[0x1be + 4] = 0xee;
            dev.bytes.set(new TextEncoder().encode('EFI PART'), 512);
          }
          try {
            readPartitionTable(dev);
          } catch (e) {
            expect((e as { code?: string }).code).toMatch(/^E_FORMAT_/);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
