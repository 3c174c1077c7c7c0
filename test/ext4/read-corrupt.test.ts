/**
 * Corruption tests for the ext4 reader: flipped checksums name the structure
 * and where it is; forged structures with valid checksums (extent depth,
 * cycles, directory loops, rec_len, huge counts, block numbers past the
 * device) give typed FormatErrors, fast.
 */
import { describe, expect, it } from 'vitest';
import { isTinyImageError } from '../../src/core/errors.js';
import { Ext4Reader, openExt4, type Ext4Inode } from '../../src/core/fs/ext4/read.js';
import { dirBlockCsum, extentBlockCsum, inodeCsum, superblockCsum } from '../../src/core/fs/ext4/csum.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readContent } from '../../src/core/tree/content.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import { expectSameTree, fixtureBytes } from './read-helpers.js';

const u32 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint32(o, true);
const u16 = (b: Uint8Array, o: number) => new DataView(b.buffer, b.byteOffset).getUint16(o, true);
const put32 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(o, v >>> 0, true);
const put16 = (b: Uint8Array, o: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint16(o, v, true);

/** Everything a test needs to locate and re-checksum structures of an image. */
function image(name: string) {
  const bytes = fixtureBytes(name);
  const r = new Ext4Reader(new MemoryDevice(bytes.slice()));
  const bs = r.blockSize;
  const inodeOffset = (ino: number) =>
    r.group(Math.floor((ino - 1) / r.inodesPerGroup)).inodeTable * bs + ((ino - 1) % r.inodesPerGroup) * r.inodeSize;
  return {
    bytes,
    r,
    bs,
    inodeOffset,
    lookup: (p: string) => r.lookup(p)!,
    fixSuperblock() {
      put32(bytes, 1024 + 0x3fc, superblockCsum(bytes.subarray(1024, 2048)));
    },
    fixInode(ino: Ext4Inode) {
      if (!r.metadataCsum) return;
      const off = inodeOffset(ino.ino);
      const hiFits = r.inodeSize > 128 && ino.extraIsize >= 4;
      const c = inodeCsum(ino.csumSeed, bytes, off, r.inodeSize);
      put16(bytes, off + 0x7c, c & 0xffff);
      if (hiFits) put16(bytes, off + 0x82, c >>> 16);
    },
    fixDirBlock(dir: Ext4Inode, block: number) {
      const b = bytes.subarray(block * bs, (block + 1) * bs);
      put32(b, bs - 4, dirBlockCsum(dir.csumSeed, b, 12));
    },
    fixExtentBlock(ino: Ext4Inode, block: number) {
      const b = bytes.subarray(block * bs, (block + 1) * bs);
      const max = u16(b, 4);
      put32(b, 12 + max * 12, extentBlockCsum(ino.csumSeed, b, max));
    },
    open(opts = {}) {
      return openExt4(new MemoryDevice(bytes), opts);
    },
  };
}

async function readAll(tree: FileTree): Promise<void> {
  for (const e of tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
}

/** Expect a typed FormatError with `code` (and data fields) within 2 s. */
async function expectFormatError(fn: () => unknown, code: string, data: Record<string, unknown> = {}): Promise<void> {
  const t0 = performance.now();
  let err: unknown;
  try {
    await fn();
  } catch (e) {
    err = e;
  }
  expect(performance.now() - t0).toBeLessThan(2000);
  expect(isTinyImageError(err), String(err)).toBe(true);
  expect((err as { code: string }).code, String(err)).toBe(code);
  expect((err as { data: Record<string, unknown> }).data).toMatchObject(data);
}

describe('flipped checksums name the structure', () => {
  it('superblock', async () => {
    const im = image('ext4-1k');
    im.bytes[1024 + 0x34] ^= 1;
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', { structure: 'superblock' });
    expect(() => im.open({ verify: false })).not.toThrow();
  });

  // the kernel mounts these read-only, and reading does not depend on them: warnings, same tree
  it('group descriptor (crc32c and crc16): a warning, the same tree', async () => {
    for (const name of ['ext4-1k', 'ext4-nocsum']) {
      const im = image(name);
      const want = im.open();
      expect(want.warnings).toEqual([]);
      im.bytes[2 * 1024 + 0xc] ^= 1; // group 0 free blocks count
      const got = im.open();
      expect(got.warnings).toEqual([
        expect.stringMatching(/^group descriptor checksum mismatch in 1 group\(s\) \(0\)/),
      ]);
      await expectSameTree(got.tree, want.tree, { skip: [] });
    }
  });

  it('block and inode bitmaps: a warning, the same tree', async () => {
    for (const [what, at] of [
      ['block', (im: ReturnType<typeof image>) => im.r.group(0).blockBitmap * im.bs + 3],
      ['inode', (im: ReturnType<typeof image>) => im.r.group(0).inodeBitmap * im.bs + 1],
    ] as const) {
      const im = image('ext4-1k');
      const want = im.open();
      im.bytes[at(im)] ^= 0x10;
      const got = im.open();
      expect(got.warnings).toEqual([
        `${what} bitmap checksum mismatch in 1 group(s) (0): reading does not use bitmaps (e2fsck repairs them)`,
      ]);
      await expectSameTree(got.tree, want.tree, { skip: [] });
    }
  });

  it('inode', async () => {
    const im = image('ext4-4k');
    const small = im.lookup('/small');
    im.bytes[im.inodeOffset(small.ino) + 0x10] ^= 1; // mtime
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', { structure: 'inode', inode: small.ino });
  });

  it('directory leaf and htree root', async () => {
    let im = image('ext4-1k');
    const dir = im.lookup('/dir');
    const blk = im.r.runs(dir)[0]!.physical;
    im.bytes[blk * im.bs + 30] ^= 1;
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', {
      structure: 'directory block',
      inode: dir.ino,
      block: blk,
    });
    im = image('ext4-1k');
    const big = im.lookup('/bigdir');
    const root = im.r.runs(big)[0]!.physical;
    im.bytes[root * im.bs + 0x30] ^= 1; // a dx entry hash
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', { structure: 'htree root', inode: big.ino });
  });

  it('extent block (when the file is read) and xattr block', async () => {
    let im = image('ext4-1k');
    const frag = im.lookup('/fragmented');
    const idx = u32(frag.iBlock, 12 + 4); // first index -> depth-1 block
    im.bytes[idx * im.bs + 20] ^= 1;
    const { tree } = im.open();
    const f = tree.get('/fragmented');
    if (f?.type !== 'file') throw new Error('no file');
    await expectFormatError(() => f.content.readAt!(0, 10), 'E_FORMAT_CHECKSUM', {
      structure: 'extent block',
      inode: frag.ino,
      block: idx,
    });
    im = image('ext4-1k');
    const med = im.lookup('/medium');
    im.bytes[med.fileAcl * im.bs + 100] ^= 1;
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', {
      structure: 'xattr block',
      inode: med.ino,
      block: med.fileAcl,
    });
  });
});

