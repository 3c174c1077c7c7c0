/** Tree-wide options: owner squash/mapping and SOURCE_DATE_EPOCH clamping. */
import { UsageError } from '../errors.js';
import type { FileTree } from './tree.js';
import type { NodeMeta, Timespec, TreeNode } from './types.js';

function distinctNodes(tree: FileTree): Set<TreeNode> {
  const s = new Set<TreeNode>();
  for (const e of tree.walk()) s.add(e.node);
  return s;
}

/** Set every entry's owner to uid:gid (e.g. 0:0, "all files owned by root"). */
export function squashOwner(tree: FileTree, uid = 0, gid = 0): void {
  for (const n of distinctNodes(tree)) {
    n.uid = uid;
    n.gid = gid;
  }
}

/** Map owners through a function (e.g. host ids to target ids). */
export function mapOwners(
  tree: FileTree,
  fn: (uid: number, gid: number, node: TreeNode) => { uid: number; gid: number },
): void {
  for (const n of distinctNodes(tree)) {
    const r = fn(n.uid, n.gid, n);
    n.uid = r.uid;
    n.gid = r.gid;
  }
}

/** Clamp every time later than `epoch` seconds down to it (reproducible builds). */
export function clampTimes(tree: FileTree, epoch: number): void {
  const clamp = (t: Timespec): Timespec =>
    t.sec > epoch || (t.sec === epoch && t.nsec > 0) ? { sec: epoch, nsec: 0 } : t;
  for (const n of distinctNodes(tree)) {
    const m = n as NodeMeta;
    m.mtime = clamp(m.mtime);
    m.atime = clamp(m.atime);
    m.ctime = clamp(m.ctime);
  }
}

/** SOURCE_DATE_EPOCH from an environment (the Node layer passes process.env), validated; undefined when unset. */
export function sourceDateEpoch(env: Record<string, string | undefined>): number | undefined {
  const v = env.SOURCE_DATE_EPOCH;
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v))
    throw new UsageError(
      'E_USAGE_SOURCE_DATE_EPOCH',
      `SOURCE_DATE_EPOCH must be a non-negative integer number of seconds, got '${v}'`,
      { actual: v },
    );
  return Number(v);
}
