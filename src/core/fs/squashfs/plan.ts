/**
 * The order squashfs metadata is written in, and what must be known before
 * the first inode: inode numbers, the uid/gid table and link counts.
 *
 * Inodes are emitted in post-order (a directory after everything under it),
 * because a directory's entries point at its children's inodes and its own
 * inode points at its entries. Numbers follow the same order, so the root
 * gets the highest number, and are assigned up front because a directory
 * inode names its parent's number before the parent is written.
 */
import { CapacityError } from '../../errors.js';
import { joinPath } from '../../tree/path.js';
import { sortedNames, type FileTree } from '../../tree/tree.js';
import type { DirNode, TreeNode } from '../../tree/types.js';
import { IDS_MAX } from './structs.js';

export type WalkEvent =
  | { kind: 'leaf'; node: Exclude<TreeNode, DirNode>; path: string }
  | { kind: 'dir'; node: DirNode; path: string; names: string[] };

/**
 * Non-directories as they are met, each directory once everything under it
 * has been met. Without `paths` every path is '' (no string per entry).
 */
export function* postOrder(root: DirNode, paths = true): Generator<WalkEvent> {
  const stack: Array<{ node: DirNode; path: string; names: string[]; i: number }> = [
    { node: root, path: '/', names: sortedNames(root), i: 0 },
  ];
  while (stack.length) {
    const f = stack[stack.length - 1]!;
    if (f.i === f.names.length) {
      stack.pop();
      yield { kind: 'dir', node: f.node, path: f.path, names: f.names };
      continue;
    }
    const name = f.names[f.i++]!;
    const child = f.node.children.get(name)!;
    const path = paths ? joinPath(f.path, name) : '';
    if (child.type === 'dir') stack.push({ node: child, path, names: sortedNames(child), i: 0 });
    else yield { kind: 'leaf', node: child, path };
  }
}

export interface Plan {
  /** Inode number of every distinct node (1..count, the root last). */
  numbers: Map<TreeNode, number>;
  count: number;
  /** Distinct regular files. */
  files: number;
  /** Names per non-directory node that has more than one (hard links). */
  links: Map<TreeNode, number>;
  /** uid/gid values in table order, and their index. */
  idList: number[];
  ids: Map<number, number>;
  bytes: number;
  dirs: number;
  newestMtime: number;
}

export function plan(tree: FileTree, allRoot: boolean): Plan {
  const numbers = new Map<TreeNode, number>();
  const links = new Map<TreeNode, number>();
  let files = 0;
  const idList: number[] = [];
  const ids = new Map<number, number>();
  let bytes = 0,
    dirs = 0,
    newest = -Infinity;
  const addId = (id: number) => {
    if (ids.has(id)) return;
    if (idList.length === IDS_MAX) {
      throw new CapacityError(
        'E_LIMIT_SQUASHFS_IDS',
        `squashfs holds at most ${IDS_MAX} distinct uid/gid values; id ${id} is one more`,
        { expected: IDS_MAX, actual: id },
      );
    }
    ids.set(id, idList.length);
    idList.push(id);
  };
  const first = (node: TreeNode) => {
    numbers.set(node, numbers.size + 1);
    addId(allRoot ? 0 : node.uid);
    addId(allRoot ? 0 : node.gid);
    if (node.mtime.sec > newest) newest = node.mtime.sec;
  };
  for (const e of postOrder(tree.root, false)) {
    if (e.kind === 'dir') {
      dirs++;
      first(e.node);
      continue;
    }
    if (numbers.has(e.node)) {
      links.set(e.node, (links.get(e.node) ?? 1) + 1);
      continue;
    }
    first(e.node);
    if (e.node.type === 'file') {
      files++;
      bytes += e.node.content.size;
    }
  }
  return { numbers, count: numbers.size, files, links, idList, ids, bytes, dirs, newestMtime: newest };
}
