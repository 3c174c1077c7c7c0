/**
 * The metadata area: inodes with their xattrs and inline data, on 32-byte
 * slots. A record that fits a block never straddles two (the kernel reads an
 * inode's inline tail from the block after the inode); records are placed
 * best-fit into the last OPEN_BLOCKS blocks still open, as mkfs.erofs fills
 * partly used blocks, so small records fill the gaps that large inline tails
 * leave (with 256 open blocks the images are as small as mkfs.erofs's: 32
 * first-fit blocks made them 0.3-0.7% larger).
 *
 * Placement depends only on the record sizes, so the planning pass and the
 * writing pass replay it identically: the planner learns every nid, the
 * writer learns when a block is complete and can be written.
 */
import { ISLOT_SIZE } from './structs.js';

/** Blocks kept open for best-fit placement (their buffers, 1 MiB, are what the writer holds). */
export const OPEN_BLOCKS = 256;

function slotAlign(n: number): number {
  return Math.ceil(n / ISLOT_SIZE) * ISLOT_SIZE;
}

export class MetaPacker {
  private open: Array<{ addr: number; used: number }> = [];
  /** Next block address not yet used. */
  next: number;

  /**
   * `first` is the byte offset of the first free slot (after the superblock
   * in block 0); `onClose` hears of each block that will get no more records.
   */
  constructor(
    private readonly bs: number,
    first: number,
    private readonly onClose: (addr: number) => void = () => {},
  ) {
    const addr = Math.floor(first / bs);
    this.next = addr + 1;
    this.open.push({ addr, used: slotAlign(first % bs) });
  }

  /** Byte offset (from block 0) of a new record of `size` bytes. */
  place(size: number): number {
    const bs = this.bs;
    if (size > bs) return this.placeLarge(size);
    // best fit: the open block with the least room that still holds the record
    let best = -1;
    for (let i = 0; i < this.open.length; i++) {
      const b = this.open[i]!;
      if (b.used + size <= bs && (best < 0 || b.used > this.open[best]!.used)) best = i;
    }
    if (best >= 0) {
      const i = best;
      const b = this.open[i]!;
      const at = b.addr * bs + b.used;
      b.used = slotAlign(b.used + size);
      if (b.used >= bs) {
        this.open.splice(i, 1);
        this.onClose(b.addr);
      }
      return at;
    }
    const b = { addr: this.next++, used: slotAlign(size) };
    if (b.used >= bs) this.onClose(b.addr);
    else this.openBlock(b);
    return b.addr * bs;
  }

  /** A record larger than a block: from a fresh block, over as many as it needs. */
  private placeLarge(size: number): number {
    const bs = this.bs;
    const addr = this.next;
    const n = Math.ceil(size / bs);
    this.next += n;
    for (let k = 0; k < n - 1; k++) this.onClose(addr + k);
    const tail = slotAlign(size - (n - 1) * bs);
    if (tail >= bs) this.onClose(addr + n - 1);
    else this.openBlock({ addr: addr + n - 1, used: tail });
    return addr * bs;
  }

  private openBlock(b: { addr: number; used: number }): void {
    this.open.push(b);
    if (this.open.length > OPEN_BLOCKS) this.onClose(this.open.shift()!.addr);
  }

  /** Close every block; returns the number of blocks the area takes (from block 0). */
  finish(): number {
    for (const b of this.open) this.onClose(b.addr);
    this.open = [];
    return this.next;
  }
}

/**
 * Buffers of the blocks records are being written into; a block is handed
 * to `emit` once it and every block before it are complete, so the area is
 * written front to back.
 */
export class MetaBlocks {
  private readonly buffers = new Map<number, Uint8Array>();
  private readonly closed = new Set<number>();
  private written = 0;

  constructor(
    private readonly bs: number,
    private readonly emit: (addr: number, block: Uint8Array) => void,
  ) {}

  /**
   * `size` zeroed bytes at byte offset `at` to encode a record into: a view
   * of its block when it lies in one; else a buffer `put` copies out.
   */
  view(at: number, size: number): { bytes: Uint8Array; copy: boolean } {
    const addr = Math.floor(at / this.bs);
    const off = at - addr * this.bs;
    if (off + size <= this.bs) return { bytes: this.block(addr).subarray(off, off + size), copy: false };
    return { bytes: new Uint8Array(size), copy: true };
  }

  /** Copy `bytes` to byte offset `at` of the area (a record may span blocks). */
  put(at: number, bytes: Uint8Array): void {
    let p = 0;
    while (p < bytes.length) {
      const addr = Math.floor((at + p) / this.bs);
      const off = (at + p) % this.bs;
      const n = Math.min(this.bs - off, bytes.length - p);
      this.block(addr).set(bytes.subarray(p, p + n), off);
      p += n;
    }
  }

  block(addr: number): Uint8Array {
    let b = this.buffers.get(addr);
    if (!b) {
      b = new Uint8Array(this.bs);
      this.buffers.set(addr, b);
    }
    return b;
  }

  close(addr: number): void {
    this.closed.add(addr);
    while (this.closed.has(this.written)) {
      this.closed.delete(this.written);
      this.emit(this.written, this.block(this.written));
      this.buffers.delete(this.written);
      this.written++;
    }
  }
}
