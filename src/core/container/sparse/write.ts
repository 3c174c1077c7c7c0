/**
 * Android sparse writer. Every block of the device becomes part of a chunk:
 * RAW for data, FILL for a block that repeats one 32-bit value, and for
 * all-zero blocks (including everything outside the data extents) FILL 0 by
 * default (flashing then restores them on a used partition, which matters
 * for filesystems that trust zeroed inode tables) or DONT_CARE with
 * `zeroBlocks: 'dont-care'`. The output depends only on the content, never
 * on the extent list. A RAW chunk's header is written when the run ends, so
 * no block is buffered.
 */
import { UsageError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { silentProgress } from '../../progress.js';
import type { ContainerOptions, ContainerSummary, ContainerTarget, Extent } from '../types.js';
import { normalizeExtents, scanBatches, WriteQueue } from '../units.js';
import {
  CHUNK_DONT_CARE,
  CHUNK_FILL,
  CHUNK_RAW,
  DEFAULT_BLOCK_SIZE,
  MAJOR_VERSION,
  MAX_RAW_CHUNK,
  MINOR_VERSION,
  SPARSE_CHUNK,
  SPARSE_FILL,
  SPARSE_HEADER,
  SPARSE_MAGIC,
} from './structs.js';

export type SparseOptions = Pick<ContainerOptions, 'blockSize' | 'zeroBlocks' | 'progress'>;

const NONE = -1;

/** Collects consecutive blocks of one kind into chunks written at increasing offsets. */
class ChunkWriter {
  pos = SPARSE_HEADER.size;
  chunks = 0;
  rawBlocks = 0;
  private type = NONE;
  private value = 0;
  private blocks = 0;
  private headerAt = 0;
  constructor(
    private readonly target: ContainerTarget,
    private readonly queue: WriteQueue,
    private readonly bs: number,
  ) {}

  private close(): void {
    if (this.type === NONE) return;
    const data = this.type === CHUNK_RAW ? this.blocks * this.bs : this.type === CHUNK_FILL ? SPARSE_FILL.size : 0;
    const head = SPARSE_CHUNK.encode({
      type: this.type,
      reserved: 0,
      blocks: this.blocks,
      totalSize: SPARSE_CHUNK.size + data,
    });
    if (this.type === CHUNK_FILL) {
      const b = new Uint8Array(SPARSE_CHUNK.size + SPARSE_FILL.size);
      b.set(head);
      SPARSE_FILL.encode({ value: this.value }, b, SPARSE_CHUNK.size);
      this.target.writeAt(this.pos, b);
      this.pos += b.length;
    } else if (this.type === CHUNK_RAW) {
      this.target.writeAt(this.headerAt, head);
    } else {
      this.target.writeAt(this.pos, head);
      this.pos += head.length;
    }
    this.chunks++;
    this.type = NONE;
  }

  /** Add `n` blocks of `type` (FILL with `value`; RAW with their bytes in `data`, from scan buffer `tag`). */
  add(type: number, n: number, value = 0, data?: Uint8Array, tag = -1): void {
    if (
      this.type !== type ||
      (type === CHUNK_FILL && value !== this.value) ||
      (type === CHUNK_RAW && (this.blocks + n) * this.bs > MAX_RAW_CHUNK)
    ) {
      this.close();
      this.type = type;
      this.value = value;
      this.blocks = 0;
      if (type === CHUNK_RAW) {
        this.headerAt = this.pos;
        this.pos += SPARSE_CHUNK.size;
      }
    }
    if (data) {
      this.queue.write(this.pos, data, tag);
      this.pos += data.length;
      this.rawBlocks += n;
    }
    this.blocks += n;
  }

  finish(): void {
    this.close();
  }
}

/** The 32-bit value `b` repeats, or undefined. */
function fillValue(b: Uint8Array): number | undefined {
  const w = new Uint32Array(b.buffer, b.byteOffset, b.length >>> 2);
  const v = w[0]!;
  for (let i = 1; i < w.length; i++) if (w[i] !== v) return undefined;
  return v;
}

export async function writeSparse(
  src: BlockDevice,
  target: ContainerTarget,
  o: SparseOptions & { extents?: readonly Extent[] } = {},
): Promise<ContainerSummary> {
  const bs = o.blockSize ?? DEFAULT_BLOCK_SIZE;
  if (!Number.isSafeInteger(bs) || bs < 4 || bs % 4 !== 0 || bs > 64 * 1024 * 1024)
    throw new UsageError(
      'E_USAGE_BLOCK_SIZE',
      `Android sparse block size must be a multiple of 4 up to 64 MiB, got ${bs}`,
      { field: 'blockSize', actual: bs },
    );
  const total = Math.ceil(src.size / bs);
  if (total > 0xffffffff)
    throw new UsageError('E_USAGE_SIZE', `${src.size} bytes is more than 2^32 blocks of ${bs}`, {
      field: 'size',
      actual: src.size,
    });
  const zero = o.zeroBlocks === 'dont-care' ? CHUNK_DONT_CARE : CHUNK_FILL;
  const queue = new WriteQueue(target);
  const w = new ChunkWriter(target, queue, bs);
  const progress = o.progress ?? silentProgress;
  const extents = normalizeExtents(o.extents, src.size);
  progress.start(
    'writing Android sparse',
    extents.reduce((n, e) => n + e.length, 0),
    'bytes',
  );
  let at = 0;
  for await (const { unit, data, tag } of scanBatches(src, extents, bs, { progress, queue })) {
    if (unit > at) w.add(zero, unit - at);
    const n = data.length / bs;
    let raw = 0; // blocks [raw, i) are data, written together
    for (let i = 0; i <= n; i++) {
      const v = i < n ? fillValue(data.subarray(i * bs, (i + 1) * bs)) : 0;
      if (v === undefined) continue;
      if (raw < i) w.add(CHUNK_RAW, i - raw, 0, data.subarray(raw * bs, i * bs), tag);
      raw = i + 1;
      if (i < n) w.add(v === 0 ? zero : CHUNK_FILL, 1, v);
    }
    at = unit + n;
  }
  if (total > at) w.add(zero, total - at);
  w.finish();
  await queue.drain();
  progress.done();
  target.writeAt(
    0,
    SPARSE_HEADER.encode({
      magic: SPARSE_MAGIC,
      majorVersion: MAJOR_VERSION,
      minorVersion: MINOR_VERSION,
      fileHeaderSize: SPARSE_HEADER.size,
      chunkHeaderSize: SPARSE_CHUNK.size,
      blockSize: bs,
      totalBlocks: total,
      totalChunks: w.chunks,
      imageChecksum: 0,
    }),
  );
  return { format: 'sparse', virtualSize: total * bs, fileSize: w.pos, allocatedUnits: w.rawBlocks, unitSize: bs };
}