describe('forged structures with valid checksums', () => {
  it('extent depth > 5 in the inode', async () => {
    const im = image('ext4-1k');
    const frag = im.lookup('/fragmented');
    const off = im.inodeOffset(frag.ino) + 0x28;
    put16(im.bytes, off + 6, 6);
    im.fixInode(im.r.inode(frag.ino) && { ...frag });
    const { tree } = im.open();
    const f = tree.get('/fragmented');
    if (f?.type !== 'file') throw new Error('no file');
    await expectFormatError(() => readContent(f.content), 'E_FORMAT_EXTENT', { field: 'eh_depth', actual: 6 });
  });

  it('an extent node pointing at itself, and a shared extent node', async () => {
    let im = image('ext4-1k');
    let frag = im.lookup('/fragmented');
    let idx = u32(frag.iBlock, 12 + 4);
    // the depth-1 node's first index points back at itself
    put32(im.bytes, idx * im.bs + 12 + 4, idx);
    im.fixExtentBlock(frag, idx);
    let f = im.open().tree.get('/fragmented');
    if (f?.type !== 'file') throw new Error('no file');
    const ff = f;
    await expectFormatError(() => ff.content.dataRanges!(), 'E_FORMAT_LOOP', { inode: frag.ino, block: idx });
    // both indexes of the depth-1 node point at the same leaf
    im = image('ext4-1k');
    frag = im.lookup('/fragmented');
    idx = u32(frag.iBlock, 12 + 4);
    const nb = im.bytes.subarray(idx * im.bs, (idx + 1) * im.bs);
    expect(u16(nb, 2)).toBeGreaterThan(1);
    put32(nb, 12 + 12 + 4, u32(nb, 12 + 4));
    im.fixExtentBlock(frag, idx);
    f = im.open().tree.get('/fragmented');
    if (f?.type !== 'file') throw new Error('no file');
    const f2 = f;
    await expectFormatError(() => f2.content.readAt!(0, 1 << 20), 'E_FORMAT_LOOP', { inode: frag.ino });
  });

  it('directory loop: a subdirectory entry pointing at an ancestor', async () => {
    for (const target of ['/', '/dir']) {
      const im = image('ext4-1k');
      const dir = im.lookup('/dir');
      const sub = im.lookup('/dir/sub');
      const anc = im.lookup(target);
      const blk = im.r.runs(dir)[0]!.physical;
      const b = im.bytes.subarray(blk * im.bs, (blk + 1) * im.bs);
      let o = 0;
      while (u32(b, o) !== sub.ino) o += u16(b, o + 4);
      put32(b, o, anc.ino);
      im.fixDirBlock(dir, blk);
      await expectFormatError(() => im.open(), 'E_FORMAT_LOOP', { inode: dir.ino, actual: anc.ino });
    }
  });

  it('rec_len 0, rec_len past the block, name_len past rec_len', async () => {
    const cases: Array<[string, (b: Uint8Array, o: number) => void, string]> = [
      ['rec_len 0', (b, o) => put16(b, o + 4, 0), 'rec_len'],
      ['rec_len past end', (b, o) => put16(b, o + 4, 2000), 'rec_len'],
      [
        'name_len past rec_len',
        (b, o) => {
          b[o + 6] = 250;
        },
        'name_len',
      ],
    ];
    for (const [, mutate, field] of cases) {
      const im = image('ext4-1k');
      const dir = im.lookup('/dir');
      const blk = im.r.runs(dir)[0]!.physical;
      const b = im.bytes.subarray(blk * im.bs, (blk + 1) * im.bs);
      mutate(b, 24); // third record ('.' and '..' are 12 bytes each)
      im.fixDirBlock(dir, blk);
      await expectFormatError(() => im.open(), 'E_FORMAT_DIRENT', { inode: dir.ino, field });
    }
  });

  it('huge and inconsistent superblock counts fail before any allocation', async () => {
    const cases: Array<[number, number, string]> = [
      [0x0, 0xfffffff0, 'E_FORMAT_SUPERBLOCK'], // s_inodes_count
      [0x4, 0xfffffff0, 'E_FORMAT_TRUNCATED'], // s_blocks_count_lo
      [0x28, 0x7ffffff8, 'E_FORMAT_SUPERBLOCK'], // s_inodes_per_group
      [0x20, 0x7ffffff8, 'E_FORMAT_SUPERBLOCK'], // s_blocks_per_group
      [0x18, 40, 'E_FORMAT_SUPERBLOCK'], // s_log_block_size
    ];
    for (const [off, val, code] of cases) {
      const im = image('ext4-1k');
      put32(im.bytes, 1024 + off, val);
      im.fixSuperblock();
      await expectFormatError(() => im.open(), code);
    }
    const im = image('ext4-1k');
    await expectFormatError(
      () => openExt4(new MemoryDevice(im.bytes.slice(0, im.bytes.length / 2))),
      'E_FORMAT_TRUNCATED',
    );
    await expectFormatError(() => openExt4(new MemoryDevice(new Uint8Array(4096))), 'E_FORMAT_MAGIC');
  });

  it('a file size beyond what the filesystem can map', async () => {
    const im = image('ext4-1k');
    const large = im.lookup('/large');
    put32(im.bytes, im.inodeOffset(large.ino) + 0x6c, 0x100000); // i_size_high: 2^52 bytes
    im.fixInode(large);
    await expectFormatError(() => im.open(), 'E_FORMAT_INODE', { inode: large.ino, field: 'i_size' });
  });

  it('block numbers past the device', async () => {
    const im = image('ext4-4k');
    const large = im.lookup('/large');
    const off = im.inodeOffset(large.ino) + 0x28;
    expect(u16(im.bytes, off + 6)).toBe(0); // depth 0: the extent is in the inode
    put32(im.bytes, off + 12 + 8, 0x7ffffff0); // ee_start_lo
    im.fixInode(large);
    const f = im.open().tree.get('/large');
    if (f?.type !== 'file') throw new Error('no file');
    await expectFormatError(() => readContent(f.content), 'E_FORMAT_BLOCK_RANGE', { inode: large.ino });
  });

  it('directory blocks that repeat (ext2 block map pointing twice at one block)', async () => {
    const im = image('ext2-1k');
    const big = im.lookup('/bigdir');
    const off = im.inodeOffset(big.ino) + 0x28;
    expect(u32(im.bytes, off + 4)).not.toBe(0);
    put32(im.bytes, off + 4, u32(im.bytes, off + 8)); // logical block 1 := physical of logical block 2
    await expectFormatError(() => im.open(), 'E_FORMAT_DIRENT', { inode: big.ino });
  });

  it('indirect block cycle (ext2)', async () => {
    const im = image('ext2-1k');
    const sp = im.lookup('/sparse');
    const tind = u32(sp.iBlock, 14 * 4);
    expect(tind).toBeGreaterThan(0);
    // the triple-indirect block's used slot points back at itself
    const b = im.bytes.subarray(tind * im.bs, (tind + 1) * im.bs);
    put32(b, 0, tind);
    const f = im.open().tree.get('/sparse');
    if (f?.type !== 'file') throw new Error('no file');
    await expectFormatError(() => f.content.dataRanges!(), 'E_FORMAT_LOOP', { inode: sp.ino, block: tind });
  });

  it('entry pointing at an unused or reserved inode', async () => {
    const im = image('ext4-1k');
    const dir = im.lookup('/dir');
    const blk = im.r.runs(dir)[0]!.physical;
    const b = im.bytes.subarray(blk * im.bs, (blk + 1) * im.bs);
    put32(b, 24, 8); // the journal inode
    im.fixDirBlock(dir, blk);
    await expectFormatError(() => im.open(), 'E_FORMAT_DIRENT', { inode: dir.ino, actual: 8 });
    put32(b, 24, im.r.inodesCount - 1); // never used
    im.fixDirBlock(dir, blk);
    await expectFormatError(() => im.open(), 'E_FORMAT_DIRENT', { inode: dir.ino });
  });

  it('with verify off, a flipped checksum is ignored and data still reads', async () => {
    const im = image('ext4-1k');
    const small = im.lookup('/small');
    im.bytes[im.inodeOffset(small.ino) + 0x7c] ^= 0xff;
    await expectFormatError(() => im.open(), 'E_FORMAT_CHECKSUM', { structure: 'inode' });
    const { tree } = im.open({ verify: false });
    await readAll(tree);
  });
});
