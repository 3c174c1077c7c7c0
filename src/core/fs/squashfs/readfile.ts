/**
 * Lazy file contents of a squashfs image: the block list is read from the
 * inode table on first access, each block is located by the sum of the
 * sizes before it, checked to lie in the data area and decompressed to
 * exactly the length it must have. Holes (size word 0) read as zeros.
 */
import type { BlockDevice } from '../../io/device.js';
import type { Content } from '../../tree/types.js';
import { cursorAt, fail } from './readmeta.js';
import type { Tables } from './readsuper.js';
import { DATA_SIZE_MASK, DATA_UNCOMPRESSED, FRAGMENT_ENTRY, INVALID_FRAG, METADATA_SIZE } from './structs.js';

const CHUNK = 1 << 20;
const FRAG_CACHE = 4;
/** Most bytes of uncompressed metadata a compressed byte can stand for (deflate's limit is ~1032). */
const MAX_RATIO = 1100;

export interface RegInfo {
  path: string;
  size: number;
  start: number;
  /** Reference of the block list (right after the inode). */
  listRef: number;
  fragment: number;
  fragOffset: number;
}

export class DataReader {
  private fragCache = new Map<number, Uint8Array>();

  constructor(
    private readonly dev: BlockDevice,
    private readonly t: Tables,
  ) {}

  private get bs(): number {
    return this.t.sb.blockSize;
  }

  /** Decompress (or copy) a stored block of `want` bytes at `at`. */
  private block(at: number, word: number, want: number, what: string): Uint8Array {
    const len = word & DATA_SIZE_MASK;
    if (word >>> 25 || len > this.bs || at < this.t.dataStart || at + len > this.t.dataEnd) {
      throw fail(
        'E_FORMAT_SQUASHFS_BLOCK',
        `${what}: block of ${len} bytes at ${at} lies outside the data area (${this.t.dataStart}..${this.t.dataEnd})`,
        { offset: at, actual: word },
      );
    }
    const raw = this.dev.readAt(at, len);
    const data = word & DATA_UNCOMPRESSED ? raw : this.t.decompress(raw, this.bs);
    if (data.length < want)
      throw fail('E_FORMAT_SQUASHFS_BLOCK', `${what}: block at ${at} holds ${data.length} bytes, ${want} expected`, {
        offset: at,
        expected: want,
        actual: data.length,
      });
    return data;
  }

  fragment(index: number, what: string): Uint8Array {
    const hit = this.fragCache.get(index);
    if (hit) return hit;
    if (index >= this.t.sb.fragments)
      throw fail(
        'E_FORMAT_SQUASHFS_FRAGMENT',
        `${what}: fragment ${index} does not exist (${this.t.sb.fragments} fragments)`,
        { actual: index },
      );
    const pos = index * FRAGMENT_ENTRY.size;
    const block = this.t.fragIndex[Math.floor(pos / METADATA_SIZE)]!;
    const e = FRAGMENT_ENTRY.decode(this.t.frags!.read({ block, offset: pos % METADATA_SIZE }, FRAGMENT_ENTRY.size));
    const data = this.block(e.startBlock, e.size, 0, `${what} (fragment ${index})`);
    this.fragCache.set(index, data);
    if (this.fragCache.size > FRAG_CACHE) this.fragCache.delete(this.fragCache.keys().next().value!);
    return data;
  }

  content(f: RegInfo): Content {
    const bs = this.bs;
    const hasFrag = f.fragment !== INVALID_FRAG;
    const n = hasFrag ? Math.floor(f.size / bs) : Math.ceil(f.size / bs);
    if (hasFrag && f.size % bs === 0 && f.size > 0)
      throw fail('E_FORMAT_SQUASHFS_INODE', `${f.path}: a fragment for a file of whole blocks`, { path: f.path });
    const inodeRegion = this.t.inodes.end - this.t.inodes.start;
    if (n * 4 > inodeRegion * MAX_RATIO) {
      throw fail(
        'E_FORMAT_SQUASHFS_INODE',
        `${f.path}: ${f.size} bytes need ${n} block sizes, more than the inode table can hold`,
        { path: f.path, actual: f.size },
      );
    }
    let words: Uint32Array | undefined;
    let starts: Float64Array | undefined;
    const load = () => {
      if (words) return;
      const raw = this.t.inodes.read(cursorAt(f.listRef), n * 4);
      const v = new DataView(raw.buffer);
      words = new Uint32Array(n);
      starts = new Float64Array(n + 1);
      starts[0] = f.start;
      for (let i = 0; i < n; i++) {
        words[i] = v.getUint32(i * 4, true);
        starts[i + 1] = starts[i]! + (words[i]! & DATA_SIZE_MASK);
      }
    };
    let lastIndex = -1;
    let last: Uint8Array | undefined;
    const blockData = (i: number): Uint8Array | undefined => {
      load();
      if (i === lastIndex) return last;
      const want = Math.min(bs, f.size - i * bs);
      const w = words![i]!;
      const d = w === 0 ? undefined : this.block(starts![i]!, w, want, f.path);
      lastIndex = i;
      last = d;
      return d;
    };
    const readInto = (pos: number, target: Uint8Array): number => {
      const end = Math.min(f.size, pos + target.length);
      let p = pos;
      while (p < end) {
        const i = Math.floor(p / bs);
        const within = p - i * bs;
        const k = Math.min(end - p, bs - within);
        if (i < n) {
          const d = blockData(i);
          if (d) target.set(d.subarray(within, within + k), p - pos);
          else target.fill(0, p - pos, p - pos + k);
        } else {
          const frag = this.fragment(f.fragment, f.path);
          const from = f.fragOffset + within;
          if (f.fragOffset + (f.size - n * bs) > frag.length) {
            throw fail(
              'E_FORMAT_SQUASHFS_FRAGMENT',
              `${f.path}: tail at ${f.fragOffset} runs past its fragment (${frag.length} bytes)`,
              { path: f.path },
            );
          }
          target.set(frag.subarray(from, from + k), p - pos);
        }
        p += k;
      }
      return Math.max(0, end - pos);
    };
    const readAt = (pos: number, len: number): Uint8Array => {
      const out = new Uint8Array(Math.max(0, Math.min(len, f.size - pos)));
      readInto(pos, out);
      return out;
    };
    /** Stored blocks and the fragment tail hold data; blocks with size word 0 are holes. */
    const dataRanges = (): Array<[number, number]> => {
      load();
      const out: Array<[number, number]> = [];
      const add = (s: number, e: number) => {
        const last = out[out.length - 1];
        if (last && last[1] === s) last[1] = e;
        else out.push([s, e]);
      };
      for (let i = 0; i < n; i++) if (words![i] !== 0) add(i * bs, Math.min(f.size, (i + 1) * bs));
      if (hasFrag && n * bs < f.size) add(n * bs, f.size);
      return out;
    };
    return {
      size: f.size,
      readAt,
      readInto,
      dataRanges,
      async *stream() {
        for (let p = 0; p < f.size; p += CHUNK) yield readAt(p, CHUNK);
      },
    };
  }
}
