/**
 * Volumes at the cluster-count boundaries (FAT12 4084, FAT16 4087 and 65524,
 * FAT32 65525), filled to the last cluster: fsck.fat and mtools must detect
 * the same type from the count and read everything back.
 */
import { describe, expect, test, afterAll } from 'vitest';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { chooseGeometry, openFat, type FatType } from '../../src/core/fs/fat/index.js';
import { missing } from '../helpers/prereq.js';
import { expectFsckClean, expectMtoolsReadBack, fsckVerboseText, makeImage, tmp } from './helpers.js';

const skip = missing({ tools: ['fsck.fat', 'mcopy'] });
const work = tmp('fat-bound-');
afterAll(() => work.cleanup());

/** Smallest size (sectors) whose geometry for `type` with 1 sector per cluster has exactly `clusters`. */
function sectorsFor(type: FatType, clusters: number): number {
  for (let s = clusters; s < clusters + 2000; s++) {
    try {
      if (chooseGeometry(s * 512, { type, spc: 1 }).clusters === clusters) return s;
    } catch {
      /* too small */
    }
  }
  throw new Error(`no size gives ${clusters} clusters`);
}

describe.skipIf(skip)('cluster-count boundaries', () => {
  test.each([
    ['fat12', 4084],
    ['fat16', 4087],
    ['fat16', 65524],
    ['fat32', 65525],
  ] as const)('%s with %i clusters, completely full', async (type, clusters) => {
    const size = sectorsFor(type, clusters) * 512;
    const t = new FileTree({ defaultTime: 1_700_000_000 });
    t.addFile('/sub/small.txt', 'x');
    // every remaining cluster goes to one file: root (FAT32) and /sub take one cluster each, small.txt one
    const used = (type === 'fat32' ? 1 : 0) + 1 + 1;
    const fill = (clusters - used) * 512;
    t.addFile(
      '/fill.bin',
      new Uint8Array(fill).map((_, i) => (i * 13) & 0xff),
    );
    const img = join(work.dir, `${type}-${clusters}.img`);
    const { summary, dev } = await makeImage(t, img, size, { type, sectorsPerCluster: 1 });
    expect(summary.clusters).toBe(clusters);
    expect(summary.freeClusters).toBe(0);
    expect(openFat(dev).info.type).toBe(type);
    expectFsckClean(img);
    const v = fsckVerboseText(img);
    expect(v).toContain(`${type === 'fat12' ? 12 : type === 'fat16' ? 16 : 32} bit entries`);
    await expectMtoolsReadBack(img, t);
  });
});
