// squashfs through the generic entry points: openImage detects it by its
// magic, the read-only view, the testing matchers and diffTrees work on it,
// and the CLI's ls, cat, inspect and extract read it.
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDisk, openImage } from '../../src/node/open.js';
import { writeSquashfsFile } from '../../src/node/squashfs/write.js';
import '../helpers/matchers.js';
import { expectCliReadsEdgeTree } from '../helpers/cli.js';
import { edgeTree } from '../ext4/helpers.js';
import { tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());
const tree = edgeTree({ bigDir: 100, sparseHuge: false });
const img = join(t.dir, 'edge.sqfs');
beforeAll(async () => {
  await writeSquashfsFile(tree, img, { mkfsTime: 1700000000 });
});

describe('squashfs through openImage and the CLI', () => {
  it('openImage detects squashfs and the matchers work on it', async () => {
    const v = await openImage(img);
    try {
      if (isDisk(v)) throw new Error('not a filesystem');
      expect(v.kind).toBe('squashfs');
      expect(v.info.compression).toBe('gzip');
      expect(v).toHaveEntry('/hello.txt', { type: 'file', mode: 0o644, owner: [1000, 100] });
      expect(new TextDecoder().decode(await v.readFile('/hello.txt'))).toBe('hello world\n');
      await expect(v).toMatchTree(tree, { ignoreFields: ['mtime'] });
    } finally {
      v.close();
    }
  });

  it('tinyimage ls, cat, inspect and extract read it', async () => {
    await expectCliReadsEdgeTree(img, /squashfs/, join(t.dir, 'x'));
  });
});
