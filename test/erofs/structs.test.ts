// Every EROFS on-disk table: contiguous fields, the kernel's sizes (erofs_fs.h's BUILD_BUG_ONs).
import { describe, expect, it } from 'vitest';
import { layoutProblems } from '../../src/core/binary/struct.js';
import * as S from '../../src/core/fs/erofs/structs.js';

const SIZES: Array<[Parameters<typeof layoutProblems>[0], number]> = [
  [S.SUPERBLOCK, 128],
  [S.INODE_COMPACT, 32],
  [S.INODE_EXTENDED, 64],
  [S.XATTR_IBODY_HEADER, 12],
  [S.XATTR_ENTRY, 4],
  [S.DIRENT, 12],
  [S.CHUNK_INDEX, 8],
];

describe('EROFS struct tables', () => {
  for (const [s, size] of SIZES) {
    it(`${s.name} is ${size} bytes with no gaps or overlaps`, () => {
      expect(layoutProblems(s)).toEqual([]);
      expect(s.size).toBe(size);
    });
  }
  it('fields sit where erofs_fs.h puts them', () => {
    expect(S.SUPERBLOCK.offsetOf('rootNid')).toBe(0x0e);
    expect(S.SUPERBLOCK.offsetOf('metaBlkaddr')).toBe(0x28);
    expect(S.SUPERBLOCK.offsetOf('uuid')).toBe(0x30);
    expect(S.SUPERBLOCK.offsetOf('featureIncompat')).toBe(0x50);
    expect(S.SUPERBLOCK.offsetOf('packedNid')).toBe(0x60);
    expect(S.INODE_COMPACT.offsetOf('u')).toBe(0x10);
    expect(S.INODE_COMPACT.offsetOf('uid')).toBe(0x18);
    expect(S.INODE_EXTENDED.offsetOf('mtime')).toBe(0x20);
    expect(S.INODE_EXTENDED.offsetOf('nlink')).toBe(0x2c);
    expect(S.DIRENT.offsetOf('fileType')).toBe(0x0a);
  });
  it('times before 1970 survive as signed 64-bit seconds', () => {
    const b = S.INODE_EXTENDED.encode({ mtime: -1000 });
    expect(S.INODE_EXTENDED.decode(b).mtime).toBe(-1000);
    expect([...b.subarray(0x20, 0x28)]).toEqual([0x18, 0xfc, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]);
  });
});
