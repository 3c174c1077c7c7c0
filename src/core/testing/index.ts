/**
 * Matchers for vitest and jest: assert on filesystem layouts in any image.
 * With vitest, `import 'tinyimage/testing/vitest'` registers them and their
 * types; with jest (or by hand):
 *
 *   import { expect } from '@jest/globals';
 *   import { openImage } from 'tinyimage';
 *   import { tinyimageMatchers } from 'tinyimage/testing';
 *   expect.extend(tinyimageMatchers);
 *   const img = await openImage('disk.img:1');
 *   expect(img).toHaveEntry('/etc/inittab', { type: 'file', mode: 0o644, owner: [0, 0] });
 *   expect(img).toHaveSymlink('/bin/sh', 'busybox');
 *   await expect(img).toMatchTree(otherTree);
 *
 * The received value is a FileTree or anything with a `tree` property (an
 * opened image, an Ext4Volume, a FatVolume).
 */
import { bytesEqual, toHex } from '../binary/bytes.js';
import { diffTrees, formatDiff, type DiffOptions } from '../diff/index.js';
import { FileTree } from '../tree/tree.js';
import type { NodeType, TreeNode } from '../tree/types.js';

export interface EntryExpectation {
  type?: NodeType;
  /** Permission bits incl. setuid/setgid/sticky. */
  mode?: number;
  owner?: [uid: number, gid: number];
  size?: number;
  /** Exact content (string compared as UTF-8) or a RegExp over the UTF-8 text. */
  content?: string | Uint8Array | RegExp;
  target?: string;
  device?: [major: number, minor: number];
  xattrs?: Record<string, string | Uint8Array>;
}

interface MatcherResult {
  pass: boolean;
  message: () => string;
  /** What vitest/jest show as a diff on failure. */
  actual?: unknown;
  expected?: unknown;
}
interface MatcherContext {
  isNot?: boolean;
}

export function treeOf(received: unknown): FileTree {
  if (received instanceof FileTree) return received;
  const t = (received as { tree?: unknown } | null)?.tree;
  if (t instanceof FileTree) return t;
  if (Array.isArray((received as { partitions?: unknown } | null)?.partitions)) {
    throw new TypeError('received a partitioned disk: open one of its partitions (openImage("disk.img:1"))');
  }
  throw new TypeError('expected a FileTree or an object with a `tree` (an opened image)');
}

/** The fields of `n` that an expectation names, in the expectation's shape (for vitest's diff). */
function actualFields(n: TreeNode, exp: EntryExpectation): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const dev = n.type === 'chardev' || n.type === 'blockdev' ? [n.major, n.minor] : undefined;
  const values: Record<keyof EntryExpectation, () => unknown> = {
    type: () => n.type,
    mode: () => n.mode,
    owner: () => [n.uid, n.gid],
    size: () => (n.type === 'file' ? n.content.size : undefined),
    content: () => exp.content,
    target: () => (n.type === 'symlink' ? n.target : undefined),
    device: () => dev,
    xattrs: () => Object.fromEntries([...n.xattrs].map(([k, v]) => [k, new TextDecoder().decode(v)])),
  };
  for (const k of Object.keys(exp) as Array<keyof EntryExpectation>) out[k] = values[k]();
  return out;
}

/** One line per path for the entries a diff names, as each side has them. */
function listing(tree: FileTree, paths: string[]): string {
  return paths
    .map((p) => {
      const n = tree.get(p);
      return `${p}: ${n ? describeNode(n) : '(absent)'}`;
    })
    .join('\n');
}

function describeNode(n: TreeNode): string {
  const base = `${n.type} mode 0${n.mode.toString(8)} owner ${n.uid}:${n.gid}`;
  if (n.type === 'file') return `${base} size ${n.content.size}`;
  if (n.type === 'symlink') return `${base} -> ${n.target}`;
  if (n.type === 'chardev' || n.type === 'blockdev') return `${base} device ${n.major}:${n.minor}`;
  return base;
}

