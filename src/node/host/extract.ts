/**
 * Safe extraction of a FileTree into a host directory. Never writes outside
 * DIR, whatever the image said:
 * - the tree model already forbids '..', absolute names and duplicates
 *   (readers normalise names; a hostile name fails when the tree is built);
 * - every entry is created with exclusive/no-follow opens under a directory
 *   this function created itself, and the parent chain is re-checked with
 *   lstat (a symlink in the way is an error, never followed);
 * - symlinks are created last, so no later entry can be written through one;
 * - device nodes, FIFOs and sockets are only made through the `mknod`
 *   callback (root only; the CLI supplies one), otherwise skipped with a warning.
 */
import {
  chmodSync,
  renameSync,
  rmSync,
  chownSync,
  lchownSync,
  closeSync,
  constants,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  openSync,
  readdirSync,
  symlinkSync,
  writeSync,
  existsSync,
  realpathSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { PathError } from '../../core/errors.js';
import type { FileTree } from '../../core/tree/tree.js';
import { splitPath } from '../../core/tree/path.js';
import type { TreeNode } from '../../core/tree/types.js';
import { hostError } from '../io/file.js';

export interface ExtractOptions {
  /** Set owners (only works as root; default: when running as root). */
  owners?: boolean;
  /** Create device nodes / FIFOs; called with the host path. Without it they are skipped with a warning. */
  mknod?: (path: string, node: TreeNode) => void | Promise<void>;
  warn?: (message: string) => void;
  /** Allow a non-empty target directory (entries must still not exist). */
  allowNonEmpty?: boolean;
}

export interface ExtractResult {
  entries: number;
  skipped: string[];
}

/**
 * Extract `tree` into `dir` (new or empty, or any directory with
 * `allowNonEmpty`). Everything is written into a temporary directory beside
 * `dir` and moved into place only when the whole tree is out, so a failed
 * extraction leaves `dir` as it was.
 */
export async function extractTree(tree: FileTree, dir: string, opts: ExtractOptions = {}): Promise<ExtractResult> {
  const dest = resolve(dir);
  let existing: string[] | undefined;
  if (existsSync(dest)) {
    const st = lstatSync(dest);
    if (!st.isDirectory()) throw new PathError('E_PATH_NOT_DIR', `${dir} exists and is not a directory`, { path: dir });
    existing = readdirSync(dest);
    if (!opts.allowNonEmpty && existing.length > 0)
      throw new PathError('E_PATH_NOT_EMPTY', `${dir} is not empty; extract into a new or empty directory`, {
        path: dir,
      });
  } else if (!existsSync(dirname(dest))) {
    throw new PathError('E_PATH_NOT_FOUND', `cannot extract into ${dir}: ${dirname(dest)} does not exist`, {
      path: dir,
    });
  }
  const tmp = join(dirname(dest), `.${basename(dest)}.tinyimage-${process.pid}-${Date.now().toString(36)}.tmp`);
  try {
    mkdirSync(tmp, { mode: 0o700 });
  } catch (e) {
    throw hostError(e, tmp, 'create directory');
  }
  try {
    const result = await extractInto(tree, tmp, opts);
    moveIntoPlace(tmp, dest, existing);
    return result;
  } catch (e) {
    rmSync(tmp, { recursive: true, force: true });
    throw e;
  }
}

/** Rename the finished extraction over `dest` (absent or empty), or move its entries into a non-empty `dest`. */
function moveIntoPlace(tmp: string, dest: string, existing: string[] | undefined): void {
  if (!existing || existing.length === 0) {
    renameSync(tmp, dest);
    return;
  }
  const names = readdirSync(tmp);
  const clash = names.find((n) => existing.includes(n));
  if (clash !== undefined)
    throw new PathError('E_PATH_EXISTS', `${join(dest, clash)} already exists; nothing was extracted`, {
      path: join(dest, clash),
    });
  for (const n of names) renameSync(join(tmp, n), join(dest, n));
  rmSync(tmp, { recursive: true, force: true });
}

async function extractInto(tree: FileTree, root: string, opts: ExtractOptions): Promise<ExtractResult> {
  const warn = opts.warn ?? (() => {});
  const owners = opts.owners ?? (typeof process.getuid === 'function' && process.getuid() === 0);
  const realRoot = realpathSync(root);
  const hostPath = (p: string) => join(realRoot, ...splitPath(p));
  const checkParents = (p: string) => {
    const parts = splitPath(p);
    let cur = realRoot;
    for (const c of parts.slice(0, -1)) {
      cur = join(cur, c);
      const st = lstatSync(cur);
      if (!st.isDirectory())
        throw new PathError(
          'E_PATH_ESCAPE',
          `refusing to extract ${p}: ${cur} is not a directory created by this extraction`,
          { path: p },
        );
    }
  };
  const firstPath = new Map<TreeNode, string>();
  const skipped: string[] = [];
  const symlinks: Array<[string, TreeNode & { type: 'symlink' }]> = [];
  const dirs: Array<[string, TreeNode]> = [];
  const setMeta = (hp: string, n: TreeNode, isLink = false) => {
    if (owners) {
      try {
        (isLink ? lchownSync : chownSync)(hp, n.uid, n.gid);
      } catch (e) {
        throw hostError(e, hp, 'chown');
      }
    }
    if (!isLink) chmodSync(hp, n.mode & 0o7777);
    lutimesSync(hp, n.atime.sec + n.atime.nsec / 1e9, n.mtime.sec + n.mtime.nsec / 1e9);
  };
  let entries = 0;
  for (const e of tree.walk()) {
    const n = e.node;
    if (e.path === '/') {
      dirs.push([realRoot, n]);
      continue;
    }
    checkParents(e.path);
    const hp = hostPath(e.path);
    const prev = firstPath.get(n);
    if (prev !== undefined && n.type !== 'dir') {
      if (n.type === 'symlink') symlinks.push([hp, n]);
      else {
        try {
          linkSync(hostPath(prev), hp);
        } catch (err) {
          throw hostError(err, hp, 'link');
        }
      }
      entries++;
      continue;
    }
    firstPath.set(n, e.path);
    switch (n.type) {
      case 'dir':
        try {
          mkdirSync(hp, { mode: 0o700 });
        } catch (err) {
          throw hostError(err, hp, 'create directory');
        }
        dirs.push([hp, n]);
        break;
      case 'file': {
        let fd: number;
        try {
          fd = openSync(hp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
        } catch (err) {
          throw hostError(err, hp, 'create');
        }
        try {
          let pos = 0;
          for await (const chunk of n.content.stream()) {
            let o = 0;
            while (o < chunk.length) {
              const w = writeSync(fd, chunk, o, chunk.length - o, pos);
              o += w;
              pos += w;
            }
          }
        } finally {
          closeSync(fd);
        }
        setMeta(hp, n);
        break;
      }
      case 'symlink':
        symlinks.push([hp, n]);
        continue;
      default:
        if (opts.mknod && n.type !== 'socket') {
          await opts.mknod(hp, n);
          setMeta(hp, n);
        } else {
          skipped.push(e.path);
          warn(`skipped ${n.type} ${e.path} (${n.type === 'socket' ? 'sockets are not extracted' : 'needs root'})`);
          firstPath.delete(n);
          continue;
        }
    }
    entries++;
  }
  for (const [hp, n] of symlinks) {
    try {
      symlinkSync(n.target, hp);
    } catch (err) {
      throw hostError(err, hp, 'create symlink');
    }
    setMeta(hp, n, true);
    entries++;
  }
  // directories last (deepest first) so their modes/times are not disturbed by their contents
  for (const [hp, n] of dirs.reverse()) setMeta(hp, n);
  return { entries, skipped };
}
