/**
 * The worker's pure parts, in Node: the sparse piece device and the Blob
 * spool against plain memory, the cached random source against its backing
 * bytes, folder trees, and every output format of buildImage read back.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { MemoryDevice } from '../../src/core/io/device.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { bytesContent } from '../../src/core/tree/content.js';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import { openExt4 } from '../../src/core/fs/ext4/index.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { openSquashfs } from '../../src/core/fs/squashfs/index.js';
import { openErofs } from '../../src/core/fs/erofs/index.js';
import { openIso9660 } from '../../src/core/fs/iso9660/index.js';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { readTar } from '../../src/core/archive/tar/index.js';
import { treeArb } from '../helpers/arbitrary.js';
import { BlobSpool, SparseDevice } from '../../web/src/worker/store.js';
import { RandomSource, WINDOW } from '../../web/src/worker/source.js';
import { treeFromFolder } from '../../web/src/worker/folder.js';
import { buildImage, checkImageOptions } from '../../web/src/worker/build.js';
import { silentProgress } from '../../src/core/progress.js';
import type { Format } from '../../web/src/protocol.js';

const blobBytes = async (b: Blob) => new Uint8Array(await b.arrayBuffer());
/** Byte equality without vitest's element-by-element diffing (slow on megabytes). */
function expectBytes(a: Uint8Array, b: Uint8Array): void {
  expect(a.length).toBe(b.length);
  const i = Buffer.from(a.buffer, a.byteOffset, a.length).compare(Buffer.from(b.buffer, b.byteOffset, b.length));
  expect(i, 'bytes differ').toBe(0);
}

async function expectSame(a: FileTree, b: FileTree, opts: DiffOptions = {}): Promise<void> {
  expect(formatDiff(await diffTrees(a, b, opts))).toBe('');
}

describe('SparseDevice', () => {
  const write = fc.record({ at: fc.nat(9000), data: fc.uint8Array({ maxLength: 3000 }), zero: fc.boolean() });

  it('reads and hands over exactly what plain memory holds, allocating only pieces with data', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(write, { maxLength: 30 }), fc.nat(12000), async (writes, extra) => {
        const size = 9000 + extra;
        const dev = new SparseDevice(size, 1024);
        const mem = new MemoryDevice(size);
        for (const w of writes) {
          const data = w.zero ? new Uint8Array(w.data.length) : w.data;
          if (w.at + data.length > size) {
            expect(() => dev.writeAt(w.at, data)).toThrow(RangeError);
            continue;
          }
          dev.writeAt(w.at, data);
          mem.writeAt(w.at, data);
        }
        expectBytes(dev.readAt(0, size), mem.bytes);
        // every piece holding data is allocated (the last one may be short); no more than all of them
        let withData = 0;
        for (let p = 0; p < size; p += 1024) {
          const piece = mem.bytes.subarray(p, p + 1024);
          if (piece.some((b) => b !== 0)) withData += piece.length;
        }
        expect(dev.allocated).toBeGreaterThanOrEqual(withData);
        expect(dev.allocated).toBeLessThanOrEqual(size);
        expectBytes(await blobBytes(dev.toBlob()), mem.bytes);
      }),
      { numRuns: 60 },
    );
  });

  it('keeps holes: a 1 GiB device written in two places holds two pieces', async () => {
    const dev = new SparseDevice(1 << 30);
    dev.writeAt(1024, new Uint8Array([1, 2, 3]));
    dev.writeAt((1 << 30) - 2, new Uint8Array([9, 9]));
    dev.writeAt(200 << 20, new Uint8Array(8 << 20)); // zeros into holes allocate nothing
    expect(dev.allocated).toBe(2 * (4 << 20));
    const blob = dev.toBlob();
    expect(blob.size).toBe(1 << 30);
    expect(await blobBytes(blob.slice(1024, 1027))).toEqual(new Uint8Array([1, 2, 3]));
    expect(await blobBytes(blob.slice((1 << 30) - 3))).toEqual(new Uint8Array([0, 9, 9]));
  });

  it('refuses bad sizes, reads past the end and use after the hand-over, with typed errors', () => {
    expect(() => new SparseDevice(-1)).toThrow(expect.objectContaining({ code: 'E_USAGE_SIZE' }));
    expect(() => new SparseDevice(4096, 1000)).toThrow(expect.objectContaining({ code: 'E_USAGE_PIECE' }));
    const dev = new SparseDevice(4096, 1024);
    expect(() => dev.readAt(4000, 100)).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
    dev.toBlob();
    expect(() => dev.readAt(0, 1)).toThrow(expect.objectContaining({ code: 'E_USAGE_RELEASED' }));
    expect(() => dev.toBlob()).toThrow(expect.objectContaining({ code: 'E_USAGE_RELEASED' }));
  });
});