function entryProblems(n: TreeNode, exp: EntryExpectation): string[] {
  const p: string[] = [];
  if (exp.type !== undefined && n.type !== exp.type) p.push(`type is ${n.type}, expected ${exp.type}`);
  if (exp.mode !== undefined && n.mode !== exp.mode)
    p.push(`mode is 0${n.mode.toString(8)}, expected 0${exp.mode.toString(8)}`);
  if (exp.owner && (n.uid !== exp.owner[0] || n.gid !== exp.owner[1]))
    p.push(`owner is ${n.uid}:${n.gid}, expected ${exp.owner[0]}:${exp.owner[1]}`);
  if (exp.size !== undefined) {
    const s = n.type === 'file' ? n.content.size : undefined;
    if (s !== exp.size) p.push(`size is ${s ?? '(not a file)'}, expected ${exp.size}`);
  }
  if (exp.target !== undefined && (n.type !== 'symlink' || n.target !== exp.target))
    p.push(`target is ${n.type === 'symlink' ? n.target : '(not a symlink)'}, expected ${exp.target}`);
  if (
    exp.device &&
    (!(n.type === 'chardev' || n.type === 'blockdev') || n.major !== exp.device[0] || n.minor !== exp.device[1])
  )
    p.push(
      `device is ${n.type === 'chardev' || n.type === 'blockdev' ? `${n.major}:${n.minor}` : '(not a device)'}, expected ${exp.device.join(':')}`,
    );
  if (exp.content !== undefined) {
    if (n.type !== 'file') p.push('content expected, but not a file');
    else {
      const bytes = n.content.readAt ? n.content.readAt(0, n.content.size) : undefined;
      if (!bytes) p.push('content cannot be read synchronously');
      else {
        const text = new TextDecoder().decode(bytes);
        if (exp.content instanceof RegExp) {
          if (!exp.content.test(text)) p.push(`content does not match ${exp.content}:\n${text.slice(0, 400)}`);
        } else {
          const want = typeof exp.content === 'string' ? new TextEncoder().encode(exp.content) : exp.content;
          if (!bytesEqual(want, bytes))
            p.push(
              `content differs:\n  got:      ${JSON.stringify(text.slice(0, 200))}\n  expected: ${JSON.stringify(new TextDecoder().decode(want).slice(0, 200))}`,
            );
        }
      }
    }
  }
  if (exp.xattrs) {
    for (const [k, v] of Object.entries(exp.xattrs)) {
      const got = n.xattrs.get(k);
      const want = typeof v === 'string' ? new TextEncoder().encode(v) : v;
      if (!got || !bytesEqual(got, want))
        p.push(`xattr ${k} is ${got ? toHex(got) : '(missing)'}, expected ${toHex(want)}`);
    }
  }
  return p;
}

export const tinyimageMatchers = {
  toHaveEntry(this: MatcherContext, received: unknown, path: string, expected: EntryExpectation = {}): MatcherResult {
    const n = treeOf(received).get(path);
    if (!n) return { pass: false, message: () => `expected ${path} to exist, but it does not` };
    const problems = entryProblems(n, expected);
    return {
      pass: problems.length === 0,
      actual: actualFields(n, expected),
      expected,
      message: () =>
        problems.length
          ? `${path}: ${problems.join('; ')}\n  entry: ${describeNode(n)}`
          : `expected ${path} not to be ${JSON.stringify(expected)}, but it is: ${describeNode(n)}`,
    };
  },
  toHaveSymlink(this: MatcherContext, received: unknown, path: string, target?: string): MatcherResult {
    const n = treeOf(received).get(path);
    const ok = n?.type === 'symlink' && (target === undefined || n.target === target);
    return {
      pass: ok,
      message: () =>
        ok
          ? `expected ${path} not to be a symlink${target ? ` to ${target}` : ''}`
          : `expected ${path} to be a symlink${target ? ` to ${target}` : ''}, but it is ${n ? describeNode(n) : 'missing'}`,
    };
  },
  async toMatchTree(
    this: MatcherContext,
    received: unknown,
    expected: unknown,
    opts?: DiffOptions,
  ): Promise<MatcherResult> {
    const want = treeOf(expected);
    const got = treeOf(received);
    const d = await diffTrees(want, got, opts);
    const paths = d.map((e) => e.path);
    return {
      pass: d.length === 0,
      actual: listing(got, paths),
      expected: listing(want, paths),
      message: () =>
        d.length
          ? `trees differ (- expected only, + received only, ~ changed):\n${formatDiff(d)}`
          : 'expected trees to differ, but they match',
    };
  },
};

export { diffTrees, formatDiff } from '../diff/index.js';
export type { DiffEntry, DiffOptions } from '../diff/index.js';
