/**
 * On-disk structures declared once, as data. A struct is a table of fields
 * (name, offset, type); `decode` and `encode` are derived from the table, so
 * an offset is never written twice. `layoutProblems` lets a test assert that
 * offsets are contiguous/non-overlapping and the total size is right.
 */
import { FormatError } from '../errors.js';

export type IntType = 'u8' | 'u16le' | 'u32le' | 'u64le' | 'u16be' | 'u32be' | 'u64be' | 'i32le' | 'i64le';
export type FieldType = IntType | 'bytes';

export interface FieldDef {
  readonly name: string;
  readonly offset: number;
  readonly type: FieldType;
  /** Required for 'bytes'. */
  readonly length?: number;
}

type FieldValue<F extends FieldDef> = F['type'] extends 'bytes' ? Uint8Array : number;
export type StructValue<Fs extends readonly FieldDef[]> = { -readonly [F in Fs[number] as F['name']]: FieldValue<F> };

const WIDTH: Record<IntType, number> = {
  u8: 1,
  u16le: 2,
  u32le: 4,
  u64le: 8,
  u16be: 2,
  u32be: 4,
  u64be: 8,
  i32le: 4,
  i64le: 8,
};

export function fieldLength(f: FieldDef): number {
  if (f.type === 'bytes') {
    if (f.length === undefined) throw new Error(`field ${f.name}: bytes needs a length`);
    return f.length;
  }
  return WIDTH[f.type];
}

export interface Struct<Fs extends readonly FieldDef[]> {
  readonly name: string;
  readonly size: number;
  readonly fields: Fs;
  /** Decode from `buf` at `offset`. Throws FormatError if the buffer is too short. */
  decode(buf: Uint8Array, offset?: number): StructValue<Fs>;
  /** Encode into `target` at `offset` (a new zeroed buffer of `size` when omitted). Missing fields are left untouched (zero in a new buffer). */
  encode(value: Partial<StructValue<Fs>>, target?: Uint8Array, offset?: number): Uint8Array;
  /** Offset of a field by name. */
  offsetOf(name: Fs[number]['name']): number;
}

/** The views of the last few buffers encoded or decoded (writers encode many records into one buffer). */
const VIEWS: Array<[Uint8Array, DataView]> = [];
const MAX_VIEWS = 4;
function dv(buf: Uint8Array): DataView {
  for (const [b, v] of VIEWS) if (b === buf) return v;
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (VIEWS.length >= MAX_VIEWS) VIEWS.pop();
  VIEWS.unshift([buf, v]);
  return v;
}

/** Read a u64 as a JS number; throws when it does not fit in 53 bits. */
export function getU64(view: DataView, off: number, little: boolean, where = 'u64'): number {
  const lo = view.getUint32(off + (little ? 0 : 4), little);
  const hi = view.getUint32(off + (little ? 4 : 0), little);
  if (hi > 0x1fffff)
    throw new FormatError('E_FORMAT_U64', `${where}: 64-bit value too large (high word 0x${hi.toString(16)})`, {
      field: where,
      offset: off,
    });
  return hi * 0x100000000 + lo;
}

export function setU64(view: DataView, off: number, value: number, little: boolean): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`u64 value out of range: ${value}`);
  const lo = value >>> 0;
  const hi = Math.floor(value / 0x100000000);
  view.setUint32(off + (little ? 0 : 4), lo, little);
  view.setUint32(off + (little ? 4 : 0), hi, little);
}

