/**
 * tar on-disk structures, each declared once (POSIX.1-2001 ustar header
 * names; GNU's additions as in GNU tar's tar.h). Numbers in headers are
 * NUL/space-terminated octal text or GNU base-256 (numbers.ts); the tables
 * give their places, never their values.
 *
 * A header block is the ustar header (0..499, padded to 512). In the old GNU
 * format bytes 345..511 are not `prefix` but GNU_TAIL (times, the first four
 * sparse entries, `isextended`, `realsize`); the sparse list continues in
 * GNU_SPARSE_EXT blocks while `isextended` is set.
 */
import {
  defineStruct,
  seq,
  type FieldDef,
  type FieldType,
  type Struct,
  type StructValue,
} from '../../binary/struct.js';

type SeqIn = ReadonlyArray<readonly [string, FieldType, number?]>;
type SeqOut<T extends SeqIn> = {
  readonly [K in keyof T]: {
    readonly name: T[K][0];
    readonly offset: number;
    readonly type: T[K][1];
    readonly length?: number;
  };
};
function fields<const T extends SeqIn>(defs: T, start = 0): SeqOut<T> {
  return seq(defs, start) as unknown as SeqOut<T>;
}

export const BLOCK = 512;

/** POSIX ustar header (also v7 and GNU: same places for the first 345 bytes). */
export const TAR_HEADER = defineStruct(
  'tar.header',
  BLOCK,
  fields([
    ['name', 'bytes', 100],
    ['mode', 'bytes', 8],
    ['uid', 'bytes', 8],
    ['gid', 'bytes', 8],
    ['size', 'bytes', 12],
    ['mtime', 'bytes', 12],
    ['chksum', 'bytes', 8],
    ['typeflag', 'u8'],
    ['linkname', 'bytes', 100],
    ['magic', 'bytes', 6],
    ['version', 'bytes', 2],
    ['uname', 'bytes', 32],
    ['gname', 'bytes', 32],
    ['devmajor', 'bytes', 8],
    ['devminor', 'bytes', 8],
    ['prefix', 'bytes', 155],
    ['pad', 'bytes', 12],
  ]),
);

/** One old-GNU sparse entry: where a data segment sits in the file and how long it is. */
export const SPARSE_ENTRY = defineStruct(
  'tar.sparse',
  24,
  fields([
    ['offset', 'bytes', 12],
    ['numbytes', 'bytes', 12],
  ]),
);

/** Old GNU format, bytes 345..511 of a header (instead of `prefix` and `pad`). */
export const GNU_TAIL = defineStruct(
  'tar.gnu_tail',
  167,
  fields([
    ['atime', 'bytes', 12],
    ['ctime', 'bytes', 12],
    ['offset', 'bytes', 12],
    ['longnames', 'bytes', 4],
    ['unused', 'u8'],
    ['sparse', 'bytes', 4 * SPARSE_ENTRY.size],
    ['isextended', 'u8'],
    ['realsize', 'bytes', 12],
    ['pad', 'bytes', 17],
  ]),
);
/** Where GNU_TAIL starts inside a header block. */
export const GNU_TAIL_OFFSET = TAR_HEADER.offsetOf('prefix');

/** Old GNU sparse continuation block: 21 more entries. */
export const GNU_SPARSE_EXT = defineStruct(
  'tar.gnu_sparse_ext',
  BLOCK,
  fields([
    ['sparse', 'bytes', 21 * SPARSE_ENTRY.size],
    ['isextended', 'u8'],
    ['pad', 'bytes', 7],
  ]),
);

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
/** POSIX magic + version ("ustar\0" "00"). */
export const USTAR_MAGIC = ascii('ustar\0');
export const USTAR_VERSION = ascii('00');
/** Old GNU magic + version ("ustar " " \0"). */
export const GNU_MAGIC = ascii('ustar ');
export const GNU_VERSION = ascii(' \0');

/** typeflag values (POSIX, GNU, star). */
export const TYPE = {
  FILE: 0x30, // '0'
  OLD_FILE: 0x00, // '\0' (v7)
  HARDLINK: 0x31, // '1'
  SYMLINK: 0x32, // '2'
  CHAR: 0x33, // '3'
  BLOCK: 0x34, // '4'
  DIR: 0x35, // '5'
  FIFO: 0x36, // '6'
  CONTIGUOUS: 0x37, // '7' (a regular file)
  PAX_GLOBAL: 0x67, // 'g'
  PAX: 0x78, // 'x'
  PAX_SOLARIS: 0x58, // 'X' (old Solaris/star spelling of 'x')
  GNU_DUMPDIR: 0x44, // 'D' (a directory with a listing as data)
  GNU_LONGLINK: 0x4b, // 'K'
  GNU_LONGNAME: 0x4c, // 'L'
  GNU_MULTIVOL: 0x4d, // 'M'
  GNU_NAMES: 0x4e, // 'N'
  GNU_SPARSE: 0x53, // 'S'
  GNU_VOLHDR: 0x56, // 'V'
} as const;

/** Largest values of the octal fields, written the ustar way (digits + terminator). */
export const OCTAL_MAX = {
  mode: 0o7777777,
  id: 0o7777777,
  size: 0o77777777777,
  time: 0o77777777777,
  dev: 0o7777777,
} as const;

/**
 * Decode without copying: bytes fields are views into `buf` (valid while
 * `buf` is), u8 fields numbers. The tar tables have only these two types.
 * The scanner decodes two headers per member (pax + ustar); copying each
 * field (Struct.decode) was a third of its time on a 22,000-member archive.
 */
export function viewStruct<Fs extends readonly FieldDef[]>(
  s: Struct<Fs>,
  buf: Uint8Array,
  offset = 0,
): StructValue<Fs> {
  const out: Record<string, number | Uint8Array> = {};
  for (const f of s.fields) {
    const o = offset + f.offset;
    if (f.type === 'bytes') out[f.name] = buf.subarray(o, o + f.length!);
    else if (f.type === 'u8') out[f.name] = buf[o]!;
    else throw new Error(`${s.name}.${f.name}: viewStruct handles bytes and u8 fields only`);
  }
  return out as StructValue<Fs>;
}
