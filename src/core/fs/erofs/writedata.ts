/**
 * The data pass: each inode's blocks in record order: a file's whole blocks
 * (its tail too when not inline) or the data chunks of a chunk-based file,
 * a directory's full blocks, a long symlink's target. Contents are read
 * straight into the output buffer.
 */
import type { FileNode } from '../../tree/types.js';
import { encodeDirBlocks } from './dir.js';
import type { SeqWriter } from './output.js';
import { nodeShape } from './plan.js';
import { ContentSource } from './readcontent.js';
import { LAYOUT } from './structs.js';
import { dirEntry, type PassContext } from './writemeta.js';

export async function dataPass(c: PassContext, out: SeqWriter): Promise<void> {
  const { p, l, o } = c;
  const bs = o.bs;
  for (let i = 0; i < p.records.length; i++) {
    const blocks = l.blocks[i]!;
    if (blocks === 0) continue;
    const node = p.records[i]!;
    const start = out.pos;
    if (node.type === 'file') await fileBlocks(c, node, blocks, out);
    else if (node.type === 'symlink') {
      const b = new TextEncoder().encode(node.target);
      out.write(b);
      out.zeros(blocks * bs - b.length);
    } else if (node.type === 'dir') {
      encodeDirBlocks(p.names.get(node)!, dirEntry(c, node), bs, 0, blocks, (_, b) => {
        out.write(b);
        if (b.length < bs) out.zeros(bs - b.length);
      });
    }
    if (out.pos !== start + blocks * bs) throw new Error(`erofs: data of inode ${i} took ${out.pos - start} bytes`);
  }
}

/** A file's whole blocks (its tail too when not inline), or the data chunks of a chunk-based file. */
async function fileBlocks(c: PassContext, node: FileNode, blocks: number, out: SeqWriter): Promise<void> {
  const bs = c.o.bs;
  const size = node.content.size;
  const src = new ContentSource(c.tree, node);
  const copy = async (from: number, len: number) => {
    for (let done = 0; done < len;) {
      const room = out.room(len - done);
      await src.read(from + done, room);
      out.advance(room.length);
      done += room.length;
    }
    c.progress.tick(len);
  };
  try {
    const s = size > 0 && node.content.dataRanges ? nodeShape(node, c.p, c.o) : undefined;
    if (s && s.layout === LAYOUT.chunkBased) {
      const chunk = bs * 2 ** s.chunkBits!;
      const chunks = s.dataChunks!;
      for (let k = 0; k < chunks.length; k++) {
        if (!chunks[k]) continue;
        const len = Math.min(chunk, size - k * chunk);
        await copy(k * chunk, len);
        out.zeros(Math.ceil(len / bs) * bs - len);
      }
      await src.finish();
    } else {
      const len = Math.min(size, blocks * bs);
      await copy(0, len);
      out.zeros(blocks * bs - len);
      // with the tail inline, the metadata pass read the end
      if (len === size) await src.finish();
    }
  } finally {
    await src.close();
  }
}
