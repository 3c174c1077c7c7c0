/**
 * The inspect side of the worker: images opened in place (Blob slices, a
 * few cached windows), their trees listed a directory at a time, files read
 * for a preview or as a Blob, two trees compared with diffTrees.
 */
import { isDisk, openDevice, type DiskImage, type FsImage } from '../../../src/core/open/index.js';
import { diffTrees, formatDiff } from '../../../src/core/diff/index.js';
import { UsageError } from '../../../src/core/errors.js';
import { joinPath } from '../../../src/core/tree/path.js';
import type { Content, TreeNode } from '../../../src/core/tree/types.js';
import type { DiffResult, EntrySummary, ListResult, OpenResult, ReadResult } from '../protocol.js';
import { blobSource } from './blob.js';
import { BlobSpool } from './store.js';

interface Opened {
  image: FsImage | DiskImage;
  links: Map<FsImage, Map<TreeNode, number>>;
}

const opened = new Map<number, Opened>();
let nextHandle = 1;

function plainInfo(info: Record<string, unknown>): Record<string, string | number | boolean> {
  const out: Record<string, string | number | boolean> = {};
  for (const [k, v] of Object.entries(info))
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out[k] = v;
  return out;
}

export async function openImage(file: File): Promise<OpenResult> {
  const image = await openDevice(blobSource(file), { name: file.name });
  const handle = nextHandle++;
  opened.set(handle, { image, links: new Map() });
  if (!isDisk(image))
    return { handle, kind: image.kind, size: image.size, info: plainInfo(image.info), warnings: image.warnings };
  return {
    handle,
    kind: image.kind,
    size: image.size,
    info: { partitions: image.partitions.length },
    warnings: image.alsoFound,
    partitions: image.partitions.map((p) => ({
      index: p.index,
      start: p.offset,
      size: p.size,
      type: p.type,
      name: p.name,
      fs: p.fs?.kind,
      error: p.fsError,
    })),
  };
}

function filesystem(handle: number, partition: number | undefined): { fs: FsImage; o: Opened } {
  const o = opened.get(handle);
  if (!o) throw new UsageError('E_USAGE_HANDLE', `no open image ${handle} (it was closed)`);
  if (!isDisk(o.image)) return { fs: o.image, o };
  const p = o.image.partitions.find((x) => x.index === partition);
  if (!p?.fs)
    throw new UsageError(
      'E_USAGE_NO_PARTITION',
      partition === undefined
        ? 'this is a partitioned disk: pick a partition'
        : `partition ${partition} holds no filesystem this page can read${p?.fsError ? `: ${p.fsError}` : ''}`,
      { field: 'partition', actual: partition },
    );
  return { fs: p.fs, o };
}

function summary(name: string, n: TreeNode, links: number): EntrySummary {
  return {
    name,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    size: n.type === 'file' ? n.content.size : 0,
    mtime: n.mtime.sec,
    links,
    ...(n.type === 'symlink' ? { target: n.target } : {}),
    ...(n.type === 'chardev' || n.type === 'blockdev' ? { device: [n.major, n.minor] as [number, number] } : {}),
  };
}

export function list(handle: number, partition: number | undefined, path: string): ListResult {
  const { fs, o } = filesystem(handle, partition);
  let links = o.links.get(fs);
  if (!links) o.links.set(fs, (links = fs.tree.linkCounts()));
  const entries = fs.readdir(path).map((name) => {
    const n = fs.lstat(joinPath(path, name));
    return summary(name, n, links.get(n) ?? 1);
  });
  return { path, entries };
}

async function head(c: Content, limit: number): Promise<Uint8Array> {
  const n = Math.min(limit, c.size);
  if (c.readAt) return c.readAt(0, n).slice();
  const out = new Uint8Array(n);
  let got = 0;
  for await (const chunk of c.stream()) {
    const take = Math.min(chunk.length, n - got);
    out.set(chunk.subarray(0, take), got);
    got += take;
    if (got >= n) break;
  }
  return out;
}

export async function read(
  handle: number,
  partition: number | undefined,
  path: string,
  limit?: number,
): Promise<ReadResult> {
  const { fs } = filesystem(handle, partition);
  const n = fs.stat(path);
  if (n.type !== 'file') throw new UsageError('E_USAGE_NOT_FILE', `${path} is a ${n.type}, not a file`, { path });
  if (limit !== undefined) return { size: n.content.size, bytes: await head(n.content, limit) };
  const spool = new BlobSpool();
  for await (const chunk of n.content.stream()) spool.write(chunk);
  return { size: n.content.size, blob: spool.finish() };
}

export async function diff(
  a: { handle: number; partition?: number | undefined },
  b: { handle: number; partition?: number | undefined },
): Promise<DiffResult> {
  const d = await diffTrees(filesystem(a.handle, a.partition).fs.tree, filesystem(b.handle, b.partition).fs.tree);
  const count = (c: string) => d.filter((e) => e.change === c).length;
  return { text: formatDiff(d), added: count('added'), removed: count('removed'), changed: count('changed') };
}

export function close(handle: number): void {
  opened.delete(handle);
}
