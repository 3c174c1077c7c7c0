/**
 * A read-only filesystem view over a FileTree: readdir, stat (follows
 * symlinks inside the tree), lstat, readFile, readlink, walk. What
 * openImage() returns for every filesystem and archive.
 */
import { PathError } from '../errors.js';
import { readContent } from '../tree/content.js';
import { joinPath, splitPath } from '../tree/path.js';
import { sortedNames, type FileTree, type WalkEntry } from '../tree/tree.js';
import type { TreeNode } from '../tree/types.js';

const MAX_SYMLINKS = 40;

export class TreeView {
  constructor(readonly tree: FileTree) {}

  /** The node at `path`, not following a final symlink. */
  lstat(path: string): TreeNode {
    return this.resolve(path, false);
  }

  /** The node at `path`, following symlinks (within the tree). */
  stat(path: string): TreeNode {
    return this.resolve(path, true);
  }

  exists(path: string): boolean {
    try {
      this.lstat(path);
      return true;
    } catch {
      return false;
    }
  }

  readdir(path = '/'): string[] {
    const n = this.stat(path);
    if (n.type !== 'dir') throw new PathError('E_PATH_NOT_DIR', `${path} is not a directory`, { path });
    return sortedNames(n);
  }

  readlink(path: string): string {
    const n = this.lstat(path);
    if (n.type !== 'symlink') throw new PathError('E_PATH_NOT_SYMLINK', `${path} is not a symbolic link`, { path });
    return n.target;
  }

  async readFile(path: string): Promise<Uint8Array> {
    const n = this.stat(path);
    if (n.type !== 'file')
      throw new PathError('E_PATH_NOT_FILE', `${path} is not a regular file (${n.type})`, { path });
    return readContent(n.content);
  }

  walk(): Generator<WalkEntry> {
    return this.tree.walk();
  }

  private resolve(path: string, followLast: boolean): TreeNode {
    let parts = splitPath(path);
    let hops = 0;
    let node: TreeNode = this.tree.root;
    const stack: TreeNode[] = [];
    let i = 0;
    while (i < parts.length) {
      if (node.type !== 'dir')
        throw new PathError('E_PATH_NOT_DIR', `${path}: ${'/' + parts.slice(0, i).join('/')} is not a directory`, {
          path,
        });
      const next = node.children.get(parts[i]!);
      if (!next) throw new PathError('E_PATH_NOT_FOUND', `${path}: no such file or directory`, { path });
      const last = i === parts.length - 1;
      if (next.type === 'symlink' && (!last || followLast)) {
        if (++hops > MAX_SYMLINKS)
          throw new PathError('E_PATH_LOOP', `${path}: too many levels of symbolic links`, { path });
        const base = next.target.startsWith('/') ? [] : parts.slice(0, i);
        const rest = parts.slice(i + 1);
        // resolve '..' lexically against the link's directory, clamped at the root
        const combined: string[] = [];
        for (const c of [...base, ...next.target.split('/'), ...rest]) {
          if (c === '' || c === '.') continue;
          if (c === '..') combined.pop();
          else combined.push(c);
        }
        parts = combined;
        node = this.tree.root;
        stack.length = 0;
        i = 0;
        continue;
      }
      stack.push(node);
      node = next;
      i++;
    }
    return node;
  }
}

export { joinPath };
