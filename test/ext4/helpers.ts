/** Shared helpers for the ext writer tests: build trees, write images, run e2fsprogs. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { sparseContent } from '../../src/core/tree/content.js';
import { FileDevice } from '../../src/node/io/file.js';
import { ext4MinimumSize, writeExt4, type Ext4Options, type Ext4Summary } from '../../src/core/fs/ext4/index.js';
import { run } from '../helpers/prereq.js';
import type { TreeNode } from '../../src/core/tree/types.js';

export function tmp(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-ext4-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function writeImage(tree: FileTree, path: string, opts: Ext4Options): Promise<Ext4Summary> {
  const size = opts.size ?? ext4MinimumSize(tree, opts);
  const dev = FileDevice.create(path, size);
  try {
    return await writeExt4(tree, dev, { ...opts, size });
  } finally {
    dev.close();
  }
}

export function fsck(path: string): { code: number; out: string } {
  const r = run('e2fsck', ['-fn', path]);
  return { code: r.code, out: r.stdout + r.stderr };
}

export function debugfs(path: string, cmd: string): string {
  const r = run('debugfs', ['-R', cmd, path]);
  return r.stdout;
}

/** A tree with every entry type and the awkward cases. */
export function edgeTree(opts: { bigDir?: number; sparseHuge?: boolean } = {}): FileTree {
  const t = new FileTree({ defaultTime: 1700000000 });
  t.addFile('/hello.txt', 'hello world\n', {
    mode: 0o644,
    uid: 1000,
    gid: 100,
    mtime: { sec: 1700000001, nsec: 123456789 },
  });
  t.mkdir('/empty', { mode: 0o750, uid: 5, gid: 6 });
  t.addFile('/etc/passwd', 'root:x:0:0::/root:/bin/sh\n'.repeat(400));
  t.addSymlink('/fast', 'hello.txt');
  t.addSymlink('/slow', 'x/'.repeat(60) + 'end');
  t.addHardLink('/hardlink', '/hello.txt');
  t.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  t.addDevice('/dev/big', 'block', 300, 70000, { mode: 0o660, gid: 6 });
  t.addFifo('/fifo', { mode: 0o600 });
  t.addSocket('/sock', { mode: 0o755 });
  t.addFile('/suid', 'x', { mode: 0o4755 });
  t.addFile('/hundred', 'h'.repeat(59) + '|' + 'i'.repeat(40));
  t.addFile('/sgid', 'x', { mode: 0o2755 });
  t.mkdir('/tmp', { mode: 0o1777 });
  t.addFile('/bigid', 'id', { uid: 4000000000, gid: 3000000000 });
  t.addFile('/xattrs', 'x', {
    xattrs: {
      'user.a': 'b',
      'security.selinux': 'system_u:object_r:bin_t:s0\0',
      'user.big': 'v'.repeat(300),
      'trusted.t': 'tt',
    },
  });
  t.addFile('/cap', 'x', {
    xattrs: { 'security.capability': new Uint8Array([1, 0, 0, 2, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]) },
  });
  t.addFile('/future', 'f', { mtime: { sec: 2 ** 33, nsec: 123456789 } });
  t.addFile('/past', 'p', { mtime: { sec: -1000, nsec: 5 } });
  const n = opts.bigDir ?? 2000;
  t.mkdir('/many');
  for (let i = 0; i < n; i++) t.addFile(`/many/f${i}-${'n'.repeat(i % 50)}`, i % 7 === 0 ? '' : `c${i}`);
  let p = '';
  for (let i = 0; i < 100; i++) p += '/d' + i;
  t.mkdir(p);
  t.addFile(p + '/deep', 'deep');
  t.addFile('/' + 'L'.repeat(255), 'long name');
  t.addFile('/name-é-日本-' + 'é'.repeat(100), 'utf8');
  const data = new Uint8Array(3 << 20);
  for (let i = 0; i < data.length; i++) data[i] = (i * 7 + (i >> 12)) & 0xff;
  data.fill(0, 1 << 20, 2 << 20); // a zero MiB in the middle: a hole
  t.addFile('/bigfile', data);
  // 1500 separate extents: a depth-2 extent tree (ext4) / many indirect blocks (ext2/3)
  t.addFile(
    '/fragmented',
    sparseContent(
      1500 * 12288,
      Array.from({ length: 1500 }, (_, i) => ({
        offset: i * 12288 + 5,
        data: new Uint8Array(100).fill((i % 250) + 1),
      })),
    ),
  );
  if (opts.sparseHuge !== false) {
    t.addFile(
      '/sparse',
      sparseContent(5 * 2 ** 30 + 77, [
        { offset: 0, data: new Uint8Array([1, 2, 3]) },
        { offset: 4.5 * 2 ** 30, data: new Uint8Array(10000).fill(7) },
        { offset: 5 * 2 ** 30, data: new Uint8Array(77).fill(9) },
      ]),
    );
  }
  return t;
}

