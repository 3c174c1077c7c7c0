/**
 * The one file-tree model. Every writer (cpio, ext2/3/4, FAT) takes a
 * FileTree and every reader returns one, so the same assertions work on a
 * host directory, a cpio archive, an ext4 or a FAT image.
 *
 * Hard links are node identity: the same node object reachable under two
 * names IS a hard link (any type but directories). Writers give one inode
 * per distinct node object; `nlink` is the number of names.
 */

/** Seconds since the Unix epoch (may be negative or beyond 2038) plus nanoseconds. */
export interface Timespec {
  readonly sec: number;
  readonly nsec: number;
}

export type NodeType = 'file' | 'dir' | 'symlink' | 'chardev' | 'blockdev' | 'fifo' | 'socket';

/** File content, read lazily: trees larger than memory work. */
export interface Content {
  /** Size in bytes. */
  readonly size: number;
  /** The bytes in order, in chunks of any size. May be called more than once. */
  stream(): AsyncIterable<Uint8Array>;
  /** Optional random access (all built-in sources have it). Returns fewer bytes only at end of content. */
  readAt?(position: number, length: number): Uint8Array;
  /**
   * Optional: read up to `target.length` bytes at `position` into `target`
   * (no allocation); returns the number of bytes read (fewer only at end of
   * content). Writers that copy a lot of data prefer it over readAt.
   */
  readInto?(position: number, target: Uint8Array): number;
  /** Optional: byte ranges [start, end) holding data; the rest is a hole (reads as zeros). Sorted, non-overlapping. */
  dataRanges?(): Array<[number, number]>;
}

export interface NodeMeta {
  /** Permission bits including setuid/setgid/sticky (0o7777). The type is in `type`. */
  mode: number;
  uid: number;
  gid: number;
  mtime: Timespec;
  atime: Timespec;
  ctime: Timespec;
  /** Extended attributes: full names ("user.x", "security.capability", "trusted.y"). */
  xattrs: Map<string, Uint8Array>;
}

export interface FileNode extends NodeMeta {
  type: 'file';
  content: Content;
}
export interface DirNode extends NodeMeta {
  type: 'dir';
  children: Map<string, TreeNode>;
}
export interface SymlinkNode extends NodeMeta {
  type: 'symlink';
  target: string;
}
export interface DeviceNode extends NodeMeta {
  type: 'chardev' | 'blockdev';
  major: number;
  minor: number;
}
export interface SpecialNode extends NodeMeta {
  type: 'fifo' | 'socket';
}

export type TreeNode = FileNode | DirNode | SymlinkNode | DeviceNode | SpecialNode;

/** POSIX S_IF* type bits. */
export const S_IFMT = 0o170000;
export const TYPE_BITS: Record<NodeType, number> = {
  socket: 0o140000,
  symlink: 0o120000,
  file: 0o100000,
  blockdev: 0o060000,
  dir: 0o040000,
  chardev: 0o020000,
  fifo: 0o010000,
};

/** st_mode (type bits | permission bits) of a node. */
export function fullMode(node: { type: NodeType; mode: number }): number {
  return TYPE_BITS[node.type] | (node.mode & 0o7777);
}

/** Node type from st_mode type bits, or undefined for an unknown type. */
export function typeFromMode(mode: number): NodeType | undefined {
  const t = mode & S_IFMT;
  for (const [k, v] of Object.entries(TYPE_BITS)) if (v === t) return k as NodeType;
  return undefined;
}

/** Linux dev_t encoding (new_encode_dev), as stat and ext4 large-dev fields use. */
export function encodeDev(major: number, minor: number): number {
  return ((minor & 0xff) | ((major & 0xfff) << 8) | ((minor & ~0xff) << 12)) >>> 0;
}
export function decodeDev(dev: number): { major: number; minor: number } {
  return { major: (dev >>> 8) & 0xfff, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}
