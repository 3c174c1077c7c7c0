/**
 * Android sparse reader: a read-only BlockDevice over the expanded image.
 * The chunk list is walked once at open (bounded by the header's chunk
 * count and by the file: every chunk header and its data must lie inside
 * it, and the sizes must agree with the chunk type); reads then find their
 * chunk by binary search. DONT_CARE reads as zeros; CRC32 chunks are
 * accepted but not verified (that would read the whole image).
 */
import { formatFailure } from '../../errors.js';
import { readAtInto, checkRange, type BlockDevice } from '../../io/device.js';
import type { OpenedContainer } from '../types.js';
import { readFrom } from '../units.js';
import { readOnlyError } from '../window.js';
import {
  CHUNK_CRC32,
  CHUNK_DONT_CARE,
  CHUNK_FILL,
  CHUNK_RAW,
  MAJOR_VERSION,
  SPARSE_CHUNK,
  SPARSE_FILL,
  SPARSE_HEADER,
  SPARSE_MAGIC,
} from './structs.js';

const FORMAT = 'Android sparse';
const fail = formatFailure('Android sparse', 'sparse');

const KIND_ZERO = 0;
const KIND_RAW = 1;
const KIND_FILL = 2;

export function openSparse(file: BlockDevice): OpenedContainer {
  if (file.size < SPARSE_HEADER.size)
    throw fail('E_FORMAT_TRUNCATED', `file of ${file.size} bytes is too small for a header`, { structure: 'header' });
  const h = SPARSE_HEADER.decode(file.readAt(0, SPARSE_HEADER.size));
  if (h.magic !== SPARSE_MAGIC)
    throw fail('E_FORMAT_MAGIC', 'no sparse magic', { structure: 'header', field: 'magic' });
  if (h.majorVersion !== MAJOR_VERSION)
    throw fail('E_FORMAT_SPARSE_VERSION', `major version ${h.majorVersion} is not supported`, {
      field: 'majorVersion',
      actual: h.majorVersion,
    });
  if (h.fileHeaderSize < SPARSE_HEADER.size || h.chunkHeaderSize < SPARSE_CHUNK.size)
    throw fail('E_FORMAT_SPARSE_HEADER', `header sizes ${h.fileHeaderSize}/${h.chunkHeaderSize} are below 28/12`, {
      structure: 'header',
    });
  if (h.blockSize === 0 || h.blockSize % 4 !== 0)
    throw fail('E_FORMAT_SPARSE_BLOCK_SIZE', `block size ${h.blockSize} is not a positive multiple of 4`, {
      field: 'blockSize',
      actual: h.blockSize,
    });
  const size = h.totalBlocks * h.blockSize;
  if (!Number.isSafeInteger(size))
    throw fail('E_FORMAT_SPARSE_HEADER', `${h.totalBlocks} blocks of ${h.blockSize} bytes is too large`, {
      field: 'totalBlocks',
    });
  const maxChunks = Math.floor((file.size - h.fileHeaderSize) / h.chunkHeaderSize);
  if (h.totalChunks > maxChunks)
    throw fail('E_FORMAT_SPARSE_CHUNKS', `${h.totalChunks} chunks cannot fit in a file of ${file.size} bytes`, {
      field: 'totalChunks',
      actual: h.totalChunks,
    });
  const chunks = walkChunks(file, h);
  const device = new SparseDevice(file, size, h.blockSize, chunks.starts, chunks.kinds, chunks.where);
  return {
    device,
    info: {
      kind: 'android-sparse',
      virtualSize: size,
      fileSize: file.size,
      blockSize: h.blockSize,
      chunks: h.totalChunks,
      blocksCovered: chunks.blocks,
      crcChunks: chunks.crcChunks,
    },
  };
}

