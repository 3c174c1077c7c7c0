/**
 * The reader: random trees round-trip (through our reader always, through
 * xorriso's extraction for a sample of them); continuation areas chained
 * over blocks; and damaged images give a typed error or a correct tree,
 * never a crash, a hang or a huge allocation.
 */
import { afterAll, describe, expect, test } from 'vitest';
import { join } from 'node:path';
import fc from 'fast-check';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { TinyImageError } from '../../src/core/errors.js';
import { iso9660Size, openIso9660, writeIso9660, type IsoOptions } from '../../src/core/fs/iso9660/index.js';
import { BLOCK, DIR_RECORD, VOLUME_DESCRIPTOR } from '../../src/core/fs/iso9660/structs.js';
import { treeArb } from '../helpers/arbitrary.js';
import { missing } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { expectExtractedTree, expectSameTree, isoKeeps, writeIsoFile, xorrisoExtract } from './helpers.js';

const tmp = tmpDir('tinyimage-isoread-');
afterAll(() => tmp.cleanup());

async function image(tree: FileTree, opts: IsoOptions = {}): Promise<Uint8Array> {
  const dev = new MemoryDevice(iso9660Size(tree, opts));
  await writeIso9660(tree, dev, opts);
  return dev.bytes;
}

/** A copy of a tree (the arbitrary's trees are changed by isoKeeps). */
function copy(t: FileTree): FileTree {
  const c = new FileTree();
  const map = new Map();
  const clone = (n: any): any => {
    if (map.has(n)) return map.get(n);
    const m = { ...n, mtime: { ...n.mtime }, atime: { ...n.atime }, ctime: { ...n.ctime }, xattrs: new Map(n.xattrs) };
    if (n.type === 'dir') m.children = new Map([...n.children].map(([k, v]) => [k, clone(v)]));
    map.set(n, m);
    return m;
  };
  Object.assign(c.root, clone(t.root));
  return c;
}

describe('random trees', () => {
  test('our reader gives back what the writer was given (times in seconds from 1900 to 2155, no xattrs)', async () => {
    await fc.assert(
      fc.asyncProperty(treeArb(), fc.constantFrom<IsoOptions['joliet']>(true, false, 'long'), async (tree, joliet) => {
        const bytes = await image(tree, { joliet, epoch: 1_700_000_000 });
        const v = openIso9660(new MemoryDevice(bytes));
        await expectSameTree(isoKeeps(copy(tree)), v.tree);
      }),
      { numRuns: 80 },
    );
  }, 60_000);

  const noXorriso = missing({ tools: ['xorriso'] }) ?? (process.getuid?.() === 0 ? undefined : 'needs root');
  test.skipIf(noXorriso)(
    'xorriso extracts them exactly (a sample)',
    async () => {
      let n = 0;
      await fc.assert(
        fc.asyncProperty(treeArb({ maxEntries: 25 }), async (tree) => {
          const path = join(tmp.dir, `r${n}.iso`);
          const expected = isoKeeps(copy(tree));
          await writeIsoFile(tree, path);
          const out = xorrisoExtract(path, join(tmp.dir, `r${n++}`));
          await expectExtractedTree(path, expected, out);
        }),
        { numRuns: 12, seed: 42 },
      );
    },
    120_000,
  );
});

describe('Rock Ridge at its limits', () => {
  test('a 3-KiB link target and 255-byte names: continuation areas chained over blocks', async () => {
    const t = new FileTree({ defaultTime: 1_700_000_000 });
    const target = 'segment/'.repeat(400) + 'end';
    for (let i = 0; i < 5; i++) t.addSymlink(`/${String(i).repeat(255)}`, target + i);
    t.mkdir('/d', { mode: 0o700 });
    const v = openIso9660(new MemoryDevice(await image(t)));
    await expectSameTree(isoKeeps(t), v.tree);
  });
});

/** A small image with every kind of entry, for damaging. */
async function victim(): Promise<Uint8Array> {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/a.txt', 'alpha\n'.repeat(100));
  t.addFile(
    '/dir/b.bin',
    new Uint8Array(5000).map((_, i) => i),
  );
  t.addSymlink('/dir/link', '../a.txt');
  t.addSymlink('/long', 'x/'.repeat(200));
  t.addDevice('/dev/null', 'char', 1, 3);
  t.addHardLink('/dir/hard', '/a.txt');
  let p = '';
  for (let i = 0; i < 10; i++) t.mkdir((p += `/d${i}`));
  t.addFile(`${p}/deep`, 'deep\n');
  return image(t, { label: 'VICTIM' });
}

