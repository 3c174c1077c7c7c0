/**
 * Reading metadata streams (inode, directory, xattr and lookup tables):
 * 8 KiB blocks behind u16 length headers, addressed by <block offset
 * relative to the table, offset inside the uncompressed block>. Every block
 * must lie inside its table's region and decompress to at most 8 KiB; a
 * small LRU cache keeps recently used blocks.
 */
import { formatFailure } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import type { BlockDecompressor } from './compress.js';
import { META_UNCOMPRESSED, METADATA_SIZE, refBlock, refOffset } from './structs.js';

const CACHE_BLOCKS = 64;

export const fail = formatFailure('squashfs', 'squashfs');

/** A position in a metadata stream. */
export interface Cursor {
  block: number;
  offset: number;
}

export function cursorAt(ref: number): Cursor {
  return { block: refBlock(ref), offset: refOffset(ref) };
}

export class MetaReader {
  private cache = new Map<number, { data: Uint8Array; next: number }>();

  /** `start`: the table's absolute offset; `end`: where its region ends (exclusive). */
  constructor(
    private readonly dev: BlockDevice,
    private readonly decompress: BlockDecompressor,
    readonly start: number,
    readonly end: number,
    readonly name: string,
  ) {}

  /** The uncompressed block at `rel` (relative to the table start) and where the next one starts. */
  block(rel: number): { data: Uint8Array; next: number } {
    const hit = this.cache.get(rel);
    if (hit) {
      this.cache.delete(rel);
      this.cache.set(rel, hit);
      return hit;
    }
    const abs = this.start + rel;
    if (!Number.isSafeInteger(abs) || rel < 0 || abs + 2 > this.end) {
      throw fail(
        'E_FORMAT_SQUASHFS_META',
        `${this.name} block at ${abs} lies outside the table (${this.start}..${this.end})`,
        { structure: this.name, offset: abs },
      );
    }
    const head = this.dev.readAt(abs, 2);
    const word = head[0]! | (head[1]! << 8);
    const len = word & ~META_UNCOMPRESSED;
    if (len === 0 || len > METADATA_SIZE || abs + 2 + len > this.end) {
      throw fail(
        'E_FORMAT_SQUASHFS_META',
        `${this.name} block at ${abs} claims ${len} bytes (at most ${METADATA_SIZE}, inside the table)`,
        { structure: this.name, offset: abs, actual: len },
      );
    }
    const raw = this.dev.readAt(abs + 2, len);
    const data = word & META_UNCOMPRESSED ? raw : this.decompress(raw, METADATA_SIZE);
    if (data.length === 0)
      throw fail('E_FORMAT_SQUASHFS_META', `${this.name} block at ${abs} is empty`, {
        structure: this.name,
        offset: abs,
      });
    const entry = { data, next: rel + 2 + len };
    this.cache.set(rel, entry);
    if (this.cache.size > CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value!);
    return entry;
  }

  /** Read `n` bytes at `cur`, advancing it (across blocks as needed). */
  read(cur: Cursor, n: number): Uint8Array {
    const out = new Uint8Array(n);
    let got = 0;
    while (got < n) {
      const b = this.block(cur.block);
      if (cur.offset > b.data.length || (cur.offset === b.data.length && b.data.length < METADATA_SIZE)) {
        throw fail(
          'E_FORMAT_SQUASHFS_META',
          `${this.name}: offset ${cur.offset} is past the end of the block at ${this.start + cur.block} (${b.data.length} bytes)`,
          {
            structure: this.name,
            offset: this.start + cur.block,
            actual: cur.offset,
          },
        );
      }
      const k = Math.min(n - got, b.data.length - cur.offset);
      out.set(b.data.subarray(cur.offset, cur.offset + k), got);
      got += k;
      cur.offset += k;
      if (cur.offset === b.data.length && b.data.length === METADATA_SIZE) {
        cur.block = b.next;
        cur.offset = 0;
      }
    }
    return out;
  }
}

/**
 * Read a lookup table's index (u64 absolute offsets of its metadata blocks)
 * and check each block lies between `min` and the index itself.
 */
export function readIndex(dev: BlockDevice, at: number, count: number, min: number, what: string): number[] {
  const len = count * 8;
  const raw = dev.readAt(at, len);
  const v = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const lo = v.getUint32(i * 8, true);
    const hi = v.getUint32(i * 8 + 4, true);
    const off = hi * 0x100000000 + lo;
    if (hi > 0x1fffff || off < min || off >= at || (i > 0 && off <= out[i - 1]!)) {
      throw fail('E_FORMAT_SQUASHFS_TABLE', `${what} index entry ${i} points at ${off}, outside ${min}..${at}`, {
        structure: what,
        offset: at + i * 8,
        actual: off,
      });
    }
    out.push(off);
  }
  return out;
}
