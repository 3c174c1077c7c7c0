/** Shared helpers for cpio tests: sample trees and a comparable description of a tree. */
import { createHash } from 'node:crypto';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import type { TreeNode } from '../../src/core/tree/types.js';

export interface EntryDesc {
  type: string;
  mode: string;
  uid: number;
  gid: number;
  size?: number;
  sha?: string;
  target?: string;
  dev?: string;
  /** First path (walk order) of the node's hard-link group, for non-dirs with several names. */
  linkGroup?: string;
  mtime?: number;
}

/**
 * Everything a cpio round trip must preserve, per path. `times` adds mtime
 * for files ('files') or files and directories ('all'); `root` includes "/" itself.
 */
export async function describeTree(
  tree: FileTree,
  opts: { times?: 'files' | 'all'; root?: boolean } = {},
): Promise<Record<string, EntryDesc>> {
  const out: Record<string, EntryDesc> = {};
  const first = new Map<TreeNode, string>();
  const counts = tree.linkCounts();
  for (const e of tree.walk()) {
    if (e.path === '/' && !opts.root) continue;
    const n = e.node;
    const d: EntryDesc = { type: n.type, mode: (n.mode & 0o7777).toString(8), uid: n.uid, gid: n.gid };
    if (n.type === 'file') {
      const data = await readContent(n.content);
      d.size = data.length;
      d.sha = createHash('sha256').update(data).digest('hex').slice(0, 16);
    }
    if (n.type === 'symlink') d.target = n.target;
    if (n.type === 'chardev' || n.type === 'blockdev') d.dev = `${n.major}:${n.minor}`;
    if (n.type !== 'dir' && (counts.get(n) ?? 0) > 1) {
      if (!first.has(n)) first.set(n, e.path);
      d.linkGroup = first.get(n)!;
    }
    if (opts.times && (n.type === 'file' || (opts.times === 'all' && n.type === 'dir'))) d.mtime = n.mtime.sec;
    out[e.path] = d;
  }
  return out;
}

/** A tree with every entry type, non-ASCII and 255-byte names, empty and setuid files, hard links. */
export function everythingTree(opts: { ascii?: boolean } = {}): FileTree {
  const t = new FileTree({ defaultTime: 1_600_000_000 });
  const m = (mode: number, extra: object = {}) => ({ mode, uid: 1234, gid: 5678, mtime: 1_700_000_000, ...extra });
  t.mkdir('/bin', m(0o755));
  t.mkdir('/tmp', m(0o1777));
  t.mkdir('/etc/deep/er/still', m(0o750));
  t.addFile(
    '/bin/busybox',
    new Uint8Array(70_001).map((_, i) => (i * 31 + (i >> 8)) & 0xff),
    m(0o755, { uid: 0, gid: 0 }),
  );
  t.addFile('/bin/su', 'not really su\n', m(0o4755, { uid: 0, gid: 0 }));
  t.addFile('/bin/wall', 'setgid\n', m(0o2755, { gid: 5 }));
  t.addFile('/etc/empty', '', m(0o600));
  t.addFile('/etc/hosts', '127.0.0.1 localhost\n', m(0o644, { uid: 4_000_000_000, gid: 4_000_000_001 }));
  t.addFile('/etc/deep/er/still/file3', 'abc', m(0o640));
  // hard links: a 3-name group with data, and an empty 2-name group
  t.addFile('/bin/ls', 'the ls binary\n'.repeat(100), m(0o755));
  t.addHardLink('/bin/dir', '/bin/ls');
  t.addHardLink('/etc/ls-too', '/bin/ls');
  t.addFile('/etc/zero-a', '', m(0o644));
  t.addHardLink('/etc/zero-b', '/etc/zero-a');
  t.addSymlink('/bin/sh', 'busybox', m(0o777));
  t.addSymlink('/etc/abs-link', '/etc/hosts', m(0o777));
  t.addDevice('/dev/console', 'char', 5, 1, m(0o600, { uid: 0, gid: 0 }));
  t.addDevice('/dev/null', 'char', 1, 3, m(0o666, { uid: 0, gid: 0 }));
  t.addDevice('/dev/sda1', 'block', 8, 1, m(0o660, { uid: 0, gid: 6 }));
  t.addDevice('/dev/big', 'block', 259, 1_000_000, m(0o660, { uid: 0, gid: 6 }));
  t.addFifo('/run/initctl', m(0o600));
  t.addSocket('/run/sock', m(0o755));
  t.addFile('/' + 'n'.repeat(255), 'long name\n', m(0o644));
  if (!opts.ascii) {
    t.addFile('/etc/grüße-日本語.txt', 'unicode\n', m(0o644));
    // 255 bytes of UTF-8: 85 three-byte characters
    t.addFile('/etc/' + '語'.repeat(85), 'long unicode name\n', m(0o644));
    t.addSymlink('/etc/ünï-link', 'grüße-日本語.txt', m(0o777));
  }
  return t;
}

export function chunked(data: Uint8Array, size: number): AsyncIterable<Uint8Array> {
  return (async function* () {
    for (let i = 0; i < data.length; i += size) yield data.slice(i, i + size);
  })();
}