/** Every chunk header, validated against its type, the file and the image's block count. */
function walkChunks(file: BlockDevice, h: ReturnType<typeof SPARSE_HEADER.decode>) {
  const n = h.totalChunks;
  const starts = new Float64Array(n + 1); // first block of each chunk; starts[n] = blocks covered
  const kinds = new Uint8Array(n);
  const where = new Float64Array(n); // file offset of RAW data, or the FILL value
  let pos = h.fileHeaderSize;
  let block = 0;
  let crcChunks = 0;
  for (let i = 0; i < n; i++) {
    if (pos + h.chunkHeaderSize > file.size)
      throw fail('E_FORMAT_TRUNCATED', `chunk ${i} header lies past the end of the file`, {
        structure: 'chunk',
        offset: pos,
      });
    const c = SPARSE_CHUNK.decode(file.readAt(pos, SPARSE_CHUNK.size));
    const data = c.totalSize - h.chunkHeaderSize;
    const at = { structure: 'chunk', offset: pos, chunk: i };
    starts[i] = block;
    if (c.type === CHUNK_RAW) {
      if (data !== c.blocks * h.blockSize)
        throw fail('E_FORMAT_SPARSE_CHUNK', `RAW chunk ${i} of ${c.blocks} blocks carries ${data} bytes`, at);
      kinds[i] = KIND_RAW;
      where[i] = pos + h.chunkHeaderSize;
    } else if (c.type === CHUNK_FILL) {
      if (data !== 4) throw fail('E_FORMAT_SPARSE_CHUNK', `FILL chunk ${i} carries ${data} bytes, not 4`, at);
      kinds[i] = KIND_FILL;
      where[i] = SPARSE_FILL.decode(file.readAt(pos + h.chunkHeaderSize, 4)).value;
    } else if (c.type === CHUNK_DONT_CARE || c.type === CHUNK_CRC32) {
      if (data !== (c.type === CHUNK_CRC32 ? 4 : 0))
        throw fail('E_FORMAT_SPARSE_CHUNK', `chunk ${i} of type 0x${c.type.toString(16)} carries ${data} bytes`, at);
      if (c.type === CHUNK_CRC32) {
        crcChunks++;
        if (c.blocks !== 0) throw fail('E_FORMAT_SPARSE_CHUNK', `CRC32 chunk ${i} covers ${c.blocks} blocks`, at);
      }
      kinds[i] = KIND_ZERO;
    } else {
      throw fail('E_FORMAT_SPARSE_CHUNK', `chunk ${i} has unknown type 0x${c.type.toString(16)}`, at);
    }
    if (pos + c.totalSize > file.size)
      throw fail('E_FORMAT_TRUNCATED', `chunk ${i} data runs past the end of the file`, at);
    block += c.blocks;
    if (block > h.totalBlocks)
      throw fail('E_FORMAT_SPARSE_CHUNKS', `chunks cover more than the ${h.totalBlocks} blocks of the image`, at);
    pos += c.totalSize;
  }
  starts[n] = block;
  return { starts, kinds, where, blocks: block, crcChunks };
}

class SparseDevice implements BlockDevice {
  private readonly fillBuf = new Uint8Array(4);
  constructor(
    private readonly file: BlockDevice,
    readonly size: number,
    private readonly bs: number,
    private readonly starts: Float64Array,
    private readonly kinds: Uint8Array,
    private readonly where: Float64Array,
  ) {}

  /** Index of the chunk holding block `b` (chunks.length when past the covered blocks). */
  private find(b: number): number {
    let lo = 0;
    let hi = this.kinds.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid + 1]! <= b) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }

  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    let i = 0;
    while (i < out.length) {
      const pos = offset + i;
      const k = this.find(Math.floor(pos / this.bs));
      if (k >= this.kinds.length) {
        out.fill(0, i);
        return;
      }
      const chunkStart = this.starts[k]! * this.bs;
      const chunkEnd = this.starts[k + 1]! * this.bs;
      const n = Math.min(chunkEnd - pos, out.length - i);
      const part = out.subarray(i, i + n);
      if (this.kinds[k] === KIND_RAW) readFrom(this.file, this.where[k]! + (pos - chunkStart), part);
      else if (this.kinds[k] === KIND_ZERO) part.fill(0);
      else this.fill(part, this.where[k]!, pos - chunkStart);
      i += n;
    }
  }

  private fill(part: Uint8Array, value: number, phase: number): void {
    if (value === 0) {
      part.fill(0);
      return;
    }
    new DataView(this.fillBuf.buffer).setUint32(0, value, true);
    const first = Math.min(4, part.length);
    for (let j = 0; j < first; j++) part[j] = this.fillBuf[(phase + j) & 3]!;
    // the pattern repeats every 4 bytes: double the filled prefix until done
    for (let done = first; done < part.length; done *= 2) part.copyWithin(done, 0, Math.min(done, part.length - done));
  }

  writeAt(): void {
    throw readOnlyError(FORMAT);
  }

  flush(): void {}
}
