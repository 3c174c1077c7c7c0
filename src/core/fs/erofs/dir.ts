/**
 * Directory data: blocks of entries sorted by name in byte order, "." and
 * ".." included. Each block starts with its 12-byte entries and ends with
 * their names (no NUL; the first entry's nameoff / 12 is the entry count).
 * An entry never straddles two blocks; the directory's size ends right after
 * the last name, as mkfs.erofs computes it.
 */
import { compareNames } from '../../tree/path.js';
import { DIRENT } from './structs.js';

const enc = new TextEncoder();

/** UTF-8 length of a string without encoding it. */
export function utf8Length(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) continue;
    if (c < 0x800) n += 1;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length && (s.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      n += 2; // a surrogate pair: two code units, four bytes
      i++;
    } else n += 2; // three bytes (a lone surrogate becomes U+FFFD, also three)
  }
  return n;
}

/** The names of a directory with "." and ".." in their byte-order places. */
export function withDots(sorted: readonly string[]): string[] {
  const out: string[] = [];
  let dots = 0;
  const dotNames = ['.', '..'];
  for (const n of sorted) {
    while (dots < 2 && compareNames(dotNames[dots]!, n) < 0) out.push(dotNames[dots++]!);
    out.push(n);
  }
  while (dots < 2) out.push(dotNames[dots++]!);
  return out;
}

/** Size in bytes of a directory whose entries (in order) have these name lengths. */
export function dirSize(names: readonly string[], bs: number): number {
  let size = 0;
  for (const n of names) {
    const len = DIRENT.size + utf8Length(n);
    if ((size % bs) + len > bs) size = Math.ceil(size / bs) * bs;
    size += len;
  }
  return size;
}

export interface DirEntryOut {
  name: string;
  nid: number;
  fileType: number;
}

/**
 * Call `emit(blockIndex, bytes)` for the blocks `from` .. `to` - 1 of a
 * directory (each `bs` bytes except a shorter last one); entries come
 * from `entry(i)` for the names in order.
 */
export function encodeDirBlocks(
  names: readonly string[],
  entry: (name: string) => DirEntryOut,
  bs: number,
  from: number,
  to: number,
  emit: (index: number, bytes: Uint8Array) => void,
): void {
  let block = 0;
  let start = 0;
  let used = 0;
  const flush = (end: number) => {
    if (block >= from && block < to) emit(block, encodeBlock(names, start, end, entry, bs, used));
    block++;
    start = end;
    used = 0;
  };
  for (let i = 0; i < names.length; i++) {
    const len = DIRENT.size + utf8Length(names[i]!);
    if (used + len > bs) flush(i);
    if (block >= to) return;
    used += len;
  }
  flush(names.length);
}

function encodeBlock(
  names: readonly string[],
  start: number,
  end: number,
  entry: (name: string) => DirEntryOut,
  bs: number,
  used: number,
): Uint8Array {
  // a full-size buffer for every block but the last, which ends after its last name
  const out = new Uint8Array(end === names.length ? used : bs);
  let nameoff = (end - start) * DIRENT.size;
  for (let i = start; i < end; i++) {
    const e = entry(names[i]!);
    DIRENT.encode({ nid: e.nid, nameoff, fileType: e.fileType, reserved: 0 }, out, (i - start) * DIRENT.size);
    nameoff += enc.encodeInto(e.name, out.subarray(nameoff)).written;
  }
  return out;
}
