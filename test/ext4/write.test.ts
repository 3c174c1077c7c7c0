import { describe, expect, it, afterAll } from 'vitest';
import { join } from 'node:path';
import { missing } from '../helpers/prereq.js';
import { edgeTree, fsck, tmp, writeImage, debugfs } from './helpers.js';

const skip = missing({ tools: ['e2fsck', 'debugfs'] });
const t = tmp();
afterAll(() => t.cleanup());

describe.skipIf(skip)('ext writer: e2fsck -fn accepts edge trees', () => {
  for (const type of ['ext4', 'ext3', 'ext2'] as const) {
    for (const blockSize of [4096, 1024]) {
      it(`${type} at block size ${blockSize}`, async () => {
        const img = join(t.dir, `${type}-${blockSize}.img`);
        await writeImage(edgeTree(), img, { type, blockSize, epoch: 1700000000, label: 'edge' });
        const r = fsck(img);
        if (r.code !== 0) console.log(r.out);
        expect(r.code).toBe(0);
      }, 120000);
    }
  }
});
