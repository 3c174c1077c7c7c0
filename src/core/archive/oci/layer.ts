/**
 * Layers as a fold: `applyLayer(tree, layer)` puts an upper tree over a
 * lower one the way container runtimes unpack image layers (OCI image
 * spec, "Applying Changesets"; overlayfs whiteouts in AUFS spelling):
 * - `.wh.NAME` in the layer deletes NAME (and everything under it) from the lower tree;
 * - `.wh..wh..opq` in a layer directory hides every lower entry of that directory;
 * - whiteouts affect only lower layers, never entries of the same layer;
 * - a directory over a directory merges (the layer's metadata wins when the
 *   layer listed it); anything else replaces what was there.
 * Hard links whose target is in a lower layer come in `links` (from
 * readTar with danglingLinks: 'collect') and are resolved against the
 * merged tree. The layer tree is consumed: its nodes move into `tree`.
 * The same fold stacks any sources (`--root A --root B`): later wins.
 */
import { FormatError } from '../../errors.js';
import { FileTree } from '../../tree/tree.js';
import { splitPath } from '../../tree/path.js';
import type { DirNode, TreeNode } from '../../tree/types.js';

export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

export interface LayerOptions {
  /** Honour whiteouts (default true); false copies `.wh.*` entries as ordinary files. */
  whiteouts?: boolean;
  /** Hard links to resolve after the merge (readTar's `links`). */
  links?: ReadonlyArray<{ path: string; target: string; offset?: number }>;
  /** Layer directories no member listed: they merge without touching the lower directory's metadata. */
  implicitDirs?: ReadonlySet<DirNode>;
  /** Name of the layer in error messages. */
  name?: string;
}

function copyMeta(to: DirNode, from: DirNode): void {
  to.mode = from.mode;
  to.uid = from.uid;
  to.gid = from.gid;
  to.mtime = from.mtime;
  to.atime = from.atime;
  to.ctime = from.ctime;
  to.xattrs = from.xattrs;
}

/** Remove whiteout entries from a subtree that has no lower counterpart. */
function stripWhiteouts(dir: DirNode): void {
  const stack = [dir];
  while (stack.length) {
    const d = stack.pop()!;
    for (const [name, n] of d.children) {
      if (name.startsWith(WHITEOUT_PREFIX)) d.children.delete(name);
      else if (n.type === 'dir') stack.push(n);
    }
  }
}

/** Apply `layer` over `tree` (in place). */
export function applyLayer(tree: FileTree, layer: FileTree, opts: LayerOptions = {}): void {
  const wh = opts.whiteouts !== false;
  const implicit = opts.implicitDirs;
  if (!implicit?.has(layer.root)) copyMeta(tree.root, layer.root);
  const stack: Array<[DirNode, DirNode]> = [[tree.root, layer.root]];
  while (stack.length) {
    const [lower, upper] = stack.pop()!;
    if (wh) {
      if (upper.children.has(OPAQUE_MARKER)) lower.children.clear();
      for (const name of upper.children.keys()) {
        if (name.startsWith(WHITEOUT_PREFIX) && name !== OPAQUE_MARKER)
          lower.children.delete(name.slice(WHITEOUT_PREFIX.length));
      }
    }
    for (const [name, u] of upper.children) {
      if (wh && name.startsWith(WHITEOUT_PREFIX)) continue;
      const l = lower.children.get(name);
      if (u.type === 'dir' && l?.type === 'dir') {
        if (!implicit?.has(u)) copyMeta(l, u);
        stack.push([l, u]);
        continue;
      }
      if (u.type === 'dir' && wh) stripWhiteouts(u);
      lower.children.set(name, u);
    }
  }
  for (const link of opts.links ?? []) {
    const target = tree.get(link.target);
    if (!target || target.type === 'dir') {
      throw new FormatError(
        'E_FORMAT_LAYER_LINK',
        `${opts.name ?? 'layer'}: hard link ${link.path} points to ${link.target}, which ${target ? 'is a directory' : 'no lower layer has'}`,
        { path: link.path, ...(link.offset !== undefined ? { offset: link.offset } : {}) },
      );
    }
    put(tree, link.path, target);
  }
}

function put(tree: FileTree, path: string, node: TreeNode): void {
  const parts = splitPath(path);
  const name = parts.pop()!;
  const dir = tree.mkdir('/' + parts.join('/'));
  dir.children.set(name, node);
}

/** Stack trees in order into a new tree (later wins, whiteouts honoured; the first tree's own whiteouts are dropped). */
export function stackTrees(trees: FileTree[], opts: Omit<LayerOptions, 'links' | 'implicitDirs'> = {}): FileTree {
  if (!trees.length) throw new FormatError('E_FORMAT_LAYER_NONE', 'no sources to stack', {});
  const base = new FileTree({ defaultTime: trees[0]!.defaultTime });
  for (const t of trees) applyLayer(base, t, opts);
  return base;
}
