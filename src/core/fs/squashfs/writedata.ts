/**
 * The data area: file blocks and fragment blocks, compressed with several
 * blocks in flight and appended to the output strictly in submission order
 * (so the image does not depend on timing). Small files and, with tail
 * packing, the tails of large ones are packed into shared fragment blocks;
 * all-zero blocks become holes; a file identical to an earlier one reuses its
 * blocks and fragment.
 */
import { crc32 } from '../../binary/crc.js';
import { isZero } from '../../io/device.js';
import type { Progress } from '../../progress.js';
import type { Content } from '../../tree/types.js';
import { looksIncompressible, type BlockCompressor } from './compress.js';
import type { SquashfsOutput } from './output.js';
import { ContentReader, forEachChunk, sameBytes } from './readcontent.js';
import { DATA_UNCOMPRESSED, INVALID_FRAG } from './structs.js';

/** Where one file's bytes are in the image (shared by hard links and duplicates). */
export interface FileData {
  /** Absolute offset of the first stored block. */
  start: number;
  /** One size word per block (0 = hole); filled in as blocks are written. */
  blocks: Uint32Array;
  fragment: number;
  fragOffset: number;
  /** Bytes in holes (the extended inode's `sparse`). */
  sparse: number;
  /** Settles once every block is written and `start`/`blocks` are final (absent when they already are). */
  ready?: Promise<void>;
}

export interface DataOptions {
  blockSize: number;
  fragments: boolean;
  tailPacking: boolean;
  dedupe: boolean;
  sparse: boolean;
  detectIncompressible: boolean;
  progress: Progress;
}

interface Pending {
  result: Promise<Uint8Array>;
  input: Uint8Array;
  done: (offset: number, word: number) => void;
}

/** Compresses blocks with up to `window` in flight and writes them in order. */
class BlockPipe {
  private queue: Pending[] = [];
  private head = 0;
  pos: number;
  /** Blocks stored uncompressed without trying (looked random). */
  skipped = 0;

  constructor(
    private readonly out: SquashfsOutput,
    private readonly comp: BlockCompressor,
    start: number,
    private readonly window: number,
    private readonly detect: boolean,
  ) {
    this.pos = start;
  }

  async submit(input: Uint8Array, done: (offset: number, word: number) => void): Promise<void> {
    let result: Promise<Uint8Array>;
    if (this.detect && looksIncompressible(input)) {
      this.skipped++;
      result = Promise.resolve(input);
    } else result = this.comp.compress(input);
    // a rejection is handled when the block reaches the head of the queue
    result.catch(() => {});
    this.queue.push({ result, input, done });
    while (this.queue.length - this.head >= this.window) await this.writeHead();
  }

  private async writeHead(): Promise<void> {
    const p = this.queue[this.head]!;
    this.queue[this.head++] = undefined as unknown as Pending;
    if (this.head > 1024) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
    const c = await p.result;
    const stored = c.length >= p.input.length;
    const data = stored ? p.input : c;
    const offset = this.pos;
    await this.out.write(data);
    this.pos += data.length;
    p.done(offset, stored ? p.input.length | DATA_UNCOMPRESSED : c.length);
  }

  async drain(): Promise<void> {
    while (this.head < this.queue.length) await this.writeHead();
  }

  /** Write raw bytes (tables) after everything queued. */
  async writeRaw(data: Uint8Array): Promise<void> {
    await this.drain();
    await this.out.write(data);
    this.pos += data.length;
  }
}

/** An earlier file, for duplicate detection (no path kept: paths would cost more than the rest). */
interface Known {
  content: Content;
  data: FileData;
  hash?: number;
}

const NO_BLOCKS = new Uint32Array(0);
/** Bytes of small files kept for duplicate comparison (like mksquashfs's fragment cache). */
const SMALL_CACHE = 16 << 20;
const EARLIER = '(an earlier file of the same size, read again to compare)';

function readWhole(content: Content, path: string): Promise<Uint8Array> {
  return readInto(content, path, new Uint8Array(content.size));
}

/** Reads a file's content into `buf` (its size), checking that the content ends there. */
async function readInto(content: Content, path: string, buf: Uint8Array): Promise<Uint8Array> {
  const r = new ContentReader(content, path);
  try {
    await r.fill(buf);
    await r.end();
  } finally {
    await r.close();
  }
  return buf;
}

