/**
 * squashfs 4.0 writer: FileTree -> SquashfsOutput, front to back.
 *
 *   superblock (placeholder, patched last)
 *   data blocks and fragment blocks        writedata.ts
 *   inode table, directory table           writeinodes.ts
 *   fragment table (blocks + index)
 *   export table (blocks + index)
 *   id table (blocks + index)
 *   xattr table, xattr id table (+ index)  writexattr.ts
 *
 * This order is the one the kernel checks at mount (each table's index must
 * end where the next table begins). File data streams from Content and is
 * never held whole; per-file state is a FileData (a few words and one size
 * word per block).
 */
import { UsageError } from '../../errors.js';
import { silentProgress, type Progress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import type { TreeNode } from '../../tree/types.js';
import {
  checkCompression,
  DEFAULT_GZIP_LEVEL,
  DEFAULT_ZSTD_LEVEL,
  fflateCompressor,
  zstdCompressor,
  type BlockCompressor,
} from './compress.js';
import { tableBlocks } from './meta.js';
import type { SquashfsOutput } from './output.js';
import { plan as makePlan, postOrder, type WalkEvent } from './plan.js';
import {
  COMPRESSION,
  FLAG,
  FRAGMENT_ENTRY,
  ID_ENTRY_SIZE,
  INVALID_TABLE,
  LOOKUP_ENTRY_SIZE,
  MAX_BLOCK_LOG,
  MIN_BLOCK_LOG,
  SQUASHFS_MAGIC,
  SQUASHFS_MAJOR,
  SQUASHFS_MINOR,
  SUPERBLOCK,
  XATTR_ID_TABLE,
  type CompressionName,
} from './structs.js';
import { DataWriter, type FileData } from './writedata.js';
import { InodeWriter } from './writeinodes.js';
import { XattrTable } from './writexattr.js';

export interface SquashfsOptions {
  /** Data block size, a power of two from 4 KiB to 1 MiB (default 128 KiB). */
  blockSize?: number | undefined;
  /** Compression: 'gzip' (zlib streams, the default) or 'zstd'; others are a UsageError (see docs/squashfs.md). */
  compression?: CompressionName | undefined;
  /** gzip level 1..9 (default 9) or zstd level 1..22 (default 15), like mksquashfs. Ignored when `compressor` is given. */
  level?: number | undefined;
  /** The block compressor; default the pure fflate one (the Node API passes node:zlib's). */
  compressor?: BlockCompressor | undefined;
  /** Pack files smaller than a block into shared fragment blocks (default true; mksquashfs -no-fragments turns it off). */
  fragments?: boolean | undefined;
  /** Also pack the tails of files larger than a block (mksquashfs -always-use-fragments; default false). */
  tailPacking?: boolean | undefined;
  /** Store identical files once (default true). */
  dedupe?: boolean | undefined;
  /** Store all-zero blocks as holes (default true). */
  sparse?: boolean | undefined;
  /** Write the export (inode lookup) table, for NFS export (default true). */
  exportTable?: boolean | undefined;
  /** Write extended attributes (default true). */
  xattrs?: boolean | undefined;
  /** Every file owned by root (uid 0, gid 0), like mksquashfs -all-root. */
  allRoot?: boolean | undefined;
  /** Filesystem creation time in seconds (default: the newest mtime in the tree). Never the clock. */
  mkfsTime?: number | undefined;
  /** Pad the image with zeros to a multiple of this many bytes (default 4096, like mksquashfs; 0 = none). */
  padding?: number | undefined;
  /** Store blocks that look random without trying to compress them (default true). */
  detectIncompressible?: boolean | undefined;
  progress?: Progress | undefined;
  /** Receives warnings (times clamped, xattrs left out). */
  warn?: ((message: string) => void) | undefined;
}

export interface SquashfsSummary {
  /** Bytes written, padding included. */
  size: number;
  /** The superblock's bytes_used (image without padding). */
  bytesUsed: number;
  blockSize: number;
  compression: CompressionName;
  inodes: number;
  files: number;
  dirs: number;
  fragments: number;
  ids: number;
  xattrIds: number;
  /** Files stored as references to an identical earlier file. */
  duplicates: number;
  /** Uncompressed bytes of distinct file contents read. */
  dataBytes: number;
  /** Blocks stored uncompressed without trying (they looked random). */
  incompressibleBlocks: number;
  /** Nodes whose mtime lay outside 1970..2106 and was clamped. */
  clampedTimes: number;
  /** "path: name" of extended attributes outside user./trusted./security. (not stored). */
  skippedXattrs: string[];
  mkfsTime: number;
}

const DEFAULT_BLOCK = 128 * 1024;

function blockLog(bs: number): number {
  const log = Math.log2(bs);
  if (!Number.isInteger(log) || log < MIN_BLOCK_LOG || log > MAX_BLOCK_LOG) {
    throw new UsageError('E_USAGE_SQUASHFS_BLOCK_SIZE', `block size ${bs} is not a power of two from 4096 to 1048576`, {
      field: 'blockSize',
      actual: bs,
    });
  }
  return log;
}

/** Write `tree` as a squashfs 4.0 image to `out`. */
export async function writeSquashfs(
  tree: FileTree,
  out: SquashfsOutput,
  opts: SquashfsOptions = {},
): Promise<SquashfsSummary> {
  const bs = opts.blockSize ?? DEFAULT_BLOCK;
  const log = blockLog(bs);
  const compression = checkCompression(opts.compression ?? opts.compressor?.name ?? 'gzip');
  if (opts.compressor && opts.compressor.name !== compression) {
    throw new UsageError(
      'E_USAGE_SQUASHFS_COMPRESSION',
      `squashfs compression '${compression}' was asked for, but the compressor given writes '${opts.compressor.name}'`,
      { field: 'compression', actual: opts.compressor.name, expected: compression },
    );
  }
  const comp =
    opts.compressor ??
    (compression === 'zstd'
      ? await zstdCompressor(opts.level ?? DEFAULT_ZSTD_LEVEL)
      : fflateCompressor(opts.level ?? DEFAULT_GZIP_LEVEL));
  const progress = opts.progress ?? silentProgress;
  const warn = opts.warn ?? (() => {});
  const p = makePlan(tree, opts.allRoot === true);
  const mkfsTime = Math.min(
    0xffffffff,
    Math.max(0, Math.floor(opts.mkfsTime ?? (p.newestMtime > -Infinity ? p.newestMtime : 0))),
  );

  await out.write(new Uint8Array(SUPERBLOCK.size));
  const dw = new DataWriter(out, comp, SUPERBLOCK.size, {
    blockSize: bs,
    fragments: opts.fragments !== false,
    tailPacking: opts.tailPacking === true,
    dedupe: opts.dedupe !== false,
    sparse: opts.sparse !== false,
    detectIncompressible: opts.detectIncompressible !== false,
    progress,
  });
  let clamped = 0;
  const xattrs = opts.xattrs === false ? undefined : new XattrTable(comp);
  const data: Array<FileData | undefined> = new Array(p.count);
  const iw = new InodeWriter(comp, {
    tree,
    plan: p,
    data,
    xattrs,
    allRoot: opts.allRoot === true,
    onClamp: () => {
      clamped++;
    },
  });
  progress.start('writing squashfs', p.bytes, 'bytes');
  await walkAndEmit(tree, p.numbers, dw, iw, data);
  progress.done();
  await iw.finish();
  if (xattrs) await xattrs.kv.finish();

  const pipe = dw.pipe;
  const put = async (chunks: Uint8Array[]) => {
    for (const c of chunks) await pipe.writeRaw(c);
  };
  const inodeTableStart = pipe.pos;
  await put(iw.inodes.blocks);
  const directoryTableStart = pipe.pos;
  await put(iw.dirs.blocks);

  const fragCount = dw.fragStarts.length;
  const fragEntries = new Uint8Array(fragCount * FRAGMENT_ENTRY.size);
  for (let i = 0; i < fragCount; i++)
    FRAGMENT_ENTRY.encode(
      { startBlock: dw.fragStarts[i]!, size: dw.fragWords[i]!, unused: 0 },
      fragEntries,
      i * FRAGMENT_ENTRY.size,
    );
  const fragmentTableStart = await writeTable(comp, pipe, fragEntries);

  let lookupTableStart = INVALID_TABLE;
  if (opts.exportTable !== false) {
    const e = new Uint8Array(p.count * LOOKUP_ENTRY_SIZE);
    const v = new DataView(e.buffer);
    for (let i = 0; i < p.count; i++) v.setBigUint64(i * LOOKUP_ENTRY_SIZE, BigInt(iw.refs[i]!), true);
    lookupTableStart = await writeTable(comp, pipe, e);
  }
  const idEntries = new Uint8Array(p.idList.length * ID_ENTRY_SIZE);
  const iv = new DataView(idEntries.buffer);
  p.idList.forEach((id, i) => iv.setUint32(i * ID_ENTRY_SIZE, id, true));
  const idTableStart = await writeTable(comp, pipe, idEntries);

  let xattrIdTableStart = INVALID_TABLE;
  if (xattrs && xattrs.count > 0) {
    const xattrTableStart = pipe.pos;
    await put(xattrs.kv.blocks);
    const t = await tableBlocks(comp, xattrs.idEntries(), pipe.pos);
    await put(t.blocks);
    xattrIdTableStart = pipe.pos;
    await pipe.writeRaw(XATTR_ID_TABLE.encode({ xattrTableStart, xattrIds: xattrs.count, unused: 0 }));
    await pipe.writeRaw(t.index);
  }
  const bytesUsed = pipe.pos;
  const padTo = opts.padding ?? 4096;
  if (padTo > 0 && bytesUsed % padTo) await pipe.writeRaw(new Uint8Array(padTo - (bytesUsed % padTo)));

  let flags = 0;
  if (opts.fragments === false) flags |= FLAG.noFragments;
  if (opts.tailPacking === true) flags |= FLAG.alwaysFragments;
  if (opts.dedupe !== false) flags |= FLAG.duplicates;
  if (lookupTableStart !== INVALID_TABLE) flags |= FLAG.exportable;
  if (xattrIdTableStart === INVALID_TABLE) flags |= FLAG.noXattrs;
  await out.patch(
    0,
    SUPERBLOCK.encode({
      magic: SQUASHFS_MAGIC,
      inodes: p.count,
      mkfsTime,
      blockSize: bs,
      fragments: fragCount,
      compression: COMPRESSION[comp.name],
      blockLog: log,
      flags,
      noIds: p.idList.length,
      major: SQUASHFS_MAJOR,
      minor: SQUASHFS_MINOR,
      rootInode: iw.rootRef,
      bytesUsed,
      idTableStart,
      xattrIdTableStart,
      inodeTableStart,
      directoryTableStart,
      fragmentTableStart,
      lookupTableStart,
    }),
  );
  const skippedXattrs = xattrs?.skipped ?? [];
  for (const s of skippedXattrs)
    warn(`squashfs: extended attribute left out (only user., trusted. and security. exist in squashfs): ${s}`);
  if (clamped)
    warn(
      `squashfs: ${clamped} modification time(s) outside 1970..2106 were clamped (squashfs keeps unsigned 32-bit seconds)`,
    );
  return {
    size: pipe.pos,
    bytesUsed,
    blockSize: bs,
    compression: comp.name,
    inodes: p.count,
    files: p.files,
    dirs: p.dirs,
    fragments: fragCount,
    ids: p.idList.length,
    xattrIds: xattrs?.count ?? 0,
    duplicates: dw.duplicates,
    dataBytes: dw.dataBytes,
    incompressibleBlocks: pipe.skipped,
    clampedTimes: clamped,
    skippedXattrs,
    mkfsTime,
  };
}

/**
 * One walk, two workers: the walk reads each file's data into the pipe, and
 * an emitter follows behind it writing inodes and directories as soon as the
 * data they describe is written, so metadata compression overlaps file
 * reading instead of following it.
 */
async function walkAndEmit(
  tree: FileTree,
  numbers: Map<TreeNode, number>,
  dw: DataWriter,
  iw: InodeWriter,
  data: Array<FileData | undefined>,
): Promise<void> {
  const queue: WalkEvent[] = [];
  let head = 0,
    finished = false,
    failed: unknown;
  let wake: (() => void) | undefined;
  let room: (() => void) | undefined;
  const emitter = (async () => {
    for (;;) {
      if (head < queue.length) {
        const e = queue[head++]!;
        if (head === queue.length || head > 4096) {
          queue.splice(0, head);
          head = 0;
        }
        const p = iw.handle(e);
        if (p) await p;
        if (room && queue.length - head < EMIT_QUEUE / 2) {
          room();
          room = undefined;
        }
        continue;
      }
      if (finished) return;
      await new Promise<void>((r) => {
        wake = r;
      });
    }
  })().catch((e: unknown) => {
    failed = e;
    if (room) room();
  });
  let walkError: unknown;
  try {
    for (const e of postOrder(tree.root)) {
      if (failed) break;
      if (e.kind === 'leaf' && e.node.type === 'file') {
        const i = numbers.get(e.node)! - 1;
        if (!data[i]) {
          const d = dw.addFile(e.node.content, e.path);
          data[i] = d instanceof Promise ? await d : d;
        }
      }
      queue.push(e);
      if (wake) {
        wake();
        wake = undefined;
      }
      if (queue.length - head > EMIT_QUEUE) {
        // the emitter may be waiting for blocks still queued in the pipe: write them first
        await dw.pipe.drain();
        if (queue.length - head > EMIT_QUEUE && !failed)
          await new Promise<void>((r) => {
            room = r;
          });
      }
    }
    if (!failed) await dw.finish();
  } catch (e) {
    walkError = e;
  }
  finished = true;
  wake?.();
  // after a failed walk the emitter may wait for blocks that will never be written: leave it
  if (walkError) throw walkError;
  await emitter;
  if (failed) throw failed;
}

/** Events the emitter may lag behind the walk (bounds the queue's memory). */
const EMIT_QUEUE = 8192;

/** A lookup table: its metadata blocks, then their index; returns where the index starts. */
async function writeTable(comp: BlockCompressor, pipe: DataWriter['pipe'], entries: Uint8Array): Promise<number> {
  const t = await tableBlocks(comp, entries, pipe.pos);
  for (const b of t.blocks) await pipe.writeRaw(b);
  const start = pipe.pos;
  await pipe.writeRaw(t.index);
  return start;
}
