// The standard benchmark tree (~565 MB, 20,000 files) through ext2/3/4 at
// 1K and 4K blocks, checked by e2fsck -fn. Heavy: runs only when
// TINYIMAGE_BENCH_TREE points at the tree (CI sets it; locally opt in).
import { describe, expect, it, afterAll } from 'vitest';
import { join } from 'node:path';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { fsck, tmp, writeImage } from './helpers.js';

const dir = process.env.TINYIMAGE_BENCH_TREE;
const t = tmp();
afterAll(() => t.cleanup());

describe.skipIf(!dir)('standard tree', () => {
  for (const type of ['ext4', 'ext3', 'ext2'] as const) {
    for (const blockSize of [4096, 1024]) {
      it(`${type} ${blockSize}: e2fsck -fn passes`, async () => {
        const img = join(t.dir, `${type}-${blockSize}.img`);
        await writeImage(treeFromHostDir(dir!), img, { type, blockSize, epoch: 1700000000 });
        const r = fsck(img);
        if (r.code !== 0) console.log(r.out.slice(0, 3000));
        expect(r.code).toBe(0);
      }, 900000);
    }
  }
});
