/** Random disk layouts: planning invariants hold and the table writers accept every plan. */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  buildDisk,
  planDisk,
  type DiskLayout,
  type DiskPartition,
  type PartitionSize,
} from '../../src/core/image/disk.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readPartitionTable } from '../../src/core/partition/index.js';
import { IN_CI, missing, run } from '../helpers/prereq.js';
import { MiB, tempDir } from '../partition/helpers.js';

const sizeArb: fc.Arbitrary<PartitionSize> = fc.oneof(
  fc.integer({ min: 1, max: 6 * MiB }),
  fc.integer({ min: 1, max: 20 }).map((n) => `${n}%` as PartitionSize),
  fc.constant('rest' as PartitionSize),
);

describe('planDisk on random layouts', () => {
  it('aligned, disjoint, inside the disk; writers and readers agree', async () => {
    const tmp = tempDir('tinyimage-plan-');
    const tools = !missing({ tools: ['sfdisk', 'sgdisk'] });
    let checked = 0;
    let built = 0;
    let runs = 0;
    try {
      await fc.assert(
        fc.asyncProperty(
          fc.constantFrom<'mbr' | 'gpt'>('mbr', 'gpt'),
          fc.array(fc.record({ size: sizeArb, logical: fc.boolean() }), { minLength: 1, maxLength: 7 }),
          fc.integer({ min: 32, max: 96 }),
          async (table, specs, diskMiB) => {
            // one 'rest' at most; on MBR the logical ones form a tail of the list, at most 3 primaries before them
            let rest = false;
            const parts: DiskPartition[] = specs.map((s, i) => {
              let size = s.size;
              if (size === 'rest') {
                if (rest) size = MiB;
                rest = true;
              }
              const logical = table === 'mbr' && (i >= 3 || (s.logical && specs.slice(i).every((x) => x.logical)));
              return { fs: 'none', size, ...(logical ? { logical: true } : {}) };
            });
            if (table === 'mbr') {
              const firstLogical = parts.findIndex((p) => p.logical);
              if (firstLogical >= 0) for (let i = firstLogical; i < parts.length; i++) parts[i]!.logical = true;
            }
            const layout: DiskLayout = { table, size: diskMiB * MiB, partitions: parts };
            runs++;
            let plan;
            try {
              plan = planDisk(layout);
            } catch (e) {
              expect((e as { code?: string }).code).toMatch(/^E_SPACE_DISK$/);
              return;
            }
            const end = table === 'gpt' ? diskMiB * MiB - 33 * 512 : diskMiB * MiB;
            const sorted = [...plan.partitions].sort((a, b) => a.offset - b.offset);
            let prev = 0;
            for (const p of sorted) {
              expect(p.offset % MiB).toBe(0);
              expect(p.size).toBeGreaterThan(0);
              expect(p.offset).toBeGreaterThanOrEqual(prev + (p.spec.logical ? MiB : 0));
              prev = p.offset + p.size;
            }
            expect(prev).toBeLessThanOrEqual(end);
            const dev = new MemoryDevice(diskMiB * MiB);
            const res = await buildDisk(layout, dev);
            built++;
            const t = readPartitionTable(dev)!;
            expect(t.partitions.map((p) => [p.index, p.offset, p.size])).toEqual(
              res.partitions.map((p) => [p.index, p.offset, p.size]),
            );
            expect(res.partitions.map((p) => [p.index, p.offset, p.size])).toEqual(
              plan.partitions.map((p) => [p.index, p.offset, p.size]),
            );
            if (tools && checked++ < 10) {
              const img = join(tmp.dir, 'p.img');
              writeFileSync(img, dev.bytes);
              if (table === 'mbr') expect(run('sfdisk', ['--verify', img]).stdout).toContain('No errors detected');
              else expect(run('sgdisk', ['-v', img]).stdout).toContain('No problems found');
            }
          },
        ),
        { numRuns: IN_CI ? 150 : 60 },
      );
      // the generator must mostly produce layouts that fit, or the property says little
      expect(built).toBeGreaterThan(runs / 3);
    } finally {
      tmp.cleanup();
    }
  }, 300_000);
});
