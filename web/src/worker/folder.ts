/**
 * A folder picked in the page (<input webkitdirectory>) as a FileTree. The
 * browser gives files only, each with a path under the picked folder and a
 * modification time: no owners, modes, symlinks, devices or empty
 * directories. So files are 0644, directories 0755, everything is owned by
 * 0:0, and the picked folder's contents become the root (as `--root DIR`).
 * Contents stay in their Files until a writer reads them.
 */
import { FileTree } from '../../../src/core/tree/tree.js';
import type { Content } from '../../../src/core/tree/types.js';
import { UsageError } from '../../../src/core/errors.js';

export interface FolderEntry {
  /** "picked/sub/name", as File.webkitRelativePath has it. */
  path: string;
  file: Blob & { readonly lastModified: number };
}

const FILE_MODE = 0o644;
const DIR_MODE = 0o755;

export function treeFromFolder(entries: FolderEntry[], content: (file: Blob) => Content): FileTree {
  // directories get the newest file time, so the same folder gives the same image
  let newest = 0;
  for (const e of entries) newest = Math.max(newest, e.file.lastModified);
  const tree = new FileTree({ defaultTime: Math.floor(newest / 1000) });
  tree.mkdir('/', { mode: DIR_MODE, uid: 0, gid: 0 });
  for (const e of entries) {
    const parts = e.path.split('/').filter((c) => c !== '');
    if (parts.length < 2)
      throw new UsageError('E_USAGE_FOLDER', `${e.path}: expected a path inside the picked folder`, { path: e.path });
    const inner = parts.slice(1);
    for (let i = 1; i < inner.length; i++) {
      const dir = '/' + inner.slice(0, i).join('/');
      if (!tree.has(dir)) tree.mkdir(dir, { mode: DIR_MODE, uid: 0, gid: 0 });
    }
    const mtime = new Date(e.file.lastModified);
    tree.addFile('/' + inner.join('/'), content(e.file), { mode: FILE_MODE, uid: 0, gid: 0, mtime });
  }
  return tree;
}