function equal(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  let i = 0;
  if (n >= 64 && (a.byteOffset & 3) === 0 && (b.byteOffset & 3) === 0) {
    // four bytes at a time: most small files compared are duplicates, read whole
    const w = n >>> 2;
    const x = new Int32Array(a.buffer, a.byteOffset, w);
    const y = new Int32Array(b.buffer, b.byteOffset, w);
    for (let j = 0; j < w; j++) if (x[j] !== y[j]) return false;
    i = w << 2;
  }
  for (; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class DataWriter {
  readonly pipe: BlockPipe;
  /** Fragment table: start offset and size word of each fragment block. */
  readonly fragStarts: number[] = [];
  readonly fragWords: number[] = [];
  private frag: Uint8Array;
  private fragFill = 0;
  private bySize = new Map<number, Known[]>();
  private smallCache = new Map<Known, Uint8Array>();
  private readonly scratch: Uint8Array;
  /** Fragment buffers whose block has been written, for reuse. */
  private fragPool: Uint8Array[] = [];
  private smallCached = 0;
  private readonly o: DataOptions;
  duplicates = 0;
  dataBytes = 0;

  constructor(out: SquashfsOutput, comp: BlockCompressor, start: number, o: DataOptions) {
    this.o = o;
    this.pipe = new BlockPipe(out, comp, start, Math.max(2, comp.concurrency * 2), o.detectIncompressible);
    this.frag = new Uint8Array(o.blockSize);
    this.scratch = new Uint8Array(o.blockSize);
  }

  get fragmentCount(): number {
    return this.fragStarts.length + (this.fragFill > 0 ? 1 : 0);
  }

  /**
   * Store one file's data. A small file of a positional content (the usual
   * host file) is read, compared and packed on the spot, without a promise:
   * on trees of small files the per-file awaits were a large part of the time.
   */
  addFile(content: Content, path: string): FileData | Promise<FileData> {
    const size = content.size;
    if (size === 0) return { start: 0, blocks: NO_BLOCKS, fragment: INVALID_FRAG, fragOffset: 0, sparse: 0 };
    const bs = this.o.blockSize;
    const tail = size % bs;
    const inFragment = this.o.fragments && tail > 0 && (size < bs || this.o.tailPacking);
    if (size < bs && inFragment) {
      const buf = this.scratch.subarray(0, size);
      if (new ContentReader(content, path).fillSync(buf)) return this.placeSmall(content, buf);
      return this.addSmall(content, path);
    }
    return this.addLarge(content, path, inFragment);
  }

  private async addLarge(content: Content, path: string, inFragment: boolean): Promise<FileData> {
    if (this.o.dedupe) {
      const dup = await this.findDuplicate(content, path);
      if (dup) {
        this.duplicates++;
        return dup;
      }
    }
    const data = await this.writeBlocks(content, path, inFragment);
    if (this.o.dedupe) this.remember({ content, data });
    return data;
  }

  /** A file smaller than a block: read it whole, look for a duplicate, pack it into a fragment. */
  private async addSmall(content: Content, path: string): Promise<FileData> {
    // read into a reused buffer: a new one per small file is most of the garbage on trees of small files
    const buf = await readInto(content, path, this.scratch.subarray(0, content.size));
    return this.placeSmall(content, buf);
  }

  /**
   * A small file's bytes (in `scratch`): a duplicate of an earlier file, or
   * packed into the fragment. Synchronous unless an earlier file must be
   * read again or the fragment block is full.
   */
  private placeSmall(content: Content, buf: Uint8Array): FileData | Promise<FileData> {
    this.o.progress.tick(buf.length);
    this.dataBytes += buf.length;
    // the CRC only spares reading an earlier file again: bytes still cached are compared at once
    let hash: number | undefined;
    if (this.o.dedupe) {
      const list = this.bySize.get(buf.length);
      if (list)
        for (let j = 0; j < list.length; j++) {
          const k = list[j]!;
          const theirs = this.smallCache.get(k);
          if (theirs) {
            if (!equal(theirs, buf)) continue;
            this.duplicates++;
            return k.data;
          }
          hash ??= crc32(buf);
          if (k.hash === undefined || k.hash === hash) return this.placeSmallSlow(content, buf, hash, j);
        }
    }
    return this.packSmall(content, buf, hash);
  }

  /** placeSmall from the `from`th earlier file of the same size on, when that one must be hashed or read. */
  private async placeSmallSlow(content: Content, buf: Uint8Array, hash: number, from: number): Promise<FileData> {
    const list = this.bySize.get(buf.length)!;
    for (let j = from; j < list.length; j++) {
      const k = list[j]!;
      let theirs = this.smallCache.get(k);
      if (!theirs) {
        if ((await this.hashOf(k)) !== hash) continue;
        theirs = await readWhole(k.content, EARLIER);
      }
      if (equal(theirs, buf)) {
        this.duplicates++;
        return k.data;
      }
    }
    return this.packSmall(content, buf, hash);
  }

  private packSmall(content: Content, buf: Uint8Array, hash: number | undefined): FileData | Promise<FileData> {
    const data: FileData = { start: 0, blocks: NO_BLOCKS, fragment: INVALID_FRAG, fragOffset: 0, sparse: 0 };
    const p = this.toFragment(buf, data);
    const after = (): FileData => {
      if (this.o.dedupe) {
        const k: Known = hash === undefined ? { content, data } : { content, data, hash };
        this.remember(k);
        this.cacheSmall(k, buf.slice());
      }
      return data;
    };
    return p ? p.then(after) : after();
  }

  /** Keep the bytes of small files (up to SMALL_CACHE in all) so duplicates compare without reading them again. */
  private cacheSmall(k: Known, bytes: Uint8Array): void {
    // a file's CRC is taken when its bytes are not (or no longer) kept
    if (bytes.length > SMALL_CACHE / 64) {
      k.hash ??= crc32(bytes);
      return;
    }
    this.smallCache.set(k, bytes);
    this.smallCached += bytes.length;
    while (this.smallCached > SMALL_CACHE) {
      const [oldK, old] = this.smallCache.entries().next().value!;
      oldK.hash ??= crc32(old);
      this.smallCache.delete(oldK);
      this.smallCached -= old.length;
    }
  }

  private remember(k: Known): void {
    const list = this.bySize.get(k.content.size);
    if (list) list.push(k);
    else this.bySize.set(k.content.size, [k]);
  }

  private async hashOf(k: Known, path = EARLIER): Promise<number> {
    if (k.hash === undefined) {
      let h = 0;
      await forEachChunk(k.content, path, (c) => {
        h = crc32(c, h);
      });
      k.hash = h;
    }
    return k.hash;
  }

  /** An earlier file with the same bytes, checked by size, then CRC-32, then every byte. */
  private async findDuplicate(content: Content, path: string): Promise<FileData | undefined> {
    const list = this.bySize.get(content.size);
    if (!list) return undefined;
    const me: Known = { content, data: undefined as unknown as FileData };
    for (const k of list) {
      if (
        (await this.hashOf(k)) === (await this.hashOf(me, path)) &&
        (await sameBytes(k.content, EARLIER, content, path))
      ) {
        this.o.progress.tick(content.size);
        return k.data;
      }
    }
    return undefined;
  }

  private isHole(ranges: Array<[number, number]> | undefined, start: number, end: number): boolean {
    if (!ranges) return false;
    for (const [s, e] of ranges) if (s < end && e > start) return false;
    return true;
  }

  /** Stream a file's blocks through the pipe; the tail goes to a fragment when `tailFragment`. */
  private async writeBlocks(content: Content, path: string, tailFragment: boolean): Promise<FileData> {
    const bs = this.o.blockSize;
    const size = content.size;
    const n = tailFragment ? Math.floor(size / bs) : Math.ceil(size / bs);
    const data: FileData = { start: -1, blocks: new Uint32Array(n), fragment: INVALID_FRAG, fragOffset: 0, sparse: 0 };
    const ranges = this.o.sparse ? content.dataRanges?.() : undefined;
    const reader = new ContentReader(content, path);
    const positional = !!(content.readInto || content.readAt);
    let pending = 0,
      written = 0;
    let release: (() => void) | undefined;
    try {
      for (let i = 0; i < n; i++) {
        const off = i * bs;
        const len = Math.min(bs, size - off);
        if (positional && this.isHole(ranges, off, off + len)) {
          reader.skip(len);
          data.sparse += len;
          this.o.progress.tick(len);
          continue;
        }
        const block = new Uint8Array(len);
        await reader.fill(block);
        this.o.progress.tick(len);
        this.dataBytes += len;
        if (this.o.sparse && isZero(block)) {
          data.sparse += len;
          continue;
        }
        pending++;
        await this.pipe.submit(block, (offset, word) => {
          if (data.start < 0) data.start = offset;
          data.blocks[i] = word;
          if (++written === pending && release) release();
        });
      }
      if (tailFragment) {
        const tail = new Uint8Array(size - n * bs);
        await reader.fill(tail);
        this.o.progress.tick(tail.length);
        this.dataBytes += tail.length;
        await this.toFragment(tail, data);
      }
      await reader.end();
    } finally {
      await reader.close();
    }
    if (pending === 0) data.start = this.pipe.pos;
    else if (written < pending)
      data.ready = new Promise<void>((r) => {
        release = r;
      });
    return data;
  }

  /** Append to the fragment block; a promise only when the full block had to be submitted first. */
  private toFragment(bytes: Uint8Array, data: FileData): Promise<void> | undefined {
    if (this.fragFill + bytes.length > this.o.blockSize)
      return this.flushFragment().then(() => this.intoFragment(bytes, data));
    this.intoFragment(bytes, data);
    return undefined;
  }

  private intoFragment(bytes: Uint8Array, data: FileData): void {
    data.fragment = this.fragStarts.length;
    data.fragOffset = this.fragFill;
    this.frag.set(bytes, this.fragFill);
    this.fragFill += bytes.length;
  }

  private async flushFragment(): Promise<void> {
    if (this.fragFill === 0) return;
    const block = this.frag.subarray(0, this.fragFill);
    const index = this.fragStarts.length;
    this.fragStarts.push(0);
    this.fragWords.push(0);
    const buffer = this.frag;
    this.frag = this.fragPool.pop() ?? new Uint8Array(this.o.blockSize);
    this.fragFill = 0;
    await this.pipe.submit(block, (offset, word) => {
      this.fragStarts[index] = offset;
      this.fragWords[index] = word;
      if (this.fragPool.length < 4) this.fragPool.push(buffer);
    });
  }

  /** Flush the last fragment and wait for every block to be written. */
  async finish(): Promise<void> {
    await this.flushFragment();
    await this.pipe.drain();
  }
}
