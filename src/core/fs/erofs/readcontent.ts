/**
 * Reading parts of a file's content in increasing order: inline tails in the
 * metadata pass, blocks and chunks in the data pass. Positional contents
 * skip what is not needed; stream-only ones read and drop it.
 */
import { ContentReader } from '../squashfs/readcontent.js';
import type { Content } from '../../tree/types.js';

const SCRATCH = 1 << 16;

export class ContentSource {
  private readonly r: ContentReader;
  private pos = 0;
  private readonly positional: boolean;

  constructor(
    private readonly content: Content,
    path: string,
  ) {
    this.r = new ContentReader(content, path);
    this.positional = content.readInto !== undefined || content.readAt !== undefined;
  }

  /** Fill `target` with the bytes at `pos` (never before the end of the previous read). */
  async read(pos: number, target: Uint8Array): Promise<void> {
    if (pos < this.pos) throw new RangeError(`content read at ${pos} after ${this.pos}`);
    if (pos > this.pos) {
      if (this.positional) this.r.skip(pos - this.pos);
      else {
        const scratch = new Uint8Array(Math.min(SCRATCH, pos - this.pos));
        for (let p = this.pos; p < pos; p += scratch.length)
          await this.r.fill(scratch.subarray(0, Math.min(scratch.length, pos - p)));
      }
    }
    await this.r.fill(target);
    this.pos = pos + target.length;
  }

  /** After the last read: a stream read to its end must have nothing more. */
  async finish(): Promise<void> {
    if (this.pos === this.content.size) await this.r.end();
    else await this.r.close();
  }

  async close(): Promise<void> {
    await this.r.close();
  }
}
