/**
 * The ext2/ext3/ext4 writer. Everything is planned in memory first (inode
 * numbers, directory blocks, xattr layout, block estimates, geometry), the
 * capacity is checked before a single byte is written, then file data is
 * streamed into contiguous blocks with large sequential writes (all-zero
 * blocks become holes), and finally the metadata (extent/indirect blocks,
 * inode tables of used inodes only, bitmaps, group descriptors, superblocks
 * and their backups) is written. Free space is never written.
 *
 * One file per step: writeplan.ts (the plan), writesize.ts (geometry and
 * capacity), writealloc.ts (block allocation), writedata.ts (file data),
 * writeinodes.ts (directories, xattr blocks, block maps, inode tables),
 * writejournal.ts, writesuper.ts (bitmaps, descriptors, superblocks); this
 * file runs them in order.
 */
import type { BlockDevice } from '../../io/device.js';
import { silentProgress } from '../../progress.js';
import { treeFingerprintShared } from '../../tree/fingerprint.js';
import type { FileTree } from '../../tree/tree.js';
import { BlockWriter } from './blockwriter.js';
import { uuidString } from './fields.js';
import { resolveConfig, type Ext4Options, type ExtType } from './options.js';
import { featureNames } from './structs.js';
import { placeMetadata } from './writealloc.js';
import { DATA_CHUNK, type DataWriter } from './writedata.js';
import { writeDirBlocks, writeInodes, writeXattrBlocks, type WriteCtx } from './writeinodes.js';
import { writeJournal } from './writejournal.js';
import { plan, type Plan } from './writeplan.js';
import { autoBlocks, fixedGeometry } from './writesize.js';
import { writeGroups, writeSuperblocks } from './writesuper.js';

export type { Ext4Options } from './options.js';

export interface Ext4Summary {
  type: ExtType;
  /** Filesystem size in bytes. */
  size: number;
  blockSize: number;
  blocksCount: number;
  freeBlocks: number;
  inodesCount: number;
  freeInodes: number;
  groups: number;
  uuid: string;
  hashSeed: string;
  label: string;
  features: string[];
  journalBlocks: number;
  /** Bytes of file data written (holes excluded). */
  dataBytes: number;
}

/** The smallest size (bytes, whole MiB) that holds the tree plus headroom. */
export function ext4MinimumSize(tree: FileTree, opts: Ext4Options = {}): number {
  return prepareExt4(tree, opts).minimumSize;
}

/** A planned filesystem: the minimum size is known, `write` writes it once. */
export interface PreparedExt4 {
  /** Smallest size in bytes (whole MiB) holding the tree plus headroom. */
  readonly minimumSize: number;
  /** Write to `dev` (size: opts.size, else the device size). Callable once. */
  write(dev: BlockDevice, size?: number): Promise<Ext4Summary>;
}

/**
 * Plan once, then size and write: what `ext4MinimumSize` + `writeExt4` do
 * without walking and planning the tree twice. The tree must not change
 * between the two steps.
 */
export function prepareExt4(tree: FileTree, opts: Ext4Options = {}): PreparedExt4 {
  // the fingerprint (for default ids) also tells the plan which nodes have more than one name
  const fp = opts.uuid !== undefined && opts.hashSeed !== undefined ? undefined : treeFingerprintShared(tree);
  const cfg = resolveConfig(opts, fp?.fingerprint ?? '');
  const p = plan(tree, cfg, fp?.shared);
  let min: number | undefined;
  let used = false;
  return {
    get minimumSize() {
      min ??= autoBlocks(p).blocks * cfg.blockSize;
      return min;
    },
    write(dev, size) {
      if (used) throw new Error('prepareExt4().write() may be called only once');
      used = true;
      return writePlanned(p, dev, { ...opts, size: size ?? opts.size });
    },
  };
}

/**
 * Write `tree` as an ext2/3/4 filesystem on `dev` (from offset 0; the size is
 * opts.size or the device size). Throws CapacityError (E_SPACE_FS, naming the
 * bytes needed) before writing anything when the tree does not fit.
 */
export async function writeExt4(tree: FileTree, dev: BlockDevice, opts: Ext4Options = {}): Promise<Ext4Summary> {
  return prepareExt4(tree, opts).write(dev);
}

async function writePlanned(p: Plan, dev: BlockDevice, opts: Ext4Options): Promise<Ext4Summary> {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const g = fixedGeometry(p, opts.size ?? dev.size, dev.size);
  const { al, groups } = placeMetadata(cfg, g);
  const ctx: WriteCtx = { cfg, g, dev, al, w: new BlockWriter(dev, B, 0), fsSeed: p.fsSeed };
  const early = writeDirBlocks(ctx, p);
  const acl = writeXattrBlocks(ctx, p);
  const journal = g.journalBlocks ? writeJournal(ctx) : undefined;
  const progress = opts.progress ?? silentProgress;
  progress.start(`writing ${cfg.type}`, p.dataBytes, 'bytes');
  const data: DataWriter = { B, al, w: ctx.w, progress, scratch: new Uint8Array(DATA_CHUNK), dataBytes: 0 };
  const inodes = await writeInodes(ctx, p, groups.inodeTable, { early, acl, journal, data });
  ctx.w.flush();
  progress.done();
  const dataBytes = data.dataBytes;
  const { gdt, free } = writeGroups(ctx, groups, inodes);
  writeSuperblocks(ctx, gdt, free, journal);
  dev.flush();
  return {
    type: cfg.type,
    size: g.blocks * B,
    blockSize: B,
    blocksCount: g.blocks,
    freeBlocks: free.blocks,
    inodesCount: g.inodes,
    freeInodes: free.inodes,
    groups: g.groups,
    uuid: uuidString(cfg.uuid),
    hashSeed: uuidString(cfg.hashSeed),
    label: opts.label ?? '',
    features: featureNames(cfg.set),
    journalBlocks: g.journalBlocks,
    dataBytes,
  };
}
