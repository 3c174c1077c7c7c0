/**
 * Reader, step five: the walk. Turns inodes into FileTree nodes (symlink
 * targets, device numbers, xattrs; file contents stay lazy) and walks the
 * directories from the root, refusing loops, hard-linked directories,
 * duplicate names and entries that point at reserved or unused inodes.
 */
import { FileTree } from '../../tree/tree.js';
import type { DirNode, NodeMeta, TreeNode } from '../../tree/types.js';
import { ext4Error } from './error.js';
import { decodeDevice } from './fields.js';
import type { Ext4Reader } from './read.js';
import type { Ext4Inode } from './readinode.js';
import { INODE_FLAGS, I_BLOCK_SIZE, ROOT_INO, SECTOR_SIZE } from './structs.js';

const MAX_SYMLINK = 65536;
const U32 = 0x100000000;
const dec = new TextDecoder('utf-8');

/**
 * i_blocks in 512-byte units as the kernel counts them (ext4_inode_blocks):
 * the high half only with huge_file, and in filesystem blocks when the
 * inode has HUGE_FILE_FL.
 */
function sectors(r: Ext4Reader, inode: Ext4Inode): number {
  if (!r.hugeFile) return inode.blocks % U32;
  return inode.flags & INODE_FLAGS.HUGE_FILE ? inode.blocks * (r.blockSize / SECTOR_SIZE) : inode.blocks;
}

/**
 * A symlink is "fast" (target in i_block) when it owns no data blocks, as
 * the kernel decides (ext4_inode_is_fast_symlink): i_blocks less what its
 * xattr block costs, one cluster (several blocks with bigalloc).
 */
function isFastSymlink(r: Ext4Reader, inode: Ext4Inode): boolean {
  if (inode.flags & INODE_FLAGS.EA_INODE) return inode.size > 0 && inode.size < I_BLOCK_SIZE;
  const xattrSectors = inode.fileAcl !== 0 ? r.clusterSize / SECTOR_SIZE : 0;
  return sectors(r, inode) - xattrSectors === 0;
}

function symlinkTarget(r: Ext4Reader, inode: Ext4Inode): string {
  if (inode.size === 0 || inode.size > MAX_SYMLINK)
    throw ext4Error('E_FORMAT_SYMLINK', `symlink inode ${inode.ino} has invalid length ${inode.size}`, {
      structure: 'ext4_inode',
      inode: inode.ino,
      field: 'i_size',
      actual: inode.size,
    });
  let bytes: Uint8Array;
  if (inode.flags & INODE_FLAGS.INLINE_DATA) bytes = r.readData(inode, 0, inode.size);
  else if (inode.size < I_BLOCK_SIZE && isFastSymlink(r, inode)) bytes = inode.iBlock.subarray(0, inode.size);
  else bytes = r.readData(inode, 0, inode.size);
  if (bytes.length !== inode.size || bytes.includes(0))
    throw ext4Error('E_FORMAT_SYMLINK', `symlink inode ${inode.ino} has a truncated or NUL-containing target`, {
      structure: 'ext4_inode',
      inode: inode.ino,
    });
  return dec.decode(bytes);
}

/** The metadata of a tree node for an inode. */
export function nodeMeta(r: Ext4Reader, inode: Ext4Inode): NodeMeta {
  return {
    mode: inode.mode & 0o7777,
    uid: inode.uid,
    gid: inode.gid,
    mtime: inode.mtime,
    atime: inode.atime,
    ctime: inode.ctime,
    xattrs: r.xattrs(inode),
  };
}

