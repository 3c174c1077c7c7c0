/**
 * The superblock and the tables it points at, validated the way the kernel
 * does at mount and a little more: every table lies inside bytes_used, in
 * the order mksquashfs writes them, and each index only points backwards
 * into its own table, before anything is allocated from a count.
 */
import type { BlockDevice } from '../../io/device.js';
import { compressionName, decompressorFor, type BlockDecompressor } from './compress.js';
import { fail, MetaReader, readIndex } from './readmeta.js';
import {
  ID_ENTRY_SIZE,
  INVALID_TABLE,
  LOOKUP_ENTRY_SIZE,
  MAX_BLOCK_LOG,
  METADATA_SIZE,
  MIN_BLOCK_LOG,
  SQUASHFS_MAGIC,
  SQUASHFS_MAJOR,
  SQUASHFS_MINOR,
  SUPERBLOCK,
  XATTR_ID,
  XATTR_ID_TABLE,
  FRAGMENT_ENTRY,
} from './structs.js';

export type Superblock = ReturnType<typeof SUPERBLOCK.decode>;

export interface Tables {
  sb: Superblock;
  decompress: BlockDecompressor;
  inodes: MetaReader;
  dirs: MetaReader;
  ids: Uint32Array;
  /** Absolute offsets of the fragment table's metadata blocks. */
  fragIndex: number[];
  frags: MetaReader | undefined;
  xattrIds: number;
  xattrIndex: number[];
  xattrIdMeta: MetaReader | undefined;
  xattrKv: MetaReader | undefined;
  /** Data blocks lie in [dataStart, dataEnd). */
  dataStart: number;
  dataEnd: number;
}

const blocksFor = (entries: number, size: number) => Math.ceil((entries * size) / METADATA_SIZE);

export function readSuperblock(dev: BlockDevice): Superblock {
  if (dev.size < SUPERBLOCK.size)
    throw fail('E_FORMAT_SQUASHFS_TRUNCATED', `device of ${dev.size} bytes is too small for a superblock`, {
      expected: SUPERBLOCK.size,
      actual: dev.size,
    });
  const sb = SUPERBLOCK.decode(dev.readAt(0, SUPERBLOCK.size));
  if (sb.magic !== SQUASHFS_MAGIC)
    throw fail('E_FORMAT_SQUASHFS_MAGIC', `no 'hsqs' magic at offset 0: not a squashfs image`, {
      structure: 'superblock',
      field: 'magic',
      offset: 0,
      actual: sb.magic,
    });
  if (sb.major !== SQUASHFS_MAJOR || sb.minor !== SQUASHFS_MINOR) {
    throw fail('E_FORMAT_SQUASHFS_VERSION', `version ${sb.major}.${sb.minor} is not supported (only 4.0)`, {
      structure: 'superblock',
      field: 's_major',
      actual: `${sb.major}.${sb.minor}`,
    });
  }
  if (sb.blockLog < MIN_BLOCK_LOG || sb.blockLog > MAX_BLOCK_LOG || sb.blockSize !== 2 ** sb.blockLog) {
    throw fail(
      'E_FORMAT_SQUASHFS_BLOCK_SIZE',
      `block size ${sb.blockSize} / log ${sb.blockLog} is not a power of two from 4 KiB to 1 MiB`,
      { structure: 'superblock', field: 'block_size', actual: sb.blockSize },
    );
  }
  if (sb.bytesUsed < SUPERBLOCK.size || sb.bytesUsed > dev.size) {
    throw fail(
      'E_FORMAT_SQUASHFS_TRUNCATED',
      `bytes_used ${sb.bytesUsed} does not fit the device (${dev.size} bytes)`,
      { structure: 'superblock', field: 'bytes_used', expected: dev.size, actual: sb.bytesUsed },
    );
  }
  if (sb.inodes === 0)
    throw fail('E_FORMAT_SQUASHFS_SUPER', 'the superblock counts no inodes', {
      structure: 'superblock',
      field: 'inodes',
      actual: 0,
    });
  if (sb.noIds === 0)
    throw fail('E_FORMAT_SQUASHFS_SUPER', 'the superblock counts no uid/gid ids', {
      structure: 'superblock',
      field: 'no_ids',
      actual: 0,
    });
  return sb;
}

function within(start: number, len: number, field: string, end: number): void {
  if (start < SUPERBLOCK.size || start + len > end) {
    throw fail('E_FORMAT_SQUASHFS_TABLE', `${field} ${start} (+${len} bytes) lies outside ${SUPERBLOCK.size}..${end}`, {
      structure: 'superblock',
      field,
      actual: start,
      expected: end,
    });
  }
}

