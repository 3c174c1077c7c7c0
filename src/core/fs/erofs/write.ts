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
import { CapacityError, UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { derivedGuid } from '../../partition/guid.js';
import { silentProgress, type Progress } from '../../progress.js';
import { treeFingerprint } from '../../tree/fingerprint.js';
import { toTimespec, type FileTree } from '../../tree/tree.js';
import type { Timespec } from '../../tree/types.js';
import { layout, type Layout } from './layout.js';
import { MetaBlocks } from './meta.js';
import { SeqWriter } from './output.js';
import { plan as makePlan, type Plan, type PlanOptions } from './plan.js';
import {
  BLOCK_BITS,
  BLOCK_SIZE,
  EROFS_MAGIC,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  SUPER_OFFSET,
  SUPERBLOCK,
} from './structs.js';
import { dataPass } from './writedata.js';
import { metaPass } from './writemeta.js';

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
  const c = { tree, p, l, o, progress };
  await metaPass(c, meta);
  if (out.pos !== l.metaBlocks * bs) throw new Error(`erofs: metadata ended at ${out.pos}`);
  if (l.sharedBlocks) out.write(p.shared.encode(bs));
  await dataPass(c, out);
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
