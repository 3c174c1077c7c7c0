// Every squashfs on-disk table: contiguous fields, the kernel's sizes.
import { describe, expect, it } from 'vitest';
import { layoutProblems } from '../../src/core/binary/struct.js';
import * as S from '../../src/core/fs/squashfs/structs.js';

const SIZES: Array<[Parameters<typeof layoutProblems>[0], number]> = [
  [S.SUPERBLOCK, 96],
  [S.BASE_INODE, 16],
  [S.IPC_INODE, 20],
  [S.LIPC_INODE, 24],
  [S.DEV_INODE, 24],
  [S.LDEV_INODE, 28],
  [S.SYMLINK_INODE, 24],
  [S.REG_INODE, 32],
  [S.LREG_INODE, 56],
  [S.DIR_INODE, 32],
  [S.LDIR_INODE, 40],
  [S.DIR_INDEX, 12],
  [S.DIR_HEADER, 12],
  [S.DIR_ENTRY, 8],
  [S.FRAGMENT_ENTRY, 16],
  [S.XATTR_ENTRY, 4],
  [S.XATTR_VAL, 4],
  [S.XATTR_ID, 16],
  [S.XATTR_ID_TABLE, 16],
];

describe('squashfs struct tables', () => {
  for (const [s, size] of SIZES) {
    it(`${s.name} is ${size} bytes with no gaps or overlaps`, () => {
      expect(layoutProblems(s)).toEqual([]);
      expect(s.size).toBe(size);
    });
  }
  it('the superblock fields sit where squashfs_fs.h puts them', () => {
    expect(S.SUPERBLOCK.offsetOf('rootInode')).toBe(32);
    expect(S.SUPERBLOCK.offsetOf('lookupTableStart')).toBe(88);
    expect(S.LREG_INODE.offsetOf('xattr')).toBe(52);
    expect(S.LDIR_INODE.offsetOf('iCount')).toBe(32);
  });
  it('a table start of all ones reads as "no table"', () => {
    const b = S.SUPERBLOCK.encode({ lookupTableStart: S.INVALID_TABLE, xattrIdTableStart: S.INVALID_TABLE });
    expect([...b.subarray(88, 96)].every((x) => x === 0xff)).toBe(true);
    expect(S.SUPERBLOCK.decode(b).lookupTableStart).toBe(S.INVALID_TABLE);
  });
});