describe('BlobSpool', () => {
  it('ends as the concatenation of its chunks, head patches applied', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ maxLength: 2500 }), { maxLength: 20 }),
        fc.uint8Array({ minLength: 1, maxLength: 96 }),
        async (chunks, patch) => {
          const spool = new BlobSpool(1024);
          const all: number[] = [];
          for (const c of chunks) {
            spool.write(c);
            all.push(...c);
          }
          expect(spool.length).toBe(all.length);
          expect(spool.held).toBeLessThanOrEqual(2048);
          if (all.length >= patch.length) {
            spool.patch(0, patch);
            all.splice(0, patch.length, ...patch);
          }
          expectBytes(await blobBytes(spool.finish()), Uint8Array.from(all));
        },
      ),
      { numRuns: 60 },
    );
  });

  it('refuses patches of sealed bytes, growth past its limit and writes after finish', () => {
    const spool = new BlobSpool(512, 2000);
    spool.write(new Uint8Array(1500));
    expect(() => spool.patch(600, new Uint8Array(4))).toThrow(expect.objectContaining({ code: 'E_USAGE_PATCH' }));
    spool.patch(1100, new Uint8Array(4)); // the piece being filled
    expect(() => spool.write(new Uint8Array(501))).toThrow(expect.objectContaining({ code: 'E_SPACE_SPOOL' }));
    spool.finish();
    expect(() => spool.write(new Uint8Array(1))).toThrow(expect.objectContaining({ code: 'E_USAGE_RELEASED' }));
  });
});

describe('RandomSource', () => {
  const backing = new Uint8Array(3 * WINDOW + 777);
  for (let i = 0; i < backing.length; i++) backing[i] = (i * 13) ^ (i >> 11);

  it('reads what the backing bytes hold, at any offset and length', () => {
    const src = new RandomSource(backing.length, (s, e) => backing.slice(s, e));
    fc.assert(
      fc.property(fc.nat(backing.length), fc.nat(2 * WINDOW), (at, n) => {
        const len = Math.min(n, backing.length - at);
        expectBytes(src.readAt(at, len), backing.subarray(at, at + len));
      }),
      { numRuns: 200 },
    );
  });

  it('serves small sequential reads (tar headers) from cached windows', () => {
    const src = new RandomSource(backing.length, (s, e) => backing.slice(s, e));
    for (let at = 0; at + 512 <= backing.length; at += 512) src.readAt(at, 512);
    expect(src.reads).toBe(4);
  });

  it('reports a file that changed under it and refuses writes, with typed errors', () => {
    const short = new RandomSource(backing.length, (s, e) => backing.slice(s, Math.min(e, 1000)));
    expect(() => short.readAt(0, 2000)).toThrow(expect.objectContaining({ code: 'E_USAGE_SOURCE_CHANGED' }));
    expect(() => short.readAt(backing.length, 1)).toThrow(expect.objectContaining({ code: 'E_IO_RANGE' }));
    expect(() => short.writeAt()).toThrow(expect.objectContaining({ code: 'E_USAGE_READ_ONLY' }));
  });
});

describe('treeFromFolder', () => {
  const file = (text: string, lastModified: number) => Object.assign(new Blob([text]), { lastModified });

  it("makes the picked folder's contents the root: 0644 files, 0755 directories, 0:0, the files' times", () => {
    const tree = treeFromFolder(
      [
        { path: 'esp/EFI/BOOT/BOOTX64.EFI', file: file('pe', 1700000000500) },
        { path: 'esp/README', file: file('hi', 1600000000000) },
      ],
      (b) => ({ size: b.size, stream: async function* () {} }),
    );
    expect([...tree.walk()].map((e) => e.path)).toEqual(['/', '/EFI', '/EFI/BOOT', '/EFI/BOOT/BOOTX64.EFI', '/README']);
    const efi = tree.get('/EFI/BOOT/BOOTX64.EFI')!;
    expect({ mode: efi.mode, uid: efi.uid, gid: efi.gid, mtime: efi.mtime }).toEqual({
      mode: 0o644,
      uid: 0,
      gid: 0,
      mtime: { sec: 1700000000, nsec: 500_000_000 },
    });
    expect(tree.get('/EFI')!.mode).toBe(0o755);
    expect(tree.get('/EFI')!.mtime.sec).toBe(1700000000);
    expect(() => treeFromFolder([{ path: 'loose', file: file('', 0) }], () => bytesContent(''))).toThrow(
      expect.objectContaining({ code: 'E_USAGE_FOLDER' }),
    );
  });
});

