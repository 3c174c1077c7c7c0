// GRUB 2.06 must read what we write (it is how the BIOS disk boots):
// grub-fstest runs GRUB's own ext2 driver in user space.
import { describe, expect, it, afterAll } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, run } from '../helpers/prereq.js';
import { readContent } from '../../src/core/tree/content.js';
import { edgeTree, tmp, writeImage } from './helpers.js';

const skip = missing({ tools: ['grub-fstest'] });
const t = tmp();
afterAll(() => t.cleanup());

describe.skipIf(skip)('GRUB 2.06 (grub-fstest) reads our images', () => {
  for (const [type, blockSize, features] of [
    ['ext4', 4096, ''],
    ['ext4', 1024, ''],
    ['ext3', 4096, ''],
    ['ext2', 1024, ''],
    ['ext4', 4096, '^metadata_csum,^64bit'],
  ] as const) {
    it(`${type} ${blockSize} ${features}: ls and file contents`, async () => {
      const tree = edgeTree({ bigDir: 1500, sparseHuge: false });
      const img = join(t.dir, `${type}-${blockSize}${features.replace(/\W/g, '_')}.img`);
      await writeImage(tree, img, { type, blockSize, features, epoch: 1700000000 });
      const ls = run('grub-fstest', [img, 'ls', '/']);
      expect(ls.code).toBe(0);
      for (const n of ['bigfile', 'fragmented', 'hello.txt', 'many/', 'lost+found/', 'empty/'])
        expect(ls.stdout.split(/\s+/)).toContain(n);
      const many = run('grub-fstest', [img, 'ls', '/many']).stdout.trim().split(/\s+/);
      expect(many.length).toBe(1500);
      for (const path of [
        '/bigfile',
        '/fragmented',
        '/etc/passwd',
        '/hello.txt',
        '/many/f1499-nnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnnn',
        '/d0/d1/d2/d3/d4/d5/d6/d7/d8/d9/d10/d11/d12/d13/d14/d15/d16/d17/d18/d19/d20/d21/d22/d23/d24/d25/d26/d27/d28/d29/d30/d31/d32/d33/d34/d35/d36/d37/d38/d39/d40/d41/d42/d43/d44/d45/d46/d47/d48/d49/d50/d51/d52/d53/d54/d55/d56/d57/d58/d59/d60/d61/d62/d63/d64/d65/d66/d67/d68/d69/d70/d71/d72/d73/d74/d75/d76/d77/d78/d79/d80/d81/d82/d83/d84/d85/d86/d87/d88/d89/d90/d91/d92/d93/d94/d95/d96/d97/d98/d99/deep',
      ]) {
        const node = tree.get(path);
        expect(node?.type, path).toBe('file');
        const out = join(t.dir, 'grub-out');
        const r = run('grub-fstest', [img, 'cp', path, out]);
        expect(r.code, `${path}: ${r.stderr}`).toBe(0);
        expect(
          Buffer.compare(
            readFileSync(out),
            Buffer.from(await readContent((node as { content: Parameters<typeof readContent>[0] }).content)),
          ),
          path,
        ).toBe(0);
      }
      expect(run('grub-fstest', [img, 'cat', '/fast']).stdout).toBe('hello world\n');
    }, 120000);
  }
});
