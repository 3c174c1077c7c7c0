/** Tree-wide options: owner squash/mapping and SOURCE_DATE_EPOCH clamping. */
import { UsageError } from '../errors.js';
import { TreeCursor } from './cursor.js';
import type { FileTree } from './tree.js';
import type { NodeMeta, Timespec, TreeNode } from './types.js';

/** Every node, once per name (a hard-linked node more than once): no path or entry object per entry. */
function eachNode(tree: FileTree, fn: (n: TreeNode) => void): void {
  const c = new TreeCursor(tree.root);
  while (c.next()) fn(c.node);
}

function distinctNodes(tree: FileTree): Set<TreeNode> {
  const s = new Set<TreeNode>();
  eachNode(tree, (n) => s.add(n));
  return s;
}

/** Set every entry's owner to uid:gid (e.g. 0:0, "all files owned by root"). */
export function squashOwner(tree: FileTree, uid = 0, gid = 0): void {
  // idempotent: a hard-linked node visited twice is no matter
  eachNode(tree, (n) => {
    n.uid = uid;
    n.gid = gid;
  });
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
  // times are immutable values: every clamped time is this one object (not three per node),
  // and clamping is idempotent, so hard-linked nodes need no set
  const at: Timespec = { sec: epoch, nsec: 0 };
  const clamp = (t: Timespec): Timespec => (t.sec > epoch || (t.sec === epoch && t.nsec > 0) ? at : t);
  eachNode(tree, (n) => {
    const m = n as NodeMeta;
    m.mtime = clamp(m.mtime);
    m.atime = clamp(m.atime);
    m.ctime = clamp(m.ctime);
  });
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
