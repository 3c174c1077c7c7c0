/**
 * Scale check (opt-in: TINYIMAGE_BENCH_TREE=/work/bench-tree): a mke2fs -d
 * image of the standard 20,000-file benchmark tree reads back entry by entry
 * equal to the tree (contents hashed), and the metadata walk is timed.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openExt4 } from '../../src/core/fs/ext4/read.js';
import { FileDevice } from '../../src/node/io/file.js';
import { compareWithHost } from './read-helpers.js';

const benchTree = process.env.TINYIMAGE_BENCH_TREE;

describe.skipIf(!benchTree)('benchmark tree', () => {
  it('mke2fs -d image of the benchmark tree reads back as the tree', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ext4r-bench-'));
    try {
      const img = join(dir, 'img');
      const kb =
        Math.ceil(
          Number(execFileSync('du', ['-sk', '--apparent-size', benchTree!], { encoding: 'utf8' }).split('\t')[0]) * 1.3,
        ) + 65536;
      execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', benchTree!, img, `${kb}k`], { stdio: 'ignore' });
      const dev = FileDevice.open(img);
      try {
        const t0 = performance.now();
        const { tree } = openExt4(dev);
        console.log(`openExt4: ${(performance.now() - t0).toFixed(0)} ms for ${tree.stats().entries} entries`);
        const n = await compareWithHost(tree, benchTree!, { times: 'mke2fs' });
        expect(n).toBeGreaterThan(20000);
      } finally {
        dev.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 900_000);
});
