/** Asserting two trees agree, with the first differences printed when they do not. */
import { expect } from 'vitest';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import type { FileTree } from '../../src/core/tree/tree.js';

/** diffTrees(a, b, opts) finds nothing; `owners: 'root'` also leaves uid and gid out of the comparison. */
export async function expectNoDiff(
  a: FileTree,
  b: FileTree,
  opts: DiffOptions & { owners?: 'root' } = {},
): Promise<void> {
  const ignoreFields = [...(opts.ignoreFields ?? []), ...(opts.owners === 'root' ? (['uid', 'gid'] as const) : [])];
  const d = await diffTrees(a, b, { ...opts, ignoreFields });
  if (d.length) console.log(formatDiff(d).slice(0, 3000));
  expect(d).toEqual([]);
}
