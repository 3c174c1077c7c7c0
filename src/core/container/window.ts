/**
 * Read-only views for container readers: a window onto part of the
 * container file (VHD fixed, VMDK flat extents), and a concatenation of
 * devices (VMDK descriptors with several extents).
 */
import { FormatError, UsageError } from '../errors.js';
import { readAtInto, checkRange, type BlockDevice } from '../io/device.js';
import { readFrom } from './units.js';

export function readOnlyError(format: string): UsageError {
  return new UsageError(
    'E_USAGE_READONLY',
    `a ${format} image is opened read-only; write a new one with writeContainer`,
    { format },
  );
}

/** `size` bytes of `file` from `offset`; bytes past the end of the file read as zeros. */
export class ReadOnlyWindow implements BlockDevice {
  constructor(
    private readonly file: BlockDevice,
    private readonly offset: number,
    readonly size: number,
    private readonly format: string,
  ) {
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(size) || size < 0) {
      throw new FormatError('E_FORMAT_RANGE', `${format}: window of ${size} bytes at ${offset} is not valid`, {
        format,
        offset,
      });
    }
  }
  readAt(offset: number, length: number): Uint8Array {
    checkRange(this, offset, length);
    const out = new Uint8Array(length);
    readFrom(this.file, this.offset + offset, out);
    return out;
  }
  readInto(offset: number, target: Uint8Array): void {
    checkRange(this, offset, target.length);
    readFrom(this.file, this.offset + offset, target);
  }
  writeAt(): void {
    throw readOnlyError(this.format);
  }
  flush(): void {}
}

/** Devices one after another (the extents of a VMDK descriptor). */
export class ConcatDevice implements BlockDevice {
  readonly size: number;
  private readonly starts: number[] = [];
  constructor(
    private readonly parts: readonly BlockDevice[],
    private readonly format: string,
  ) {
    let at = 0;
    for (const p of parts) {
      this.starts.push(at);
      at += p.size;
    }
    this.size = at;
  }
  readAt(offset: number, length: number): Uint8Array {
    return readAtInto(this, offset, length);
  }
  readInto(offset: number, out: Uint8Array): void {
    checkRange(this, offset, out.length);
    let i = 0;
    let k = 0;
    while (i < out.length) {
      const pos = offset + i;
      while (k + 1 < this.parts.length && this.starts[k + 1]! <= pos) k++;
      while (k > 0 && this.starts[k]! > pos) k--;
      const p = this.parts[k]!;
      const inPart = pos - this.starts[k]!;
      const n = Math.min(p.size - inPart, out.length - i);
      readFrom(p, inPart, out.subarray(i, i + n));
      i += n;
    }
  }
  writeAt(): void {
    throw readOnlyError(this.format);
  }
  flush(): void {}
}