/** Validate the table layout and read the small tables (ids, indexes). */
export function readTables(dev: BlockDevice, sb: Superblock): Tables {
  const decompress = decompressorFor(sb.compression);
  if (!decompress) {
    throw fail(
      'E_FORMAT_SQUASHFS_COMPRESSION',
      `${compressionName(sb.compression)} compression is not supported for reading (gzip and zstd are)`,
      { structure: 'superblock', field: 'compression', actual: sb.compression },
    );
  }
  let next = sb.bytesUsed;
  let xattrIds = 0,
    xattrIndex: number[] = [],
    xattrIdMeta: MetaReader | undefined,
    xattrKv: MetaReader | undefined;
  if (sb.xattrIdTableStart !== INVALID_TABLE) {
    within(sb.xattrIdTableStart, XATTR_ID_TABLE.size, 'xattr_id_table_start', next);
    const h = XATTR_ID_TABLE.decode(dev.readAt(sb.xattrIdTableStart, XATTR_ID_TABLE.size));
    xattrIds = h.xattrIds;
    const n = blocksFor(xattrIds, XATTR_ID.size);
    within(sb.xattrIdTableStart + XATTR_ID_TABLE.size, n * 8, 'xattr id index', next);
    if (xattrIds > 0) {
      within(h.xattrTableStart, 0, 'xattr_table_start', sb.xattrIdTableStart);
      xattrIndex = readIndex(
        dev,
        sb.xattrIdTableStart + XATTR_ID_TABLE.size,
        n,
        h.xattrTableStart + 1,
        'xattr id table',
      );
      xattrIdMeta = new MetaReader(dev, decompress, 0, sb.xattrIdTableStart, 'xattr id table');
      xattrKv = new MetaReader(dev, decompress, h.xattrTableStart, xattrIndex[0]!, 'xattr table');
      next = h.xattrTableStart;
    }
  }
  const idBlocks = blocksFor(sb.noIds, ID_ENTRY_SIZE);
  within(sb.idTableStart, idBlocks * 8, 'id_table_start', next);
  const idIndex = readIndex(dev, sb.idTableStart, idBlocks, sb.inodeTableStart, 'id table');
  const idMeta = new MetaReader(dev, decompress, 0, sb.idTableStart, 'id table');
  const raw = idMeta.read({ block: idIndex[0]!, offset: 0 }, sb.noIds * ID_ENTRY_SIZE);
  const ids = new Uint32Array(sb.noIds);
  const iv = new DataView(raw.buffer);
  for (let i = 0; i < sb.noIds; i++) ids[i] = iv.getUint32(i * ID_ENTRY_SIZE, true);
  next = idIndex[0]!;
  if (sb.lookupTableStart !== INVALID_TABLE) {
    const n = blocksFor(sb.inodes, LOOKUP_ENTRY_SIZE);
    within(sb.lookupTableStart, n * 8, 'lookup_table_start', next);
    next = readIndex(dev, sb.lookupTableStart, n, sb.inodeTableStart, 'export table')[0]!;
  }
  let fragIndex: number[] = [],
    frags: MetaReader | undefined;
  if (sb.fragments > 0) {
    const n = blocksFor(sb.fragments, FRAGMENT_ENTRY.size);
    within(sb.fragmentTableStart, n * 8, 'fragment_table_start', next);
    fragIndex = readIndex(dev, sb.fragmentTableStart, n, sb.inodeTableStart, 'fragment table');
    frags = new MetaReader(dev, decompress, 0, sb.fragmentTableStart, 'fragment table');
    next = fragIndex[0]!;
  }
  if (
    !(sb.inodeTableStart < sb.directoryTableStart && sb.directoryTableStart <= next) ||
    sb.inodeTableStart < SUPERBLOCK.size
  ) {
    throw fail(
      'E_FORMAT_SQUASHFS_TABLE',
      `inode table ${sb.inodeTableStart} and directory table ${sb.directoryTableStart} are out of order (next table at ${next})`,
      {
        structure: 'superblock',
        field: 'directory_table_start',
        actual: sb.directoryTableStart,
      },
    );
  }
  return {
    sb,
    decompress,
    ids,
    fragIndex,
    frags,
    xattrIds,
    xattrIndex,
    xattrIdMeta,
    xattrKv,
    inodes: new MetaReader(dev, decompress, sb.inodeTableStart, sb.directoryTableStart, 'inode table'),
    dirs: new MetaReader(dev, decompress, sb.directoryTableStart, next, 'directory table'),
    dataStart: SUPERBLOCK.size,
    dataEnd: sb.inodeTableStart,
  };
}
