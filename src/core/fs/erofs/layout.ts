/**
 * Where everything goes: each inode's nid (its record's place in the
 * metadata area) and the size of each area. The writing passes replay the
 * same placement; what they cannot cheaply recompute per inode (its data
 * block count) is kept here, one number per inode.
 */
import type { TreeNode } from '../../tree/types.js';
import { MetaPacker } from './meta.js';
import { nodeShape, recordSize, type Plan, type PlanOptions } from './plan.js';
import { ISLOT_SIZE, LAYOUT, SUPER_OFFSET, SUPERBLOCK } from './structs.js';

/** Offset of the first inode slot: right after the superblock. */
export const FIRST_SLOT = SUPER_OFFSET + SUPERBLOCK.size;

export interface Layout {
  nids: Map<TreeNode, number>;
  /** Data blocks of each inode, in record order. */
  blocks: Float64Array;
  metaBlocks: number;
  sharedBlocks: number;
  dataBlocks: number;
  compact: number;
  inline: number;
  chunked: number;
}

/** Place every record: nids, data blocks, and the size of each area. */
export function layout(p: Plan, o: PlanOptions): Layout {
  const nids = new Map<TreeNode, number>();
  const blocks = new Float64Array(p.records.length);
  const packer = new MetaPacker(o.bs, FIRST_SLOT);
  let dataBlocks = 0;
  let compact = 0;
  let inline = 0;
  let chunked = 0;
  for (let i = 0; i < p.records.length; i++) {
    const node = p.records[i]!;
    const s = nodeShape(node, p, o);
    nids.set(node, packer.place(recordSize(s)) / ISLOT_SIZE);
    blocks[i] = s.blocks;
    dataBlocks += s.blocks;
    if (!s.extended) compact++;
    if (s.inline) inline++;
    if (s.layout === LAYOUT.chunkBased) chunked++;
  }
  const metaBlocks = packer.finish();
  const sharedBlocks = Math.ceil(p.shared.size / o.bs);
  return { nids, blocks, metaBlocks, sharedBlocks, dataBlocks, compact, inline, chunked };
}
