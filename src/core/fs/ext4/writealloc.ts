/**
 * Writer, step three: block allocation. A bitmap of used blocks with a
 * cursor that only moves forward, so data lands in one contiguous sweep;
 * the fixed metadata (superblocks and descriptor copies, then per flex group
 * all block bitmaps, all inode bitmaps, all inode tables) is placed first.
 */
import { CapacityError } from '../../errors.js';
import { hasSuper, type Geometry } from './layout.js';
import type { Config } from './options.js';

export class Allocator {
  readonly used: Uint8Array;
  cursor: number;
  constructor(
    readonly total: number,
    start: number,
  ) {
    this.used = new Uint8Array(Math.ceil(total / 8));
    this.cursor = start;
  }
  isUsed(b: number): boolean {
    return (this.used[b >>> 3]! & (1 << (b & 7))) !== 0;
  }
  mark(b: number, n = 1): void {
    for (let i = b; i < b + n; i++) this.used[i >>> 3]! |= 1 << (i & 7);
  }
  alloc(): number {
    while (this.cursor < this.total && this.isUsed(this.cursor)) this.cursor++;
    if (this.cursor >= this.total)
      throw new CapacityError(
        'E_SPACE_FS',
        'the filesystem ran out of blocks while writing (the estimate was too small)',
        {},
      );
    const b = this.cursor++;
    this.mark(b);
    return b;
  }
  /** The next allocation position if `n` free blocks follow it contiguously, else -1 (nothing is marked). */
  peekRun(n: number): number {
    while (this.cursor < this.total && this.isUsed(this.cursor)) this.cursor++;
    const s = this.cursor;
    if (s + n > this.total) return -1;
    for (let i = s; i < s + n; i++) if (this.isUsed(i)) return -1;
    return s;
  }
  /** Take the run returned by peekRun. */
  takeRun(s: number, n: number): void {
    this.mark(s, n);
    this.cursor = s + n;
  }
  /** n contiguous free blocks at or after `from` (for inode tables). */
  allocContig(n: number, from: number): number {
    let s = from;
    for (;;) {
      while (s < this.total && this.isUsed(s)) s++;
      let e = s;
      while (e < this.total && e - s < n && !this.isUsed(e)) e++;
      if (e - s === n) {
        this.mark(s, n);
        return s;
      }
      if (e >= this.total) throw new CapacityError('E_SPACE_FS', `no room for ${n} contiguous metadata blocks`, {});
      s = e;
    }
  }
}

/** Where each group's bitmaps and inode table went. */
export interface GroupMetadata {
  blockBitmap: number[];
  inodeBitmap: number[];
  inodeTable: number[];
}

/** First block of group `grp`. */
export function groupStart(g: Geometry, grp: number): number {
  return g.firstData + grp * g.bpg;
}

/** An allocator with the fixed metadata marked and placed; its cursor at the first data block. */
export function placeMetadata(cfg: Config, g: Geometry): { al: Allocator; groups: GroupMetadata } {
  const al = new Allocator(g.blocks, g.firstData);
  if (g.firstData) al.mark(0);
  for (let grp = 0; grp < g.groups; grp++) if (hasSuper(cfg, grp)) al.mark(groupStart(g, grp), 1 + g.gdtBlocks);
  const groups: GroupMetadata = {
    blockBitmap: new Array<number>(g.groups),
    inodeBitmap: new Array<number>(g.groups),
    inodeTable: new Array<number>(g.groups),
  };
  for (let f = 0; f < g.groups; f += g.flexSize) {
    const last = Math.min(g.groups, f + g.flexSize);
    const from = groupStart(g, f);
    for (let grp = f; grp < last; grp++) groups.blockBitmap[grp] = al.allocContig(1, from);
    for (let grp = f; grp < last; grp++) groups.inodeBitmap[grp] = al.allocContig(1, from);
    for (let grp = f; grp < last; grp++) groups.inodeTable[grp] = al.allocContig(g.itableBlocks, from);
  }
  al.cursor = g.firstData;
  return { al, groups };
}