export interface DebugfsStat {
  ino: number;
  type: string;
  mode: number;
  flags: number;
  uid: number;
  gid: number;
  size: number;
  links: number;
  blockcount: number;
  mtime: { lo: number; extra: number } | undefined;
  fastLink?: string;
  dev?: { major: number; minor: number };
  xattrs: Map<string, string>;
  extents?: string;
}

/** Run many debugfs `stat` commands in one process; returns stats by path. */
export function debugfsStats(img: string, paths: string[], dir: string): Map<string, DebugfsStat> {
  const cmdFile = join(dir, `cmds-${Math.random().toString(36).slice(2)}`);
  writeFileSync(cmdFile, paths.map((p) => `stat "${p}"`).join('\n') + '\n');
  const out = run('debugfs', ['-f', cmdFile, img]).stdout;
  const res = new Map<string, DebugfsStat>();
  const parts = out.split(/^debugfs: stat "/m).slice(1);
  for (const part of parts) {
    const path = part.slice(0, part.indexOf('"'));
    const m = (re: RegExp) => re.exec(part);
    const head = m(/Inode: (\d+)\s+Type: (.+?)\s+Mode:\s+(\d+)\s+Flags: 0x([0-9a-f]+)/);
    if (!head) continue;
    const own = m(/User:\s+(-?\d+)\s+Group:\s+(-?\d+).*Size: (\d+)/)!;
    const links = m(/Links: (\d+)\s+Blockcount: (\d+)/)!;
    const mt = m(/ mtime: 0x([0-9a-f]+)(?::([0-9a-f]+))?/);
    const fl = m(/Fast link dest: "(.*)"/);
    const dv = m(/Device major\/minor number: ([0-9a-f]+):([0-9a-f]+) \(hex/);
    const xattrs = new Map<string, string>();
    const xa = part.indexOf('Extended attributes:');
    if (xa >= 0) {
      for (const line of part.slice(xa).split('\n').slice(1)) {
        const x = /^\s+(\S+) \((\d+)\)(?: = (.*))?$/.exec(line);
        if (!x) break;
        xattrs.set(x[1]!, x[3] ?? `<${x[2]} bytes>`);
      }
    }
    const ex = m(/EXTENTS:\n(.*)/);
    res.set(path, {
      ino: Number(head[1]),
      type: head[2]!,
      mode: parseInt(head[3]!, 8),
      flags: parseInt(head[4]!, 16),
      uid: Number(own[1]) >>> 0,
      gid: Number(own[2]) >>> 0,
      size: Number(own[3]),
      links: Number(links[1]),
      blockcount: Number(links[2]),
      mtime: mt ? { lo: parseInt(mt[1]!, 16), extra: mt[2] ? parseInt(mt[2], 16) : 0 } : undefined,
      fastLink: fl?.[1],
      dev: dv ? { major: Number(dv[1]), minor: Number(dv[2]) } : undefined,
      xattrs,
      extents: ex?.[1],
    });
  }
  return res;
}

/** How debugfs `stat` names each node type ("Type: regular"). */
export const DEBUGFS_TYPE: Record<TreeNode['type'], string> = {
  file: 'regular',
  dir: 'directory',
  symlink: 'symlink',
  chardev: 'character special',
  blockdev: 'block special',
  fifo: 'FIFO',
  socket: 'socket',
};