export function defineStruct<const Fs extends readonly FieldDef[]>(name: string, size: number, fields: Fs): Struct<Fs> {
  const byName = new Map<string, FieldDef>();
  for (const f of fields) byName.set(f.name, f);
  const decode = (buf: Uint8Array, offset = 0) => {
    if (offset < 0 || offset + size > buf.length) {
      throw new FormatError(
        'E_FORMAT_TRUNCATED',
        `${name}: need ${size} bytes at offset ${offset}, have ${Math.max(0, buf.length - offset)}`,
        { structure: name, offset, expected: size, actual: buf.length - offset },
      );
    }
    const v = dv(buf);
    const out: Record<string, number | Uint8Array> = {};
    for (const f of fields) {
      const o = offset + f.offset;
      switch (f.type) {
        case 'u8':
          out[f.name] = buf[o]!;
          break;
        case 'u16le':
          out[f.name] = v.getUint16(o, true);
          break;
        case 'u32le':
          out[f.name] = v.getUint32(o, true);
          break;
        case 'u64le':
          out[f.name] = getU64(v, o, true, `${name}.${f.name}`);
          break;
        case 'u16be':
          out[f.name] = v.getUint16(o, false);
          break;
        case 'u32be':
          out[f.name] = v.getUint32(o, false);
          break;
        case 'u64be':
          out[f.name] = getU64(v, o, false, `${name}.${f.name}`);
          break;
        case 'i32le':
          out[f.name] = v.getInt32(o, true);
          break;
        case 'i64le':
          out[f.name] = Number(v.getBigInt64(o, true));
          break;
        case 'bytes':
          out[f.name] = buf.slice(o, o + f.length!);
          break;
      }
    }
    return out as StructValue<Fs>;
  };
  const encode = (value: Partial<StructValue<Fs>>, target?: Uint8Array, offset = 0) => {
    const buf = target ?? new Uint8Array(size);
    if (offset + size > buf.length) throw new RangeError(`${name}: target too small`);
    const v = dv(buf);
    const val = value as Record<string, number | Uint8Array | undefined>;
    for (const f of fields) {
      const x = val[f.name];
      if (x === undefined) continue;
      const o = offset + f.offset;
      if (f.type === 'bytes') {
        const b = x as Uint8Array;
        if (b.length > f.length!) throw new RangeError(`${name}.${f.name}: ${b.length} bytes > ${f.length}`);
        buf.set(b, o);
        continue;
      }
      const n = x as number;
      switch (f.type) {
        case 'u8':
          buf[o] = n & 0xff;
          break;
        case 'u16le':
          v.setUint16(o, n & 0xffff, true);
          break;
        case 'u32le':
          v.setUint32(o, n >>> 0, true);
          break;
        case 'u64le':
          setU64(v, o, n, true);
          break;
        case 'u16be':
          v.setUint16(o, n & 0xffff, false);
          break;
        case 'u32be':
          v.setUint32(o, n >>> 0, false);
          break;
        case 'u64be':
          setU64(v, o, n, false);
          break;
        case 'i32le':
          v.setInt32(o, n | 0, true);
          break;
        case 'i64le':
          v.setBigInt64(o, BigInt(n), true);
          break;
      }
    }
    return buf;
  };
  return {
    name,
    size,
    fields,
    decode,
    encode,
    offsetOf(n) {
      const f = byName.get(n);
      if (!f) throw new Error(`${name}: no field ${n}`);
      return f.offset;
    },
  };
}

/**
 * Problems with a struct's layout: overlapping fields, fields past the end,
 * gaps (unless allowed), duplicate names. An empty list means the table is
 * sound. Tests call this for every struct.
 */
export function layoutProblems(
  s: Pick<Struct<readonly FieldDef[]>, 'name' | 'size' | 'fields'>,
  opts: { allowGaps?: boolean } = {},
): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  const sorted = [...s.fields].sort((a, b) => a.offset - b.offset);
  let end = 0;
  for (const f of sorted) {
    if (names.has(f.name)) problems.push(`duplicate field ${f.name}`);
    names.add(f.name);
    if (f.offset < end) problems.push(`${f.name} at ${f.offset} overlaps previous field ending at ${end}`);
    else if (f.offset > end && !opts.allowGaps)
      problems.push(`gap of ${f.offset - end} bytes before ${f.name} at ${f.offset}`);
    end = Math.max(end, f.offset + fieldLength(f));
  }
  if (end > s.size) problems.push(`fields end at ${end}, past struct size ${s.size}`);
  if (end < s.size && !opts.allowGaps) problems.push(`fields end at ${end}, struct size is ${s.size}`);
  return problems;
}

/** Helper for tables where fields follow each other: computes offsets from lengths. */
export function seq(
  defs: ReadonlyArray<readonly [name: string, type: FieldType, length?: number]>,
  start = 0,
): FieldDef[] {
  let off = start;
  return defs.map(([name, type, length]) => {
    const f: FieldDef = { name, offset: off, type, ...(length !== undefined ? { length } : {}) };
    off += fieldLength(f);
    return f;
  });
}
