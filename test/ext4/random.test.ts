import { describe, expect, it, afterAll } from 'vitest';
import fc from 'fast-check';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import type { TreeNode } from '../../src/core/tree/types.js';
import { missing, run } from '../helpers/prereq.js';
import { treeArb as treeArbitrary } from '../helpers/arbitrary.js';
import { DEBUGFS_TYPE, debugfsStats, fsck, tmp, writeImage } from './helpers.js';

const skip = missing({ tools: ['e2fsck', 'debugfs'] });
const t = tmp();
afterAll(() => t.cleanup());

const treeArb = treeArbitrary();
const optsArb = fc.record({
  type: fc.constantFrom('ext4' as const, 'ext3' as const, 'ext2' as const),
  blockSize: fc.constantFrom(1024, 2048, 4096),
  inodeSize: fc.constantFrom(128, 256),
  features: fc.constantFrom(
    '',
    '^metadata_csum',
    '^has_journal',
    '^dir_index',
    '^flex_bg,^64bit',
    '^filetype',
    '+inline_data',
    '^sparse_super,^huge_file',
  ),
});

describe.skipIf(skip)('random trees (fast-check): e2fsck -fn and debugfs agree', () => {
  it('holds for random trees, types, block and inode sizes, feature toggles', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(treeArb, optsArb, async (tree, o) => {
        let features = o.type === 'ext4' ? o.features : o.features.replace(/\^flex_bg,\^64bit/, '');
        if (features === '+inline_data' && o.inodeSize === 128) features = '';
        const opts = { ...o, features };
        const img = join(t.dir, `r${n++}.img`);
        await writeImage(tree, img, { ...opts, epoch: 1700000000 });
        const r = fsck(img);
        if (r.code !== 0) console.log(JSON.stringify(opts), r.out.slice(0, 2000));
        expect(r.code).toBe(0);
        const entries = [...tree.walk()].filter((e) => e.path !== '/');
        const stats = debugfsStats(
          img,
          entries.map((e) => e.path),
          t.dir,
        );
        const links = tree.linkCounts();
        for (const e of entries) {
          const s = stats.get(e.path)!;
          const node: TreeNode = e.node;
          expect(s, e.path).toBeDefined();
          expect(s.type).toBe(DEBUGFS_TYPE[node.type]);
          expect(s.mode).toBe(node.mode);
          expect([s.uid, s.gid]).toEqual([node.uid, node.gid]);
          if (node.type !== 'dir') expect(s.links).toBe(links.get(node));
          if (node.type === 'file') {
            expect(s.size).toBe(node.content.size);
            if (node.content.size > 0 && node.content.size < 5000) {
              const f = join(t.dir, 'dump');
              run('debugfs', ['-R', `dump "${e.path}" ${f}`, img]);
              let dumped = readFileSync(f);
              // debugfs 1.47.0 dumps all 60 bytes of i_block for an inline-data
              // file, whatever its size (mke2fs -d images too): the rest must be zeros
              if (s.flags & 0x10000000 && dumped.length > node.content.size) {
                expect(dumped.subarray(node.content.size).every((b) => b === 0)).toBe(true);
                dumped = dumped.subarray(0, node.content.size);
              }
              expect(Buffer.compare(dumped, Buffer.from(node.content.readAt!(0, node.content.size)))).toBe(0);
            }
          }
          if (node.type === 'chardev' || node.type === 'blockdev')
            expect(s.dev).toEqual({ major: node.major, minor: node.minor });
          // an inline-data inode keeps its data's tail in the system.data xattr: not a user xattr
          expect([...s.xattrs.keys()].filter((k) => !(s.flags & 0x10000000 && k === 'system.data')).sort()).toEqual(
            [...node.xattrs.keys()].sort(),
          );
        }
      }),
      { numRuns: 25 },
    );
  }, 600000);
});
