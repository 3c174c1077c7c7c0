/**
 * EROFS writer (uncompressed): FileTree -> BlockDevice, front to back.
 *
 *   block 0        1 KiB left free, the superblock, then the first inodes
 *   metadata       inodes with their xattrs and inline data (tails of files,
 *                  symlink targets, small directories), on 32-byte slots
 *   shared xattrs  attributes many inodes carry, stored once
 *   data           file blocks, directory blocks, data chunks of sparse files
 *
 * Everything is planned from metadata first (plan.ts: the inode order, every
 * nid, which attributes are shared, each inode's shape), so the image is
 * written in one pass with nothing to patch: the metadata area block by
 * block as its records complete (meta.ts), then the data. File contents
 * stream from Content; a file's inline tail is read in the metadata pass and
 * its whole blocks in the data pass.
 */
import { parse as uuidParse } from 'uuid';
import { crc32cUpdate } from '../../binary/crc.js';
import { CapacityError, HostIOError, UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { derivedGuid } from '../../partition/guid.js';
import { silentProgress, type Progress } from '../../progress.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import { toTimespec, type FileTree } from '../../tree/tree.js';
import type { Content, DirNode, Timespec, TreeNode } from '../../tree/types.js';
import { encodeDirBlocks } from './dir.js';
import { MetaBlocks, MetaPacker } from './meta.js';
import { SeqWriter } from './output.js';
import { nodeShape, plan as makePlan, recordSize, type Plan, type PlanOptions, type Shape } from './plan.js';
import { ContentSource } from './readcontent.js';
import {
  BLOCK_BITS,
  BLOCK_SIZE,
  EROFS_MAGIC,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  FT,
  ISLOT_SIZE,
  LAYOUT,
  NULL_ADDR,
  SUPER_OFFSET,
  SUPERBLOCK,
} from './structs.js';
import { encodeRecord } from './writeinode.js';

export interface ErofsOptions {
  /** Build time (seconds or a Timespec): the mtime of every compact inode. Default: the tree's most common mtime. */
  buildTime?: number | Timespec | undefined;
  /** Filesystem UUID (default: derived from the tree's metadata, the label and the build time). */
  uuid?: string | undefined;
  /** Volume name, up to 16 bytes. */
  label?: string | undefined;
  /** Keep the last partial block of files, symlinks and directories beside their inode (default true). */
  inlineData?: boolean | undefined;
  /** Store files whose content reports holes chunk-based, holes unmapped (default true). */
  sparse?: boolean | undefined;
  /** Write extended attributes (default true). */
  xattrs?: boolean | undefined;
  /** Store an attribute once, shared, when this many inodes carry it (default 3; 0: only when an inode needs it). */
  sharedXattrs?: number | undefined;
  /** Every file owned by root (uid 0, gid 0), like mkfs.erofs --all-root. */
  allRoot?: boolean | undefined;
  progress?: Progress | undefined;
  /** Receives warnings (attributes EROFS cannot name). */
  warn?: ((message: string) => void) | undefined;
}

export interface ErofsSummary {
  /** Image size in bytes (blocks * block size). */
  size: number;
  blocks: number;
  blockSize: number;
  inodes: number;
  compactInodes: number;
  extendedInodes: number;
  /** Inodes with data kept in the metadata block (tail packing). */
  inlineInodes: number;
  /** Sparse files stored chunk-based. */
  chunkedFiles: number;
  metaBlocks: number;
  dataBlocks: number;
  sharedXattrs: number;
  /** "path: name" of attributes EROFS has no prefix for (left out). */
  skippedXattrs: string[];
  buildTime: Timespec;
  uuid: string;
}

/** A planned image: its size is known; `write` writes it once. */
export interface PreparedErofs {
  readonly size: number;
  write(dev: BlockDevice): Promise<ErofsSummary>;
}

interface Layout {
  nids: Map<TreeNode, number>;
  metaBlocks: number;
  sharedBlocks: number;
  dataBlocks: number;
  compact: number;
  inline: number;
  chunked: number;
}

/** Offset of the first inode slot: right after the superblock. */
const FIRST_SLOT = SUPER_OFFSET + SUPERBLOCK.size;
const MAX_BLOCKS = 0xffffffff;

function options(tree: FileTree, opts: ErofsOptions): PlanOptions & { uuid: Uint8Array; label: Uint8Array } {
  const label = new TextEncoder().encode(opts.label ?? '');
  if (label.length > 16)
    throw new UsageError('E_USAGE_LABEL', `label '${opts.label}' is ${label.length} bytes; EROFS holds at most 16`, {
      field: 'label',
      actual: opts.label,
    });
  if (opts.uuid !== undefined && !/^[0-9a-f]{8}-([0-9a-f]{4}-){3}[0-9a-f]{12}$/i.test(opts.uuid))
    throw new UsageError('E_USAGE_UUID', `uuid '${opts.uuid}' is not a UUID`, { field: 'uuid', actual: opts.uuid });
  const shared = opts.sharedXattrs ?? 3;
  if (!Number.isInteger(shared) || shared < 0)
    throw new UsageError('E_USAGE_OPTION', `sharedXattrs must be a whole number >= 0, got ${shared}`, {
      field: 'sharedXattrs',
      actual: shared,
    });
  const buildTime = opts.buildTime !== undefined ? toTimespec(opts.buildTime) : undefined;
  const seed = `erofs\0${opts.label ?? ''}\0${buildTime ? `${buildTime.sec}.${buildTime.nsec}` : ''}`;
  const uuid = Uint8Array.from(uuidParse(opts.uuid ?? derivedGuid(`${seed}\0${treeFingerprint(tree)}`)));
  return {
    bs: BLOCK_SIZE,
    inlineData: opts.inlineData !== false,
    xattrs: opts.xattrs !== false,
    sharedMin: shared,
    allRoot: opts.allRoot === true,
    chunks: opts.sparse !== false,
    buildTime,
    uuid,
    label,
  };
}

/** Plan `tree` as an EROFS image: the size is known before anything is written. */
export function prepareErofs(tree: FileTree, opts: ErofsOptions = {}): PreparedErofs {
  const o = options(tree, opts);
  const p = makePlan(tree, o);
  const l = layout(p, o);
  const blocks = l.metaBlocks + l.sharedBlocks + l.dataBlocks;
  if (blocks > MAX_BLOCKS)
    throw new CapacityError('E_LIMIT_EROFS_BLOCKS', `the image needs ${blocks} blocks; EROFS addresses at most 2^32`, {
      actual: blocks,
      expected: MAX_BLOCKS,
    });
  let used = false;
  return {
    size: blocks * o.bs,
    async write(dev) {
      if (used) throw new UsageError('E_USAGE_REUSED', 'a prepared EROFS image can be written once', {});
      used = true;
      return writePlanned(tree, dev, p, l, o, opts);
    },
  };
}

/** Write `tree` as an EROFS image at the start of `dev` (which must hold prepareErofs(tree).size bytes). */
export async function writeErofs(tree: FileTree, dev: BlockDevice, opts: ErofsOptions = {}): Promise<ErofsSummary> {
  return prepareErofs(tree, opts).write(dev);
}

/** The image size `tree` needs, in bytes. */
export function erofsSize(tree: FileTree, opts: ErofsOptions = {}): number {
  return prepareErofs(tree, opts).size;
}

/** Place every record: nids, and the size of each area. */
function layout(p: Plan, o: PlanOptions): Layout {
  const nids = new Map<TreeNode, number>();
  const packer = new MetaPacker(o.bs, FIRST_SLOT);
  let dataBlocks = 0;
  let compact = 0;
  let inline = 0;
  let chunked = 0;
  for (const node of p.records) {
    const s = nodeShape(node, p, o);
    nids.set(node, packer.place(recordSize(s)) / ISLOT_SIZE);
    dataBlocks += s.blocks;
    if (!s.extended) compact++;
    if (s.inline) inline++;
    if (s.layout === LAYOUT.chunkBased) chunked++;
  }
  const metaBlocks = packer.finish();
  const sharedBlocks = Math.ceil(p.shared.size / o.bs);
  return { nids, metaBlocks, sharedBlocks, dataBlocks, compact, inline, chunked };
}

function fileType(n: TreeNode): number {
  return FT[n.type];
}

async function writePlanned(
  tree: FileTree,
  dev: BlockDevice,
  p: Plan,
  l: Layout,
  o: ReturnType<typeof options>,
  opts: ErofsOptions,
): Promise<ErofsSummary> {
  const bs = o.bs;
  const blocks = l.metaBlocks + l.sharedBlocks + l.dataBlocks;
  if (dev.size < blocks * bs)
    throw new CapacityError('E_SPACE_EROFS', `the EROFS image needs ${blocks * bs} bytes, the device has ${dev.size}`, {
      format: 'erofs',
      expected: blocks * bs,
      actual: dev.size,
    });
  const progress = opts.progress ?? silentProgress;
  const out = new SeqWriter(dev);
  const sb = superblock(p, l, o, blocks);
  const meta = new MetaBlocks(bs, (addr, block) => {
    if (addr === 0) sealBlockZero(block, sb, bs);
    out.write(block);
  });
  progress.start('writing erofs', p.bytes, 'bytes');
  await metaPass(tree, p, l, o, meta, progress);
  if (out.pos !== l.metaBlocks * bs) throw new Error(`erofs: metadata ended at ${out.pos}`);
  if (l.sharedBlocks) out.write(p.shared.encode(bs));
  await dataPass(tree, p, l, o, out, progress);
  out.flush();
  dev.flush();
  progress.done();
  if (out.pos !== blocks * bs) throw new Error(`erofs: wrote ${out.pos} bytes, planned ${blocks * bs}`);
  const warn = opts.warn ?? (() => {});
  for (const s of p.skippedXattrs)
    warn(`erofs: extended attribute left out (EROFS names only user., trusted., security., lustre. and ACLs): ${s}`);
  return {
    size: blocks * bs,
    blocks,
    blockSize: bs,
    inodes: p.records.length,
    compactInodes: l.compact,
    extendedInodes: p.records.length - l.compact,
    inlineInodes: l.inline,
    chunkedFiles: l.chunked,
    metaBlocks: l.metaBlocks,
    dataBlocks: l.dataBlocks,
    sharedXattrs: p.shared.items.length,
    skippedXattrs: p.skippedXattrs,
    buildTime: p.buildTime,
    uuid: formatUuid(o.uuid),
  };
}

function formatUuid(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

function superblock(p: Plan, l: Layout, o: ReturnType<typeof options>, blocks: number): Uint8Array {
  return SUPERBLOCK.encode({
    magic: EROFS_MAGIC,
    checksum: 0,
    featureCompat: FEATURE_COMPAT.sbChecksum,
    blkszbits: BLOCK_BITS,
    sbExtslots: 0,
    rootNid: l.nids.get(p.records[0]!)!,
    inos: p.records.length,
    buildTime: p.buildTime.sec,
    buildTimeNsec: p.buildTime.nsec,
    blocks,
    metaBlkaddr: 0,
    xattrBlkaddr: l.sharedBlocks ? l.metaBlocks : 0,
    uuid: o.uuid,
    volumeName: o.label,
    featureIncompat: l.chunked ? FEATURE_INCOMPAT.chunkedFile : 0,
  });
}

/** Put the superblock into block 0 and checksum it: crc32c (seed ~0, no final inversion) of block 0 from 1 KiB on. */
function sealBlockZero(block: Uint8Array, sb: Uint8Array, bs: number): void {
  block.set(sb, SUPER_OFFSET);
  const crc = crc32cUpdate(0xffffffff, block, SUPER_OFFSET, bs);
  new DataView(block.buffer, block.byteOffset).setUint32(SUPER_OFFSET + SUPERBLOCK.offsetOf('checksum'), crc, true);
}

/** Where a node is in the tree (for error messages only: a walk). */
function pathOf(tree: FileTree, node: TreeNode): string {
  for (const e of tree.walk()) if (e.node === node) return e.path;
  return '?';
}

/** Run `fn`; a content error that names no path gets the node's. */
async function naming<T>(tree: FileTree, node: TreeNode, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    if (e instanceof HostIOError && e.data.path === '') {
      const path = pathOf(tree, node);
      throw new HostIOError(e.code, path + e.message, { ...e.data, path }, { cause: e });
    }
    throw e;
  }
}

function dirEntry(p: Plan, l: Layout, dir: DirNode) {
  return (name: string) => {
    const n: TreeNode = name === '.' ? dir : name === '..' ? p.parents.get(dir)! : dir.children.get(name)!;
    return { name, nid: l.nids.get(n)!, fileType: fileType(n) };
  };
}

/** The metadata area: every record in order, replaying the layout's placement. */
async function metaPass(
  tree: FileTree,
  p: Plan,
  l: Layout,
  o: PlanOptions,
  meta: MetaBlocks,
  progress: Progress,
): Promise<void> {
  const bs = o.bs;
  // a block closes when a record fills it: close it once that record is in it
  const closing: number[] = [];
  const packer = new MetaPacker(bs, FIRST_SLOT, (addr) => closing.push(addr));
  let next = l.metaBlocks + l.sharedBlocks;
  for (let i = 0; i < p.records.length; i++) {
    const node = p.records[i]!;
    const s = nodeShape(node, p, o);
    const at = packer.place(recordSize(s));
    if (at / ISLOT_SIZE !== l.nids.get(node))
      throw new Error(`erofs: inode ${i} placed at ${at}, planned at nid ${l.nids.get(node)}`);
    const blkaddr = s.blocks ? next : NULL_ADDR;
    next += s.blocks;
    const rec = encodeRecord({ node, shape: s, ino: i + 1, blkaddr, shared: p.shared });
    if (s.inline) {
      const target = rec.bytes.subarray(rec.inlineAt, rec.inlineAt + s.inline);
      await inlineData(tree, node, s, p, l, target, bs);
      progress.tick(node.type === 'file' ? s.inline : 0);
    }
    meta.put(at, rec.bytes);
    for (const addr of closing.splice(0)) meta.close(addr);
  }
  packer.finish();
  for (const addr of closing.splice(0)) meta.close(addr);
}

/** The tail kept beside the inode: a file's last partial block, a symlink's target, a directory's last block. */
async function inlineData(
  tree: FileTree,
  node: TreeNode,
  s: Shape,
  p: Plan,
  l: Layout,
  target: Uint8Array,
  bs: number,
): Promise<void> {
  if (node.type === 'file') {
    const src = new ContentSource(node.content, '');
    await naming(tree, node, async () => {
      try {
        await src.read(s.blocks * bs, target);
        await src.finish();
      } finally {
        await src.close();
      }
    });
  } else if (node.type === 'symlink') target.set(new TextEncoder().encode(node.target));
  else if (node.type === 'dir') {
    encodeDirBlocks(p.names.get(node)!, dirEntry(p, l, node), bs, s.blocks, s.blocks + 1, (_, b) => target.set(b));
  }
}

/** The data area: each record's blocks in record order. */
async function dataPass(
  tree: FileTree,
  p: Plan,
  l: Layout,
  o: PlanOptions,
  out: SeqWriter,
  progress: Progress,
): Promise<void> {
  const bs = o.bs;
  for (const node of p.records) {
    if (node.type === 'chardev' || node.type === 'blockdev' || node.type === 'fifo' || node.type === 'socket') continue;
    const s = nodeShape(node, p, o);
    if (s.blocks === 0) continue;
    const start = out.pos;
    if (node.type === 'file') await naming(tree, node, () => fileBlocks(node.content, s, bs, out, progress));
    else if (node.type === 'symlink') {
      out.write(new TextEncoder().encode(node.target));
      out.zeros(s.blocks * bs - s.size);
    } else if (node.type === 'dir') {
      encodeDirBlocks(p.names.get(node)!, dirEntry(p, l, node), bs, 0, s.blocks, (_, b) => {
        out.write(b);
        if (b.length < bs) out.zeros(bs - b.length);
      });
    }
    if (out.pos !== start + s.blocks * bs) throw new Error(`erofs: data of an inode took ${out.pos - start} bytes`);
  }
}

/** A file's blocks: whole blocks (the tail too when not inline), or the data chunks of a chunk-based file. */
async function fileBlocks(content: Content, s: Shape, bs: number, out: SeqWriter, progress: Progress): Promise<void> {
  const src = new ContentSource(content, '');
  const copy = async (from: number, len: number) => {
    let done = 0;
    while (done < len) {
      const room = out.room(len - done);
      await src.read(from + done, room);
      out.advance(room.length);
      done += room.length;
    }
    progress.tick(len);
  };
  try {
    if (s.layout === LAYOUT.chunkBased) {
      const chunk = bs * 2 ** s.chunkBits!;
      const chunks = s.dataChunks!;
      for (let k = 0; k < chunks.length; k++) {
        if (!chunks[k]) continue;
        const len = Math.min(chunk, s.size - k * chunk);
        await copy(k * chunk, len);
        out.zeros(Math.ceil(len / bs) * bs - len);
      }
    } else {
      const len = Math.min(s.size, s.blocks * bs);
      await copy(0, len);
      out.zeros(s.blocks * bs - len);
    }
    if (s.layout !== LAYOUT.flatInline) await src.finish();
  } finally {
    await src.close();
  }
}
