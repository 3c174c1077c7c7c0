/**
 * Reading parts of a file's content: inline tails in the metadata pass,
 * blocks and chunks in the data pass. Contents with readInto are read
 * directly (no promise per read: small files are most of a tree); others go
 * through squashfs's ContentReader, skipping or reading and dropping what
 * comes before. A content shorter than it says is a HostIOError naming the
 * file's path (found by a walk, on that error only).
 */
import { HostIOError } from '../../errors.js';
import { ContentReader } from '../squashfs/readcontent.js';
import type { FileTree } from '../../tree/tree.js';
import type { Content, FileNode, TreeNode } from '../../tree/types.js';

const SCRATCH = 1 << 16;

/** Where a node is in the tree (for error messages only: a walk). */
function pathOf(tree: FileTree, node: TreeNode): string {
  for (const e of tree.walk()) if (e.node === node) return e.path;
  return '?';
}

function short(tree: FileTree, node: FileNode, got: number): HostIOError {
  const path = pathOf(tree, node);
  return new HostIOError(
    'E_IO_CONTENT_SIZE',
    `${path}: content yielded only ${got} bytes, ${node.content.size} were declared (did the file change while being read?)`,
    { path, expected: node.content.size, actual: got },
  );
}

/** A content's bytes in increasing order: positional reads, or one stream read forward. */
export class ContentSource {
  private r: ContentReader | undefined;
  private pos = 0;

  constructor(
    private readonly tree: FileTree,
    private readonly node: FileNode,
  ) {}

  /** Fill `target` with the bytes at `pos` (never before the end of the previous read). */
  async read(pos: number, target: Uint8Array): Promise<void> {
    const c = this.node.content;
    if (c.readInto) {
      let off = 0;
      while (off < target.length) {
        const n = c.readInto(pos + off, target.subarray(off));
        if (!(n > 0)) throw short(this.tree, this.node, pos + off);
        off += n;
      }
      return;
    }
    await this.named(async () => {
      this.r ??= new ContentReader(c, '');
      if (pos < this.pos) throw new RangeError(`content read at ${pos} after ${this.pos}`);
      if (c.readAt) this.r.skip(pos - this.pos);
      else {
        const scratch = new Uint8Array(Math.min(SCRATCH, Math.max(1, pos - this.pos)));
        for (let p = this.pos; p < pos; p += scratch.length)
          await this.r.fill(scratch.subarray(0, Math.min(scratch.length, pos - p)));
      }
      await this.r.fill(target);
      this.pos = pos + target.length;
    });
  }

  /** After the last read: a stream read to its end must have nothing more. */
  async finish(): Promise<void> {
    if (!this.r) return;
    const r = this.r;
    this.r = undefined;
    await this.named(() => (this.pos === this.node.content.size ? r.end() : r.close()));
  }

  async close(): Promise<void> {
    await this.r?.close();
  }

  /** ContentReader's errors name no path here: give them the node's. */
  private async named(fn: () => Promise<void>): Promise<void> {
    try {
      await fn();
    } catch (e) {
      if (e instanceof HostIOError && e.data.path === '') {
        const path = pathOf(this.tree, this.node);
        throw new HostIOError(e.code, path + e.message, { ...e.data, path }, { cause: e });
      }
      throw e;
    }
  }
}

/**
 * Fill `target` from a content with readInto, synchronously; false when the
 * content has no readInto or comes up short (readExact then reads it again
 * and names the file in its error).
 */
export function readIntoExact(c: Content, pos: number, target: Uint8Array): boolean {
  if (!c.readInto) return false;
  let off = 0;
  while (off < target.length) {
    const n = c.readInto(pos + off, target.subarray(off));
    if (!(n > 0)) return false;
    off += n;
  }
  return true;
}

/** Fill `target` with the bytes of `node`'s content at `pos`; `last`: nothing may follow them. */
export async function readExact(
  tree: FileTree,
  node: FileNode,
  pos: number,
  target: Uint8Array,
  last: boolean,
): Promise<void> {
  const src = new ContentSource(tree, node);
  try {
    await src.read(pos, target);
    if (last) await src.finish();
  } finally {
    await src.close();
  }
}
