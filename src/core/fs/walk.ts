import { joinPath } from '../tree/path.js';
import type { DirNode, TreeNode } from '../tree/types.js';

/**
 * Walks the directories of an image into tree nodes, depth first from the root, as the erofs and
 * squashfs readers do: each entry gets its path and is refused (`twice`) when its directory
 * already holds that name. `child` makes the entry's node (or reuses a hard-linked one) and
 * returns the inode to descend into when the node is a directory met for the first time.
 */
export function walkDirs<I, E extends { name: string }>(
  root: I,
  rootNode: DirNode,
  listing: (ino: I, path: string) => Iterable<E>,
  twice: (path: string, name: string, childPath: string) => Error,
  child: (e: E, childPath: string) => { node: TreeNode; descend?: I },
): void {
  const stack: Array<{ ino: I; node: DirNode; path: string }> = [{ ino: root, node: rootNode, path: '/' }];
  while (stack.length) {
    const { ino, node, path } = stack.pop()!;
    for (const e of listing(ino, path)) {
      const childPath = joinPath(path, e.name);
      if (node.children.has(e.name)) throw twice(path, e.name, childPath);
      const c = child(e, childPath);
      node.children.set(e.name, c.node);
      if (c.descend !== undefined && c.node.type === 'dir')
        stack.push({ ino: c.descend, node: c.node, path: childPath });
    }
  }
}
