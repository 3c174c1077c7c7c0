/**
 * The hole rule of a fresh FileDevice, shared by its synchronous writes and
 * by the write-behind worker: 4 KiB blocks (`holeBlock`) that are all zeros
 * and were never written are skipped, so they stay holes; any other block is
 * written and marked in `written` (one bit per block), so later zero writes
 * there land.
 *
 * Self-contained (no imports, no outer names): the worker runs it from its
 * source text.
 */
export function writeSkippingHoles(
  written: Uint8Array,
  holeBlock: number,
  /** File offset of data[from]. */
  offset: number,
  from: number,
  to: number,
  /** Whether data[a, b) is all zeros. */
  zero: (a: number, b: number) => boolean,
  /** Write data[a, b) at file offset `pos`. */
  raw: (a: number, b: number, pos: number) => void,
): void {
  let i = from;
  let runStart = -1;
  while (i < to) {
    const blk = Math.floor((offset + (i - from)) / holeBlock);
    const blkEnd = Math.min(to, from + (blk + 1) * holeBlock - offset);
    const was = (written[blk >>> 3]! & (1 << (blk & 7))) !== 0;
    if (!was && zero(i, blkEnd)) {
      if (runStart >= 0) {
        raw(runStart, i, offset + (runStart - from));
        runStart = -1;
      }
    } else {
      // a partial block write marks the block: later zero writes there must land
      written[blk >>> 3]! |= 1 << (blk & 7);
      if (runStart < 0) runStart = i;
    }
    i = blkEnd;
  }
  if (runStart >= 0) raw(runStart, to, offset + (runStart - from));
}