/** Open and read everything; the only acceptable failure is a typed error. */
async function readAll(bytes: Uint8Array): Promise<void> {
  try {
    const v = openIso9660(new MemoryDevice(bytes));
    for (const e of v.tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
  } catch (e) {
    if (!(e instanceof TinyImageError)) throw e;
  }
}

describe('damaged images', () => {
  test('flipped bytes in the descriptors, path tables, directories and continuation areas', async () => {
    const good = await victim();
    const meta = 40 * BLOCK;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.integer({ min: 16 * BLOCK, max: meta - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (flips) => {
          const b = good.slice();
          for (const [at, x] of flips) b[at] ^= x;
          await readAll(b);
        },
      ),
      { numRuns: 400 },
    );
  }, 60_000);

  test('truncated anywhere', async () => {
    const good = await victim();
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: good.length - 1 }), async (n) => readAll(good.slice(0, n))),
      { numRuns: 200 },
    );
  });

  const expectCode = async (bytes: Uint8Array, code: string, what = code) => {
    let err: unknown;
    try {
      const v = openIso9660(new MemoryDevice(bytes));
      for (const e of v.tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
    } catch (e) {
      err = e;
    }
    expect(err, what).toBeInstanceOf(TinyImageError);
    expect((err as TinyImageError).code).toBe(code);
  };
  /** The root directory record of the primary descriptor, and the root's extent. */
  const rootOf = (b: Uint8Array) => {
    const at = 16 * BLOCK + VOLUME_DESCRIPTOR.offsetOf('rootRecord');
    return { at, extent: DIR_RECORD.decode(b, at).extentLe };
  };
  const setBoth32 = (b: Uint8Array, at: number, v: number) => {
    new DataView(b.buffer, b.byteOffset).setUint32(at, v, true);
    new DataView(b.buffer, b.byteOffset).setUint32(at + 4, v, false);
  };

  test('hostile sizes, offsets and loops give named errors', async () => {
    const good = await victim();
    // no descriptor at block 16
    await expectCode(good.slice().fill(0, 16 * BLOCK, 17 * BLOCK), 'E_FORMAT_ISO_MAGIC');
    // a 512-byte logical block
    const bs = good.slice();
    new DataView(bs.buffer).setUint16(16 * BLOCK + VOLUME_DESCRIPTOR.offsetOf('blockSizeLe'), 512, true);
    await expectCode(bs, 'E_FORMAT_ISO_BLOCK_SIZE');
    // a root directory of 4 GiB
    const huge = good.slice();
    setBoth32(huge, rootOf(huge).at + DIR_RECORD.offsetOf('dataLengthLe'), 0xfffff800);
    await expectCode(huge, 'E_FORMAT_ISO_EXTENT');
    // a subdirectory that is the root again: find /dir's record in the root and point it at the root
    const loop = good.slice();
    const { extent } = rootOf(loop);
    const root = loop.subarray(extent * BLOCK, (extent + 1) * BLOCK);
    for (let o = 0; o < BLOCK && root[o]; o += root[o]!) {
      const r = DIR_RECORD.decode(root, o);
      if (r.nameLength === 3 && String.fromCharCode(...root.subarray(o + 33, o + 36)) === 'DIR')
        setBoth32(root, o + DIR_RECORD.offsetOf('extentLe'), extent);
    }
    await expectCode(loop, 'E_FORMAT_ISO_LOOP');
    // an identifier longer than its record
    const rec = good.slice();
    const dirBlock = rec.subarray(extent * BLOCK, (extent + 1) * BLOCK);
    for (let o = 0; o < BLOCK && dirBlock[o]; o += dirBlock[o]!)
      if (String.fromCharCode(...dirBlock.subarray(o + 33, o + 40)) === 'A.TXT;1') dirBlock[o + 32] = 200;
    await expectCode(rec, 'E_FORMAT_ISO_RECORD');
    // a file whose extent lies past the end of the image
    const past = good.slice();
    for (let o = 0; o < BLOCK && root[o]; o += root[o]!)
      if (String.fromCharCode(...past.subarray(extent * BLOCK + o + 33, extent * BLOCK + o + 40)) === 'A.TXT;1')
        setBoth32(past, extent * BLOCK + o + DIR_RECORD.offsetOf('extentLe'), 0x7fffffff);
    await expectCode(past, 'E_FORMAT_ISO_EXTENT');
  });

  test('a continuation area that points at itself ends, with a typed error', async () => {
    const t = new FileTree();
    t.addSymlink('/l', 'y/'.repeat(300));
    const b = await image(t, { joliet: false });
    // the CE entry: find "CE" in the root's records and make the area point back into the same block
    const { extent } = rootOf(b);
    const dir = b.subarray(extent * BLOCK, (extent + 1) * BLOCK);
    let ce = -1;
    for (let o = 0; o + 1 < BLOCK; o++) if (dir[o] === 0x43 && dir[o + 1] === 0x45 && dir[o + 2] === 28) ce = o;
    expect(ce).toBeGreaterThan(0);
    const view = new DataView(dir.buffer, dir.byteOffset);
    const at = view.getUint32(ce + 4, true) * BLOCK + view.getUint32(ce + 12, true);
    // the continuation area's first bytes become a CE to itself
    b.set(dir.subarray(ce, ce + 28), at);
    await expectCode(b, 'E_FORMAT_ISO_SUSP');
  });
});
