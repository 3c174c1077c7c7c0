/**
 * Where a host file holds data, asked of the host filesystem: Node cannot
 * lseek(SEEK_DATA), so `filefrag -e` (e2fsprogs; FIEMAP) lists the file's
 * extents. Converting a sparse image then reads only its data, as qemu-img
 * does, instead of reading every hole as zeros. Any doubt (no filefrag, a
 * filesystem without FIEMAP, output that does not parse, extents that do not
 * account for the blocks the file has allocated) gives undefined: read it all.
 */
import { statSync } from 'node:fs';
import { have, run } from './run.js';

export interface DataExtent {
  offset: number;
  length: number;
}

const HEADER = /File size of .* is (\d+) \((\d+) blocks? of (\d+) bytes\)/;
const LINE = /^\s*\d+:\s+(\d+)\.\.\s*(\d+):\s+\d+\.\.\s*\d+:\s+(\d+):\s*\d*:?\s*(\S*)\s*$/;

/** Parse `filefrag -e` output into byte extents of `size`; undefined when it does not parse. */
export function parseFilefrag(out: string): { extents: DataExtent[]; allocated: number; size: number } | undefined {
  const lines = out.split('\n');
  const h = lines.map((l) => HEADER.exec(l)).find(Boolean);
  if (!h) return undefined;
  const size = Number(h[1]);
  const bs = Number(h[3]);
  const extents: DataExtent[] = [];
  let allocated = 0;
  for (const l of lines) {
    if (!/^\s*\d+:/.test(l)) continue;
    const m = LINE.exec(l);
    if (!m) return undefined;
    const first = Number(m[1]);
    const len = Number(m[2]) - first + 1;
    // delayed allocation (data not yet on disk) shows length 0 and no physical place: the logical range counts
    if (len < 1 || (Number(m[3]) !== len && !m[4]!.split(',').includes('delalloc'))) return undefined;
    allocated += len * bs;
    // 'unwritten' is not always a hole that reads as zeros: ext4 (dioread_nolock) maps a just-written
    // file's blocks as unwritten while their writeback is in flight, the data still in the page cache.
    // Read them: zeros cost a read, and all-zero units are not stored anyway.
    const offset = first * bs;
    if (offset >= size) continue;
    extents.push({ offset, length: Math.min(len * bs, size - offset) });
  }
  return { extents, allocated, size };
}

/** The data extents of `path`, or undefined when the host cannot say for sure. */
export async function hostDataExtents(path: string): Promise<DataExtent[] | undefined> {
  if (!have('filefrag')) return undefined;
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  let out: string;
  try {
    out = (await run('filefrag', ['-e', path], { captureStdout: true })).stdout;
  } catch {
    return undefined;
  }
  const p = parseFilefrag(out);
  if (!p || p.size !== st.size) return undefined;
  // the blocks the file owns must be (nearly) all accounted for by the extents listed
  if (p.allocated + (1 << 20) < st.blocks * 512 * 0.95) return undefined;
  return p.extents;
}
