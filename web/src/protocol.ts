/**
 * The messages between the page and its worker. The page never imports the
 * core: everything that reads or writes an image runs in the worker, which
 * answers each request (by id) with a result or a typed error and sends
 * progress reports while it works.
 */

/** Output formats, named as the CLI names them. */
export const FORMATS = ['ext4', 'ext2', 'fat32', 'cpio.gz', 'squashfs', 'erofs', 'iso9660', 'tar'] as const;
export type Format = (typeof FORMATS)[number];

/** Suggested file name suffix of each format. */
export const SUFFIX: Record<Format, string> = {
  ext4: '.ext4',
  ext2: '.ext2',
  fat32: '.fat32.img',
  'cpio.gz': '.cpio.gz',
  squashfs: '.squashfs',
  erofs: '.erofs',
  iso9660: '.iso',
  tar: '.tar',
};

/** Formats whose image size is chosen (the others are as long as their contents). */
export const SIZED: ReadonlySet<Format> = new Set(['ext4', 'ext2', 'fat32']);
/** Formats with a volume label. */
export const LABELLED: ReadonlySet<Format> = new Set(['ext4', 'ext2', 'fat32', 'erofs', 'iso9660']);

/** A folder picked with <input webkitdirectory>: files with their paths relative to the folder's parent. */
export interface FolderFile {
  path: string;
  file: File;
}

export type BuildSource = { kind: 'tarball'; file: File } | { kind: 'folder'; name: string; files: FolderFile[] };

export interface BuildRequest {
  op: 'build';
  source: BuildSource;
  format: Format;
  /** As the CLI takes it: 64M, 1G, 4096; empty or undefined for the smallest that fits. */
  size?: string;
  label?: string;
}
export interface OpenRequest {
  op: 'open';
  file: File;
}
export interface ListRequest {
  op: 'list';
  handle: number;
  /** Partition index for disks (undefined for a filesystem image). */
  partition?: number | undefined;
  path: string;
}
export interface ReadRequest {
  op: 'read';
  handle: number;
  partition?: number | undefined;
  path: string;
  /** At most this many bytes (a preview); undefined for the whole file as a Blob. */
  limit?: number;
}
export interface DiffRequest {
  op: 'diff';
  a: { handle: number; partition?: number | undefined };
  b: { handle: number; partition?: number | undefined };
}
export interface CloseRequest {
  op: 'close';
  handle: number;
}
export type Request = BuildRequest | OpenRequest | ListRequest | ReadRequest | DiffRequest | CloseRequest;

export interface BuildResult {
  blob: Blob;
  bytes: number;
  entries: number;
  /** Bytes of file contents in the tree. */
  contentBytes: number;
  /** Bytes of the image the worker held in memory pieces (holes and sealed pieces excluded). */
  held: number;
  /** Milliseconds: reading the source (index, decompression) and writing the image. */
  readMs: number;
  writeMs: number;
  warnings: string[];
}
export interface PartitionSummary {
  index: number;
  start: number;
  size: number;
  type: string;
  name?: string | undefined;
  fs?: string | undefined;
  error?: string | undefined;
}
export interface OpenResult {
  handle: number;
  kind: string;
  size: number;
  info: Record<string, string | number | boolean>;
  partitions?: PartitionSummary[];
  warnings: string[];
}
export interface EntrySummary {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  target?: string;
  device?: [number, number];
  links: number;
}
export interface ListResult {
  path: string;
  entries: EntrySummary[];
}
export interface ReadResult {
  size: number;
  /** The first `limit` bytes (preview) or the whole file. */
  bytes?: Uint8Array;
  blob?: Blob;
}
export interface DiffResult {
  text: string;
  added: number;
  removed: number;
  changed: number;
}

export interface ErrorReport {
  name: string;
  message: string;
  code?: string;
  data?: unknown;
}

export interface ProgressReport {
  phase: string;
  done: number;
  total?: number | undefined;
  unit?: string | undefined;
  /** Milliseconds since the phase started. */
  elapsed: number;
  entries?: number | undefined;
}

export type Response =
  | { id: number; ok: true; result: unknown }
  | { id: number; ok: false; error: ErrorReport }
  | { id: number; progress: ProgressReport };
