/**
 * Metadata streams (inode table, directory table, xattrs and the lookup
 * tables): bytes packed into 8 KiB blocks, each compressed and stored with a
 * u16 length header. A reference to a position is <start of its compressed
 * block relative to the table, offset in the uncompressed block>, so a block
 * is compressed as soon as it is full: the start of the block being filled
 * is then always known, and references into it can be made at once.
 */
import type { BlockCompressor } from './compress.js';
import { META_UNCOMPRESSED, METADATA_SIZE, metaRef } from './structs.js';

export class MetaWriter {
  private cur = new Uint8Array(METADATA_SIZE);
  private fill = 0;
  /** Compressed blocks, each with its 2-byte header. */
  readonly blocks: Uint8Array[] = [];
  /** Start of each compressed block relative to the table. */
  readonly starts: number[] = [];
  /** Total compressed bytes so far (the start of the block being filled). */
  size = 0;

  constructor(private readonly comp: BlockCompressor) {}

  /** Reference to the next byte written. */
  ref(): number {
    return metaRef(this.size, this.fill);
  }

  /** Uncompressed position of the next byte written. */
  pos(): number {
    return this.starts.length * METADATA_SIZE + this.fill;
  }

  /** Reference to an uncompressed position already written (or the next one). */
  refAt(pos: number): number {
    const block = Math.floor(pos / METADATA_SIZE);
    const start = block < this.starts.length ? this.starts[block]! : this.size;
    return metaRef(start, pos % METADATA_SIZE);
  }

  /**
   * Append bytes; returns a promise only when a block had to be compressed
   * by a compressor without compressSync (await it).
   */
  write(bytes: Uint8Array): Promise<void> | undefined {
    const n = bytes.length;
    if (this.fill + n < METADATA_SIZE) {
      // the common case: a small inode or listing that fits
      if (n <= 16) for (let i = 0; i < n; i++) this.cur[this.fill + i] = bytes[i]!;
      else this.cur.set(bytes, this.fill);
      this.fill += n;
      return undefined;
    }
    let off = 0;
    while (off < n) {
      const k = Math.min(METADATA_SIZE - this.fill, n - off);
      this.cur.set(bytes.subarray(off, off + k), this.fill);
      this.fill += k;
      off += k;
      if (this.fill === METADATA_SIZE) {
        const p = this.flush();
        if (p) return off < n ? p.then(() => this.write(bytes.subarray(off))) : p;
      }
    }
    return undefined;
  }

  private flush(): Promise<void> | undefined {
    const raw = this.cur.subarray(0, this.fill);
    this.cur = new Uint8Array(METADATA_SIZE);
    this.fill = 0;
    if (this.comp.compressSync) {
      this.store(raw, this.comp.compressSync(raw));
      return undefined;
    }
    return this.comp.compress(raw).then((c) => this.store(raw, c));
  }

  private store(raw: Uint8Array, c: Uint8Array): void {
    const stored = c.length >= raw.length;
    const body = stored ? raw : c;
    const block = new Uint8Array(2 + body.length);
    const word = stored ? body.length | META_UNCOMPRESSED : body.length;
    block[0] = word & 0xff;
    block[1] = word >>> 8;
    block.set(body, 2);
    this.starts.push(this.size);
    this.blocks.push(block);
    this.size += block.length;
  }

  /** Compress the last, partial block. */
  async finish(): Promise<void> {
    if (this.fill > 0) await this.flush();
  }
}

/**
 * Write a whole table of fixed-size entries (fragments, export, ids) as
 * metadata blocks, then return the blocks and the index (absolute u64
 * offsets of each block, given where the blocks will start).
 */
export async function tableBlocks(
  comp: BlockCompressor,
  entries: Uint8Array,
  at: number,
): Promise<{ blocks: Uint8Array[]; index: Uint8Array; size: number }> {
  const w = new MetaWriter(comp);
  const p = w.write(entries);
  if (p) await p;
  await w.finish();
  const index = new Uint8Array(w.starts.length * 8);
  const v = new DataView(index.buffer);
  w.starts.forEach((s, i) => v.setBigUint64(i * 8, BigInt(at + s), true));
  return { blocks: w.blocks, index, size: w.size };
}
