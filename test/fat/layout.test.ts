/** Geometry against mkfs.fat itself: same type, cluster size and (near) cluster count for the same size. */
import { describe, expect, test } from 'vitest';
import { join } from 'node:path';
import {
  chooseGeometry,
  MAX_CLUSTERS_12,
  MIN_CLUSTERS_16,
  MAX_CLUSTERS_16,
  MIN_CLUSTERS_32,
} from '../../src/core/fs/fat/layout.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { FileDevice } from '../../src/node/io/file.js';
import { CapacityError } from '../../src/core/errors.js';
import { missing, run } from '../helpers/prereq.js';
import { tmp } from './helpers.js';

const skip = missing({ tools: ['mkfs.fat'] });

describe('FAT geometry', () => {
  test.skipIf(skip).each([
    ['1M', undefined],
    ['4M', undefined],
    ['16M', undefined],
    ['33M', undefined],
    ['100M', undefined],
    ['256M', undefined],
    ['300M', undefined],
    ['511M', undefined],
    ['600M', undefined],
    ['2G', undefined],
    ['64M', 32],
    ['40M', 32],
    ['12M', 16],
    ['200M', 16],
    ['2M', 12],
    ['100M', 12],
  ] as const)('size %s forced %s: same choice as mkfs.fat', (size, fat) => {
    const t = tmp();
    try {
      const img = join(t.dir, 'm.img');
      const kib = Number(size.slice(0, -1)) * (size.endsWith('G') ? 1024 * 1024 : 1024);
      const r = run('mkfs.fat', ['-C', ...(fat ? ['-F', String(fat)] : []), img, String(kib)]);
      expect(r.code, r.stderr).toBe(0);
      const dev = FileDevice.open(img);
      const info = openFat(dev).info;
      dev.close();
      const g = chooseGeometry(info.totalSectors * 512, fat ? { type: `fat${fat}` } : {});
      expect(g.type).toBe(info.type);
      expect(g.sectorsPerCluster * 512).toBe(info.clusterSize);
      expect(g.reservedSectors).toBe(info.reservedSectors);
      expect(g.fatSectors).toBe(info.fatSectors);
      expect(g.clusters).toBe(info.clusters);
    } finally {
      t.cleanup();
    }
  });

  test('cluster counts stay clear of the ambiguous boundaries', () => {
    for (let mb = 1; mb <= 1024; mb += mb < 64 ? 1 : 7) {
      for (const type of [undefined, 'fat12', 'fat16', 'fat32'] as const) {
        let g;
        try {
          g = chooseGeometry(mb * 1024 * 1024, { type });
        } catch (e) {
          expect(e).toBeInstanceOf(CapacityError);
          continue;
        }
        if (g.type === 'fat12') expect(g.clusters).toBeLessThanOrEqual(MAX_CLUSTERS_12);
        if (g.type === 'fat16') {
          expect(g.clusters).toBeGreaterThanOrEqual(MIN_CLUSTERS_16);
          expect(g.clusters).toBeLessThanOrEqual(MAX_CLUSTERS_16);
        }
        if (g.type === 'fat32') expect(g.clusters).toBeGreaterThanOrEqual(MIN_CLUSTERS_32);
        if (type) expect(g.type).toBe(type);
        // FAT big enough for every cluster
        const bits = g.type === 'fat12' ? 12 : g.type === 'fat16' ? 16 : 32;
        expect(g.fatSectors * 512 * 8).toBeGreaterThanOrEqual((g.clusters + 2) * bits);
        expect(g.dataStart + g.clusters * g.sectorsPerCluster).toBeLessThanOrEqual(g.totalSectors);
      }
    }
  });

  test('forced types that do not fit give a clear CapacityError', () => {
    expect(() => chooseGeometry(8 << 20, { type: 'fat32' })).toThrow(/cannot hold FAT32.*65525 clusters/);
    expect(() => chooseGeometry(1 << 20, { type: 'fat16' })).toThrow(/cannot hold FAT16/);
    expect(() => chooseGeometry(400 << 20, { type: 'fat12' })).toThrow(/cannot hold FAT12/);
    expect(() => chooseGeometry(8 << 20, { type: 'fat32' })).toThrow(CapacityError);
  });
});
