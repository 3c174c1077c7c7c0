/**
 * The tiny system's initramfs: busybox, the FHS skeleton, /dev/console and
 * /dev/null, and an /init that mounts proc, sysfs and devtmpfs, greets and
 * hands the console to a shell. Pure: returns a FileTree for cpioChunks().
 */
import { cpioChunks } from '../archive/cpio/index.js';
import { addBusybox, type Applet } from '../busybox/applets.js';
import { gzipChunks } from '../compress/gzip.js';
import type { Progress } from '../progress.js';
import { bytesContent } from '../tree/content.js';
import { FileTree } from '../tree/tree.js';
import type { Content, DirNode, TreeNode } from '../tree/types.js';

export const WELCOME = 'Welcome to Tiny Linux!';

/** The default /init. `setsid cttyhack` gives the shell a controlling tty on the console (job control, ^C). */
export const DEFAULT_INIT = `#!/bin/sh
# /init of the tinyimage tiny system (PID 1).
export PATH=/sbin:/bin:/usr/sbin:/usr/bin
# Errors such as "already mounted" are harmless here.
mount -t proc proc /proc 2>/dev/null
mount -t sysfs sysfs /sys 2>/dev/null
mount -t devtmpfs devtmpfs /dev 2>/dev/null
echo "${WELCOME}"
if command -v setsid >/dev/null && command -v cttyhack >/dev/null; then
  exec setsid cttyhack /bin/sh
fi
exec /bin/sh
`;

/** Directories of the skeleton and their modes. */
export const TINY_DIRS: ReadonlyArray<[string, number]> = [
  ['/bin', 0o755],
  ['/sbin', 0o755],
  ['/etc', 0o755],
  ['/proc', 0o555],
  ['/sys', 0o555],
  ['/dev', 0o755],
  ['/tmp', 0o1777],
  ['/run', 0o755],
  ['/var', 0o755],
  ['/usr', 0o755],
  ['/usr/bin', 0o755],
  ['/usr/sbin', 0o755],
  ['/root', 0o700],
];

export interface TinyInitramfsOptions {
  /** The busybox binary (bytes or a lazy content with readAt). */
  busybox: Uint8Array | Content;
  /** Replacement /init (script text or bytes); mode 0755. */
  init?: string | Uint8Array;
  /** Extra files laid over the result (they win over generated files; existing directories keep their metadata). */
  add?: FileTree;
  /** Time of every generated entry, seconds (default 0; pass SOURCE_DATE_EPOCH). */
  epoch?: number;
  /** Applets to link instead of reading them from the binary. */
  applets?: Applet[];
  /** Passed to readBusyboxApplets when the tables are not found. */
  fallback?: () => string;
}

/** The tiny initramfs tree; all entries owned by 0:0. */
export function tinyInitramfsTree(opts: TinyInitramfsOptions): FileTree {
  const epoch = opts.epoch ?? 0;
  const tree = new FileTree({ defaultTime: epoch });
  for (const [dir, mode] of TINY_DIRS) tree.mkdir(dir, { mode });
  tree.addDevice('/dev/console', 'char', 5, 1, { mode: 0o600 });
  tree.addDevice('/dev/null', 'char', 1, 3, { mode: 0o666 });
  tree.addFile('/init', bytesContent(opts.init ?? DEFAULT_INIT), { mode: 0o755 });
  addBusybox(tree, opts.busybox, {
    ...(opts.applets ? { applets: opts.applets } : {}),
    ...(opts.fallback ? { fallback: opts.fallback } : {}),
  });
  if (opts.add) overlayTree(tree, opts.add);
  return tree;
}

/**
 * Lay `add` over `tree`: non-directories replace what is there (node objects
 * are shared, so hard links within `add` stay links); directories are
 * merged, keeping the metadata of a directory that already exists.
 */
export function overlayTree(tree: FileTree, add: FileTree): void {
  const visit = (src: DirNode, dst: DirNode) => {
    for (const [name, node] of src.children) {
      const here: TreeNode | undefined = dst.children.get(name);
      if (node.type === 'dir') {
        if (here?.type === 'dir') {
          visit(node, here);
          continue;
        }
        const { children: _c, ...meta } = node;
        const fresh: DirNode = { ...meta, xattrs: new Map(node.xattrs), children: new Map() };
        dst.children.set(name, fresh);
        visit(node, fresh);
      } else {
        dst.children.set(name, node);
      }
    }
  };
  visit(add.root, tree.root);
}

export interface InitramfsArchiveOptions {
  /** 'gzip' (default) or 'none'. */
  compress?: 'gzip' | 'none';
  /** gzip level (default 6). */
  level?: number;
  progress?: Progress;
}

/** A tree as an initramfs archive: newc cpio, gzip-compressed by default, streamed. */
export function initramfsChunks(tree: FileTree, opts: InitramfsArchiveOptions = {}): AsyncGenerator<Uint8Array> {
  const raw = cpioChunks(tree, opts.progress ? { progress: opts.progress } : {});
  return (opts.compress ?? 'gzip') === 'gzip'
    ? gzipChunks(raw, opts.level !== undefined ? { level: opts.level } : {})
    : raw;
}
