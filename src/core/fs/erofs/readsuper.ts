/**
 * The superblock, validated before anything else is read: magic, block
 * size, checksum, features this reader understands, and every area inside
 * the image. Metadata is then read through a small block cache.
 */
import { crc32cUpdate } from '../../binary/crc.js';
import { formatFailure } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import type { Timespec } from '../../tree/types.js';
import {
  EROFS_MAGIC,
  FEATURE_COMPAT,
  FEATURE_INCOMPAT,
  MAX_BLOCK_BITS,
  MIN_BLOCK_BITS,
  SB_EXTSLOT_SIZE,
  SUPER_OFFSET,
  SUPERBLOCK,
} from './structs.js';

export const fail = formatFailure('erofs', 'erofs');

export interface Super {
  bs: number;
  bits: number;
  rootNid: number;
  inos: number;
  blocks: number;
  /** Image size in bytes (blocks * block size); nothing may be read past it. */
  limit: number;
  /** Byte offsets of the metadata area (nid 0) and the shared xattr area (id 0). */
  metaBase: number;
  xattrBase: number;
  buildTime: Timespec;
  uuid: Uint8Array;
  label: string;
  featureCompat: number;
  featureIncompat: number;
}

/** Incompatible features this reader handles (compressed inodes are refused when met, not at open). */
const READABLE_INCOMPAT =
  FEATURE_INCOMPAT.zeroPadding |
  FEATURE_INCOMPAT.comprCfgs |
  FEATURE_INCOMPAT.chunkedFile |
  FEATURE_INCOMPAT.comprHead2 |
  FEATURE_INCOMPAT.ztailpacking |
  FEATURE_INCOMPAT.fragments;

export function readSuper(dev: BlockDevice): Super {
  if (dev.size < SUPER_OFFSET + SUPERBLOCK.size)
    throw fail('E_FORMAT_EROFS_TRUNCATED', `image of ${dev.size} bytes is too small for a superblock`, {
      actual: dev.size,
    });
  const raw = dev.readAt(SUPER_OFFSET, SUPERBLOCK.size);
  const sb = SUPERBLOCK.decode(raw);
  if (sb.magic !== EROFS_MAGIC)
    throw fail('E_FORMAT_EROFS_MAGIC', `bad magic 0x${sb.magic.toString(16)} (not an EROFS image)`, {
      structure: 'superblock',
      field: 'magic',
      actual: sb.magic,
    });
  if (sb.blkszbits < MIN_BLOCK_BITS || sb.blkszbits > MAX_BLOCK_BITS)
    throw fail('E_FORMAT_EROFS_SUPERBLOCK', `block size 2^${sb.blkszbits} is not 512 B to 64 KiB`, {
      structure: 'superblock',
      field: 'blkszbits',
      actual: sb.blkszbits,
    });
  const bs = 2 ** sb.blkszbits;
  if (SUPERBLOCK.size + sb.sbExtslots * SB_EXTSLOT_SIZE > Math.max(bs, 2 * SUPER_OFFSET) - SUPER_OFFSET)
    throw fail('E_FORMAT_EROFS_SUPERBLOCK', `${sb.sbExtslots} superblock extension slots do not fit`, {
      structure: 'superblock',
      field: 'sb_extslots',
      actual: sb.sbExtslots,
    });
  if (sb.featureCompat & FEATURE_COMPAT.sbChecksum) checkSum(dev, bs, sb.checksum);
  const unknown = sb.featureIncompat & ~READABLE_INCOMPAT;
  if (unknown || sb.extraDevices)
    throw fail(
      'E_FORMAT_EROFS_FEATURE',
      sb.extraDevices
        ? `the image uses ${sb.extraDevices} extra devices, which this reader does not read`
        : `unsupported incompatible features 0x${unknown.toString(16)}`,
      { structure: 'superblock', field: 'feature_incompat', actual: sb.featureIncompat },
    );
  const limit = sb.blocks * bs;
  if (limit > dev.size || limit < SUPER_OFFSET + SUPERBLOCK.size)
    throw fail(
      'E_FORMAT_EROFS_TRUNCATED',
      `the superblock counts ${sb.blocks} blocks (${limit} bytes), the image has ${dev.size} bytes`,
      { structure: 'superblock', field: 'blocks', expected: limit, actual: dev.size },
    );
  for (const f of ['metaBlkaddr', 'xattrBlkaddr'] as const)
    if (sb[f] >= sb.blocks && !(f === 'xattrBlkaddr' && sb[f] === 0))
      throw fail('E_FORMAT_EROFS_SUPERBLOCK', `${f} ${sb[f]} lies past the last block (${sb.blocks})`, {
        structure: 'superblock',
        field: f,
        actual: sb[f],
      });
  const end = sb.volumeName.indexOf(0);
  return {
    bs,
    bits: sb.blkszbits,
    rootNid: sb.rootNid,
    inos: sb.inos,
    blocks: sb.blocks,
    limit,
    metaBase: sb.metaBlkaddr * bs,
    xattrBase: sb.xattrBlkaddr * bs,
    buildTime: { sec: sb.buildTime, nsec: sb.buildTimeNsec },
    uuid: sb.uuid,
    label: new TextDecoder().decode(sb.volumeName.subarray(0, end < 0 ? 16 : end)),
    featureCompat: sb.featureCompat,
    featureIncompat: sb.featureIncompat,
  };
}

