/**
 * The metadata pass: every inode record in order, replaying the layout's
 * placement, encoded straight into the buffer of its metadata block, with
 * its inline data: a file's last partial block, a symlink's target, a
 * directory's last block. A block is written once it is complete.
 */
import type { Progress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import type { DirNode, TreeNode } from '../../tree/types.js';
import { encodeDirBlocks } from './dir.js';
import { FIRST_SLOT, type Layout } from './layout.js';
import { MetaPacker, type MetaBlocks } from './meta.js';
import { nodeShape, recordSize, type Plan, type PlanOptions, type Shape } from './plan.js';
import { readExact, readIntoExact } from './readcontent.js';
import { FT, ISLOT_SIZE, NULL_ADDR } from './structs.js';
import { encodeRecord } from './writeinode.js';

export interface PassContext {
  tree: FileTree;
  p: Plan;
  l: Layout;
  o: PlanOptions;
  progress: Progress;
}

const enc = new TextEncoder();

/** The entry for `name` in `dir`: its nid and file type ("." and ".." included). */
export function dirEntry(c: PassContext, dir: DirNode) {
  return (name: string) => {
    const n: TreeNode = name === '.' ? dir : name === '..' ? c.p.parents.get(dir)! : dir.children.get(name)!;
    return { name, nid: c.l.nids.get(n)!, fileType: FT[n.type] };
  };
}

export async function metaPass(c: PassContext, meta: MetaBlocks): Promise<void> {
  const { p, l, o } = c;
  // a block closes when a record fills it: close it once that record is in it
  const closing: number[] = [];
  const packer = new MetaPacker(o.bs, FIRST_SLOT, (addr) => closing.push(addr));
  let next = l.metaBlocks + l.sharedBlocks;
  for (let i = 0; i < p.records.length; i++) {
    const node = p.records[i]!;
    const s = nodeShape(node, p, o);
    const size = recordSize(s);
    const at = packer.place(size);
    if (at / ISLOT_SIZE !== l.nids.get(node))
      throw new Error(`erofs: inode ${i} placed at ${at}, planned at nid ${l.nids.get(node)}`);
    const blkaddr = s.blocks ? next : NULL_ADDR;
    next += s.blocks;
    const view = meta.view(at, size);
    const inlineAt = encodeRecord({ node, shape: s, ino: i + 1, blkaddr, shared: p.shared }, view.bytes);
    if (s.inline) await inlineData(c, node, s, view.bytes.subarray(inlineAt, inlineAt + s.inline));
    if (view.copy) meta.put(at, view.bytes);
    for (const addr of closing.splice(0)) meta.close(addr);
  }
  packer.finish();
  for (const addr of closing.splice(0)) meta.close(addr);
}

async function inlineData(c: PassContext, node: TreeNode, s: Shape, target: Uint8Array): Promise<void> {
  const bs = c.o.bs;
  if (node.type === 'file') {
    // most tails are whole small files: read them without a promise when the content allows
    if (!readIntoExact(node.content, s.blocks * bs, target)) await readExact(c.tree, node, s.blocks * bs, target, true);
    c.progress.tick(target.length);
  } else if (node.type === 'symlink') enc.encodeInto(node.target, target);
  else if (node.type === 'dir') {
    const names = c.p.names.get(node)!;
    encodeDirBlocks(names, dirEntry(c, node), bs, s.blocks, s.blocks + 1, (_, b) => target.set(b));
  }
}