/** A tree node for an inode (directories come back with no children). */
export function inodeNode(r: Ext4Reader, inode: Ext4Inode): TreeNode {
  const t = inode.type;
  if (inode.flags & INODE_FLAGS.ENCRYPT)
    throw ext4Error('E_FORMAT_UNSUPPORTED', `inode ${inode.ino} is encrypted; this reader cannot decrypt it`, {
      structure: 'ext4_inode',
      inode: inode.ino,
      field: 'i_flags',
    });
  if (t === undefined || inode.mode === 0)
    throw ext4Error(
      'E_FORMAT_INODE',
      `inode ${inode.ino} has an invalid file type (mode 0o${inode.mode.toString(8)})`,
      {
        structure: 'ext4_inode',
        inode: inode.ino,
        field: 'i_mode',
        actual: inode.mode,
      },
    );
  const meta = nodeMeta(r, inode);
  switch (t) {
    case 'dir':
      return { type: 'dir', ...meta, children: new Map() };
    case 'file': {
      const max = r.maxFileSize(inode.flags);
      if (inode.size > max)
        throw ext4Error(
          'E_FORMAT_INODE',
          `inode ${inode.ino}: size ${inode.size} exceeds the largest file this filesystem can map (${max} bytes)`,
          { structure: 'ext4_inode', field: 'i_size', inode: inode.ino, actual: inode.size },
        );
      return { type: 'file', ...meta, content: r.content(inode) };
    }
    case 'symlink':
      return { type: 'symlink', ...meta, target: symlinkTarget(r, inode) };
    case 'chardev':
    case 'blockdev':
      return { type: t, ...meta, ...decodeDevice(inode.iBlock) };
    default:
      return { type: t, ...meta };
  }
}

/** The node for directory entry `name` -> `ino` of directory `dir`, after checking the entry may point there. */
function entryNode(r: Ext4Reader, dir: Ext4Inode, name: string, ino: number, dirs: Set<number>): [TreeNode, Ext4Inode] {
  const where = { structure: 'ext4_dir_entry_2', inode: dir.ino, field: 'inode', actual: ino };
  if (dirs.has(ino))
    throw ext4Error(
      'E_FORMAT_LOOP',
      `directory inode ${ino} is reachable twice (directory loop or hard-linked directory), seen again in directory inode ${dir.ino}`,
      where,
    );
  if (ino < r.firstInode && ino !== ROOT_INO)
    throw ext4Error(
      'E_FORMAT_DIRENT',
      `directory inode ${dir.ino}: ${JSON.stringify(name)} points at reserved inode ${ino}`,
      where,
    );
  const ci = r.inode(ino);
  if (ci.linksCount === 0 || ci.mode === 0)
    throw ext4Error(
      'E_FORMAT_DIRENT',
      `directory inode ${dir.ino}: ${JSON.stringify(name)} points at unused inode ${ino}`,
      where,
    );
  return [inodeNode(r, ci), ci];
}

/** Read the whole directory tree (file contents stay lazy). */
export function walkTree(r: Ext4Reader): FileTree {
  const tree = new FileTree();
  const rootInode = r.inode(ROOT_INO);
  if (rootInode.type !== 'dir')
    throw ext4Error('E_FORMAT_INODE', `the root inode is not a directory (mode 0o${rootInode.mode.toString(8)})`, {
      structure: 'ext4_inode',
      inode: ROOT_INO,
      field: 'i_mode',
    });
  Object.assign(tree.root, nodeMeta(r, rootInode));
  const shared = new Map<number, TreeNode>();
  const dirs = new Set<number>([ROOT_INO]);
  const stack: Array<[DirNode, Ext4Inode]> = [[tree.root, rootInode]];
  while (stack.length) {
    const [dnode, dinode] = stack.pop()!;
    for (const e of r.readDir(dinode)) {
      if (dnode.children.has(e.name))
        throw ext4Error('E_FORMAT_DIRENT', `directory inode ${dinode.ino} lists ${JSON.stringify(e.name)} twice`, {
          structure: 'ext4_dir_entry_2',
          inode: dinode.ino,
          field: 'inode',
          actual: e.ino,
        });
      let node = shared.get(e.ino);
      if (!node) {
        const [n, ci] = entryNode(r, dinode, e.name, e.ino, dirs);
        node = n;
        if (node.type === 'dir') {
          dirs.add(e.ino);
          stack.push([node, ci]);
        } else shared.set(e.ino, node);
      }
      dnode.children.set(e.name, node);
    }
  }
  return tree;
}