/** crc32c (seed ~0, no final inversion) of the superblock's block from 1 KiB on, the checksum field as zero. */
function checkSum(dev: BlockDevice, bs: number, want: number): void {
  const len = bs > SUPER_OFFSET ? bs - SUPER_OFFSET : bs;
  if (SUPER_OFFSET + len > dev.size)
    throw fail('E_FORMAT_EROFS_TRUNCATED', `the image ends inside its superblock block`, { actual: dev.size });
  const b = dev.readAt(SUPER_OFFSET, len);
  b.fill(0, SUPERBLOCK.offsetOf('checksum'), SUPERBLOCK.offsetOf('checksum') + 4);
  const got = crc32cUpdate(0xffffffff, b);
  if (got !== want)
    throw fail(
      'E_FORMAT_EROFS_CHECKSUM',
      `superblock checksum 0x${want.toString(16)} does not match its contents (0x${got.toString(16)})`,
      { structure: 'superblock', field: 'checksum', expected: got, actual: want },
    );
}

const CACHE_BLOCKS = 16;

/** Metadata reads through a few cached blocks, never past the image's end. */
export class MetaReader {
  private readonly cache = new Map<number, Uint8Array>();

  constructor(
    private readonly dev: BlockDevice,
    private readonly s: Super,
  ) {}

  private block(addr: number): Uint8Array {
    let b = this.cache.get(addr);
    if (b) return b;
    b = this.dev.readAt(addr * this.s.bs, this.s.bs);
    this.cache.set(addr, b);
    if (this.cache.size > CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value!);
    return b;
  }

  /** `len` bytes at byte offset `pos` (a view when they lie in one block). */
  read(pos: number, len: number, what: string): Uint8Array {
    if (!Number.isSafeInteger(pos) || pos < 0 || len < 0 || pos + len > this.s.limit)
      throw fail('E_FORMAT_EROFS_RANGE', `${what}: ${len} bytes at ${pos} lie outside the image (${this.s.limit})`, {
        offset: pos,
        actual: len,
      });
    const bs = this.s.bs;
    const addr = Math.floor(pos / bs);
    const off = pos - addr * bs;
    if (off + len <= bs) return this.block(addr).subarray(off, off + len);
    const out = new Uint8Array(len);
    for (let p = 0; p < len;) {
      const a = Math.floor((pos + p) / bs);
      const o = pos + p - a * bs;
      const n = Math.min(bs - o, len - p);
      out.set(this.block(a).subarray(o, o + n), p);
      p += n;
    }
    return out;
  }
}