describe('buildImage', () => {
  /** A tree with a file larger than two pieces, so images cross piece boundaries. */
  function bigTree(): FileTree {
    const tree = new FileTree({ defaultTime: 1700000000 });
    tree.addFile('/etc/hostname', 'tiny\n');
    tree.addFile(
      '/big',
      Uint8Array.from({ length: (9 << 20) + 5 }, (_, i) => (i * 7) >> 4),
    );
    tree.addSymlink('/bin/sh', 'busybox');
    tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
    return tree;
  }
  const opts = (format: Format, more: { size?: string; label?: string } = {}) => ({
    format,
    progress: silentProgress,
    warn: () => undefined,
    ...more,
  });
  const dev = async (b: Blob) => new MemoryDevice(await blobBytes(b));

  it('writes every format so that our readers give the tree back', async () => {
    const tree = bigTree();
    const ext4 = await buildImage(tree, opts('ext4', { label: 'x' }));
    await expectSame(tree, openExt4(await dev(ext4.blob)).tree);
    const ext2 = await buildImage(tree, opts('ext2', { size: '32M' }));
    expect(ext2.bytes).toBe(32 << 20);
    expect(openExt4(await dev(ext2.blob)).info.type).toBe('ext2');
    const fatTree = new FileTree({ defaultTime: 1700000000 });
    fatTree.addFile('/BIG.BIN', (tree.get('/big') as { content: ReturnType<typeof bytesContent> }).content);
    const fat = await buildImage(fatTree, opts('fat32', { label: 'ESP' }));
    await expectSame(fatTree, openFat(await dev(fat.blob)).tree, { ignoreFields: ['mode', 'uid', 'gid'] });
    const cpio = await buildImage(tree, opts('cpio.gz'));
    await expectSame(tree, await readCpioTree([await blobBytes(cpio.blob)]));
    const tar = await buildImage(tree, opts('tar'));
    await expectSame(tree, readTar(await dev(tar.blob)).tree);
    const sq = await buildImage(tree, opts('squashfs'));
    expect(sq.held).toBeLessThanOrEqual(8 << 20);
    await expectSame(tree, openSquashfs(await dev(sq.blob)).tree);
    const erofs = await buildImage(tree, opts('erofs', { label: 'web' }));
    const ev = openErofs(await dev(erofs.blob));
    expect(ev.info.label).toBe('web');
    await expectSame(tree, ev.tree);
    const iso = await buildImage(tree, opts('iso9660', { label: 'WEB' }));
    const iv = openIso9660(await dev(iso.blob));
    expect(iv.info.label).toBe('WEB');
    await expectSame(tree, iv.tree);
    // a size given to a format whose plan fixes its size is a limit
    await expect(buildImage(tree, opts('erofs', { size: '64K' }))).rejects.toThrow(
      expect.objectContaining({ code: 'E_SPACE_SPOOL' }),
    );
  }, 60_000);

  it('round-trips random trees through ext4 and squashfs', async () => {
    await fc.assert(
      fc.asyncProperty(
        treeArb({ maxEntries: 25, xattrNames: [] }),
        fc.constantFrom<Format>('ext4', 'squashfs'),
        async (tree, f) => {
          const img = await buildImage(tree, opts(f));
          const back = f === 'ext4' ? openExt4(await dev(img.blob)).tree : openSquashfs(await dev(img.blob)).tree;
          await expectSame(tree, back);
        },
      ),
      { numRuns: 20 },
    );
  }, 60_000);

  it('checks the options before reading anything, with typed errors', async () => {
    expect(() => checkImageOptions({ format: 'zip' as Format })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_ENUM' }),
    );
    expect(() => checkImageOptions({ format: 'tar', label: 'x' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_LABEL' }),
    );
    expect(() => checkImageOptions({ format: 'ext4', size: 'big' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_SIZE' }),
    );
    expect(checkImageOptions({ format: 'ext4', size: ' 64M ' })).toBe(64 << 20);
    expect(checkImageOptions({ format: 'ext4', size: '' })).toBeUndefined();
    await expect(buildImage(bigTree(), opts('ext4', { size: '1M' }))).rejects.toMatchObject({ name: 'CapacityError' });
    await expect(buildImage(bigTree(), opts('tar', { size: '1M' }))).rejects.toMatchObject({ code: 'E_SPACE_SPOOL' });
  });
});
