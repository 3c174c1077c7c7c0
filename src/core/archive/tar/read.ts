/**
 * The tar member scanner: ustar, pax (per-member and global headers), GNU
 * long names/links, old GNU sparse ('S' with extension blocks) and pax
 * sparse 0.0/0.1/1.0, over a random-access source. It reads only headers:
 * a member's data stays in the source, and `dataOffset`/`storedSize` say
 * where (tree.ts builds lazy Content over it). Synchronous, like
 * BlockDevice: the source is a file, a spool or memory.
 *
 * Every size is checked against what the source holds before anything is
 * read or allocated; pax and long-name headers are bounded (MAX_PAX,
 * MAX_LONGNAME); a sparse map's entry count is bounded by the bytes that
 * store it. Errors are FormatErrors naming the member and its offset.
 */
import { FormatError } from '../../errors.js';
import { isZero } from '../../io/device.js';
import type { Timespec } from '../../tree/types.js';
import { headerSums, parseNumber } from './numbers.js';
import { parsePax, parsePaxTime, paxText, type PaxRecord } from './pax.js';
import {
  BLOCK,
  GNU_MAGIC,
  GNU_SPARSE_EXT,
  GNU_TAIL,
  GNU_TAIL_OFFSET,
  SPARSE_ENTRY,
  TAR_HEADER,
  TYPE,
  USTAR_MAGIC,
  viewStruct,
} from './structs.js';

/** What the reader needs of its input: BlockDevice's read half (MemoryDevice, FileDevice, a Blob-backed source...). */
export interface TarSource {
  readonly size: number;
  readAt(offset: number, length: number): Uint8Array;
  readInto?(offset: number, target: Uint8Array): void;
}

export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'chardev' | 'blockdev' | 'dir' | 'fifo';

/** One archive member, its extension headers applied. */
export interface TarMember {
  /** Offset of the member's first header (its pax or GNU long-name header when it has one). */
  offset: number;
  /** Name as stored (after pax path / GNU long name), not yet made safe. */
  name: string;
  type: TarEntryType;
  /** Permission bits (0o7777). */
  mode: number;
  uid: number;
  gid: number;
  mtime: Timespec;
  atime?: Timespec;
  ctime?: Timespec;
  /** File size (the real size of a sparse file). */
  size: number;
  /** Symlink target or hard-link target name. */
  linkname: string;
  devmajor: number;
  devminor: number;
  /** SCHILY.xattr.* / LIBARCHIVE.xattr.* records. */
  xattrs?: Map<string, Uint8Array>;
  /** SCHILY.acl.access / SCHILY.acl.default text. */
  acl?: { access?: string; default?: string };
  /** Where the stored data starts in the source, and how many bytes it has. */
  dataOffset: number;
  storedSize: number;
  /** Data segments of a sparse file: [offset in the file, length], stored one after another from dataOffset. */
  sparse?: Array<[number, number]>;
}

export interface TarScanOptions {
  warn?: (message: string) => void;
}

/** Largest pax extended header (all records of one member). */
export const MAX_PAX = 8 << 20;
/** Largest GNU long name or long link. */
export const MAX_LONGNAME = 1 << 20;

const dec = new TextDecoder();

export function tarError(
  code: string,
  message: string,
  offset: number,
  member?: string,
  extra: Record<string, unknown> = {},
): FormatError {
  const who = member !== undefined ? `${JSON.stringify(member)} at offset ${offset}` : `header at offset ${offset}`;
  return new FormatError(code, `tar: ${who}: ${message}`, {
    format: 'tar',
    offset,
    ...(member !== undefined ? { path: member } : {}),
    ...extra,
  });
}

function cstr(b: Uint8Array): string {
  const nul = b.indexOf(0);
  return dec.decode(nul < 0 ? b : b.subarray(0, nul));
}

function same(b: Uint8Array, m: Uint8Array): boolean {
  return b.length === m.length && b.every((x, i) => x === m[i]);
}

type Header = ReturnType<typeof TAR_HEADER.decode>;

/**
 * Headers are read through a 64 KiB read-ahead window: a member of a
 * posix-format archive is two headers and a pax record, three small reads
 * (syscalls on a file) that one window read serves for many members.
 * What it returns is a view, valid until the next read.
 */
class ReadAhead implements TarSource {
  // replaced, never overwritten, on refill: views handed out earlier stay valid
  private buf: Uint8Array = new Uint8Array(0);
  private start = 0;
  constructor(
    private readonly src: TarSource,
    private readonly window = 64 * 1024,
  ) {}
  get size(): number {
    return this.src.size;
  }
  readAt(offset: number, length: number): Uint8Array {
    if (offset >= this.start && offset + length <= this.start + this.buf.length)
      return this.buf.subarray(offset - this.start, offset - this.start + length);
    if (length > this.window / 2) return this.src.readAt(offset, length);
    const n = Math.min(this.window, this.src.size - offset);
    this.buf = this.src.readAt(offset, n);
    this.start = offset;
    return this.buf.subarray(0, length);
  }
}

interface Pending {
  start: number;
  pax?: PaxRecord[];
  longName?: string;
  longLink?: string;
}

/** Scan every member of a tar archive in order. Ends at the first zero block (or at the end of the source). */
export function* tarMembers(source: TarSource, opts: TarScanOptions = {}): Generator<TarMember> {
  const src = new ReadAhead(source);
  const globals = new Map<string, Uint8Array>();
  let pending: Pending | undefined;
  let pos = 0;
  for (;;) {
    if (pos + BLOCK > src.size) {
      const rest = src.size - pos;
      if (rest > 0 && !isZero(src.readAt(pos, rest)))
        throw tarError('E_FORMAT_TAR_TRUNCATED', `archive ends inside a header (${rest} of ${BLOCK} bytes)`, pos);
      if (pending)
        throw tarError(
          'E_FORMAT_TAR_TRUNCATED',
          'archive ends after an extended header, before its member',
          pending.start,
        );
      return;
    }
    const block = src.readAt(pos, BLOCK);
    if (isZero(block)) {
      if (pending)
        throw tarError(
          'E_FORMAT_TAR_TRUNCATED',
          'end-of-archive block after an extended header, before its member',
          pending.start,
        );
      return;
    }
    const h = viewStruct(TAR_HEADER, block);
    checkHeader(block, h, pos);
    const flag = h.typeflag;
    let override: PaxRecord | undefined;
    for (const r of pending?.pax ?? []) if (r.key === 'size') override = r;
    const headerSize = parseNumber(h.size, 'size', pos);
    const size = override && isMeta(flag) === false ? paxNumber(override, pos) : headerSize;
    if (size < 0) throw tarError('E_FORMAT_TAR_NUMBER', `negative size ${size}`, pos);
    const dataOffset = pos + BLOCK;
    if (dataOffset + size > src.size) {
      throw tarError(
        'E_FORMAT_TAR_TRUNCATED',
        `data of ${size} bytes runs past the end of the archive (${src.size - dataOffset} bytes left)`,
        pos,
        cstr(h.name),
        { expected: size, actual: src.size - dataOffset },
      );
    }
    const next = dataOffset + Math.ceil(size / BLOCK) * BLOCK;
    if (isMeta(flag)) {
      pending = readMeta(src, h, pos, size, pending, globals);
      pos = next;
      continue;
    }
    if (flag === TYPE.GNU_VOLHDR) {
      pos = next;
      continue;
    }
    if (flag === TYPE.GNU_MULTIVOL || flag === TYPE.GNU_NAMES) {
      throw tarError(
        'E_FORMAT_TAR_UNSUPPORTED',
        `GNU ${flag === TYPE.GNU_MULTIVOL ? 'multi-volume continuation' : 'rename list'} members are not supported`,
        pos,
        cstr(h.name),
      );
    }
    const m = buildMember(src, h, block, pos, size, pending, globals, opts);
    pending = undefined;
    // old GNU sparse members have extension blocks between header and data; 1.0 maps are inside the data
    pos = m.dataOffset + Math.ceil(m.storedSize / BLOCK) * BLOCK;
    yield m;
  }
}

/**
 * Whether `head` (the first bytes of a file) starts with a valid tar header.
 * A zero block does not count: filesystem images start with one too (an
 * empty archive is all zeros: see isEmptyTar).
 */
export function looksLikeTar(head: Uint8Array): boolean {
  if (head.length < BLOCK) return false;
  const block = head.subarray(0, BLOCK);
  if (isZero(block)) return false;
  try {
    checkHeader(block, viewStruct(TAR_HEADER, block), 0);
    return true;
  } catch {
    return false;
  }
}

/** An empty archive: nothing but zeros, at most a few records long (GNU tar writes 10240 bytes). */
export function isEmptyTar(src: TarSource): boolean {
  return src.size <= 64 * BLOCK && isZero(src.readAt(0, src.size));
}

function isMeta(flag: number): boolean {
  return (
    flag === TYPE.PAX ||
    flag === TYPE.PAX_SOLARIS ||
    flag === TYPE.PAX_GLOBAL ||
    flag === TYPE.GNU_LONGNAME ||
    flag === TYPE.GNU_LONGLINK
  );
}

function checkHeader(block: Uint8Array, h: Header, pos: number): void {
  const stored = parseNumber(h.chksum, 'chksum', pos);
  const [u, s] = headerSums(block);
  if (stored !== u && stored !== s) {
    throw tarError(
      'E_FORMAT_TAR_CHECKSUM',
      `header checksum ${stored} does not match the header (sum ${u}): not a tar archive, or a damaged one`,
      pos,
      undefined,
      { field: 'chksum', expected: u, actual: stored },
    );
  }
}

function paxNumber(r: PaxRecord, pos: number): number {
  const t = paxText(r.value);
  if (!/^\d{1,16}$/.test(t) || !Number.isSafeInteger(Number(t)))
    throw tarError(
      'E_FORMAT_TAR_PAX',
      `pax ${r.key}=${JSON.stringify(t.slice(0, 40))} is not a non-negative integer`,
      pos,
    );
  return Number(t);
}

/** A pax, global pax or GNU long-name header: returns the pending extension state. */
function readMeta(
  src: TarSource,
  h: Header,
  pos: number,
  size: number,
  pending: Pending | undefined,
  globals: Map<string, Uint8Array>,
): Pending | undefined {
  const flag = h.typeflag;
  const long = flag === TYPE.GNU_LONGNAME || flag === TYPE.GNU_LONGLINK;
  const limit = long ? MAX_LONGNAME : MAX_PAX;
  if (size > limit)
    throw tarError(
      'E_FORMAT_TAR_EXTENDED',
      `${long ? 'GNU long name' : 'pax header'} of ${size} bytes is larger than the ${limit}-byte limit`,
      pos,
      undefined,
      { expected: limit, actual: size },
    );
  const data = src.readAt(pos + BLOCK, size);
  if (flag === TYPE.PAX_GLOBAL) {
    for (const r of parsePax(data, '(global header)', pos)) {
      if (r.value.length) globals.set(r.key, r.value);
      else globals.delete(r.key);
    }
    return pending;
  }
  const p: Pending = pending ?? { start: pos };
  if (flag === TYPE.GNU_LONGNAME) p.longName = cstr(data);
  else if (flag === TYPE.GNU_LONGLINK) p.longLink = cstr(data);
  else p.pax = [...(p.pax ?? []), ...parsePax(data, cstr(h.name), pos)];
  return p;
}

function typeOf(flag: number, name: string, warn: ((m: string) => void) | undefined, pos: number): TarEntryType {
  switch (flag) {
    case TYPE.FILE:
    case TYPE.CONTIGUOUS:
    case TYPE.GNU_SPARSE:
      return 'file';
    case TYPE.OLD_FILE:
      return name.endsWith('/') ? 'dir' : 'file';
    case TYPE.HARDLINK:
      return 'hardlink';
    case TYPE.SYMLINK:
      return 'symlink';
    case TYPE.CHAR:
      return 'chardev';
    case TYPE.BLOCK:
      return 'blockdev';
    case TYPE.DIR:
    case TYPE.GNU_DUMPDIR:
      return 'dir';
    case TYPE.FIFO:
      return 'fifo';
    default:
      warn?.(
        `tar: ${JSON.stringify(name)} at offset ${pos}: unknown type '${String.fromCharCode(flag)}', read as a regular file (POSIX)`,
      );
      return 'file';
  }
}

function buildMember(
  src: TarSource,
  h: Header,
  block: Uint8Array,
  pos: number,
  size: number,
  pending: Pending | undefined,
  globals: Map<string, Uint8Array>,
  opts: TarScanOptions,
): TarMember {
  const rec = new Map(globals);
  const list = pending?.pax ?? [];
  for (const r of list) {
    // an empty value deletes a keyword (POSIX), except an xattr's: GNU tar stores empty attributes that way
    if (r.value.length || (r.key.startsWith('SCHILY.xattr.') && !globals.has(r.key))) rec.set(r.key, r.value);
    else rec.delete(r.key);
  }
  const text = (k: string) => {
    const v = rec.get(k);
    return v === undefined ? undefined : paxText(v);
  };
  const gnu = same(h.magic, GNU_MAGIC);
  const ustar = same(h.magic, USTAR_MAGIC);
  const prefix = ustar ? cstr(h.prefix) : '';
  let name = text('path') ?? pending?.longName ?? (prefix ? `${prefix}/${cstr(h.name)}` : cstr(h.name));
  const start = pending?.start ?? pos;
  const time = (k: string, fallback: Timespec | undefined) => {
    const t = text(k);
    if (t === undefined) return fallback;
    const ts = parsePaxTime(t);
    if (!ts)
      throw tarError('E_FORMAT_TAR_PAX', `pax ${k}=${JSON.stringify(t.slice(0, 40))} is not a time`, start, name);
    return ts;
  };
  const num = (k: string, field: Uint8Array) => {
    const r = rec.get(k);
    return r ? paxNumber({ key: k, value: r }, start) : parseNumber(field, k, pos);
  };
  // an 'S' member's sparse entries are in the GNU tail, whatever its magic says
  const tail = gnu || h.typeflag === TYPE.GNU_SPARSE ? viewStruct(GNU_TAIL, block, GNU_TAIL_OFFSET) : undefined;
  const gnuTime = (b: Uint8Array | undefined, f: string) => {
    const s = b ? parseNumber(b, f, pos) : 0;
    return s ? { sec: s, nsec: 0 } : undefined;
  };
  const m: TarMember = {
    offset: start,
    name,
    type: typeOf(h.typeflag, name, opts.warn, pos),
    mode: parseNumber(h.mode, 'mode', pos) & 0o7777,
    uid: num('uid', h.uid),
    gid: num('gid', h.gid),
    mtime: time('mtime', { sec: parseNumber(h.mtime, 'mtime', pos), nsec: 0 })!,
    size,
    linkname: text('linkpath') ?? pending?.longLink ?? cstr(h.linkname),
    devmajor: 0,
    devminor: 0,
    dataOffset: pos + BLOCK,
    storedSize: size,
  };
  const atime = time('atime', gnuTime(tail?.atime, 'atime')),
    ctime = time('ctime', gnuTime(tail?.ctime, 'ctime'));
  if (atime) m.atime = atime;
  if (ctime) m.ctime = ctime;
  if (m.type === 'chardev' || m.type === 'blockdev') {
    m.devmajor = rec.has('SCHILY.devmajor')
      ? num('SCHILY.devmajor', h.devmajor)
      : parseNumber(h.devmajor, 'devmajor', pos);
    m.devminor = rec.has('SCHILY.devminor')
      ? num('SCHILY.devminor', h.devminor)
      : parseNumber(h.devminor, 'devminor', pos);
  }
  extendedAttributes(m, rec);
  if (h.typeflag === TYPE.GNU_SPARSE) oldGnuSparse(src, m, tail!, pos);
  else if (
    rec.has('GNU.sparse.major') ||
    rec.has('GNU.sparse.map') ||
    rec.has('GNU.sparse.numblocks') ||
    rec.has('GNU.sparse.size')
  )
    paxSparse(src, m, rec, list, pos);
  const sparseName = text('GNU.sparse.name');
  if (sparseName !== undefined) m.name = name = sparseName;
  if (m.sparse && m.type !== 'file')
    throw tarError('E_FORMAT_TAR_SPARSE', 'sparse map on a member that is not a regular file', start, name);
  return m;
}

function extendedAttributes(m: TarMember, rec: Map<string, Uint8Array>): void {
  for (const [k, v] of rec) {
    if (k.startsWith('SCHILY.xattr.')) (m.xattrs ??= new Map()).set(k.slice('SCHILY.xattr.'.length), v);
    else if (k.startsWith('LIBARCHIVE.xattr.')) {
      let name: string, value: Uint8Array;
      try {
        name = decodeURIComponent(k.slice('LIBARCHIVE.xattr.'.length));
        value = base64(paxText(v));
      } catch {
        throw tarError(
          'E_FORMAT_TAR_PAX',
          `pax ${JSON.stringify(k.slice(0, 80))}: bad %-encoded name or base64 value`,
          m.offset,
          m.name,
        );
      }
      (m.xattrs ??= new Map()).set(name, value);
    } else if (k === 'SCHILY.acl.access') (m.acl ??= {}).access = paxText(v);
    else if (k === 'SCHILY.acl.default') (m.acl ??= {}).default = paxText(v);
  }
}

function base64(s: string): Uint8Array {
  const clean = s.replace(/[^A-Za-z0-9+/]/g, '');
  const bin = atob(clean.padEnd(Math.ceil(clean.length / 4) * 4, '='));
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Check a sparse map: sorted, non-overlapping, inside the file, data adding up to what is stored. */
function setSparse(m: TarMember, segs: Array<[number, number]>, realsize: number, pos: number): void {
  let end = 0,
    sum = 0;
  const bad = (why: string) => tarError('E_FORMAT_TAR_SPARSE', `sparse map: ${why}`, m.offset, m.name, { offset: pos });
  if (!Number.isSafeInteger(realsize) || realsize < 0) throw bad(`real size ${realsize} is not a size`);
  const kept: Array<[number, number]> = [];
  for (const [o, n] of segs) {
    if (!(o >= end) || !(n >= 0) || o + n > realsize)
      throw bad(`segment [${o}, +${n}) is out of order, overlapping or past the real size ${realsize}`);
    end = o + n;
    sum += n;
    if (n > 0) kept.push([o, n]);
  }
  if (sum !== m.storedSize) throw bad(`segments hold ${sum} bytes but ${m.storedSize} are stored`);
  m.size = realsize;
  m.sparse = kept;
}

function sparseEntries(b: Uint8Array, count: number, pos: number, out: Array<[number, number]>): void {
  for (let i = 0; i < count; i++) {
    const e = viewStruct(SPARSE_ENTRY, b, i * SPARSE_ENTRY.size);
    if (isZero(e.offset) && isZero(e.numbytes)) return;
    out.push([parseNumber(e.offset, 'sparse.offset', pos), parseNumber(e.numbytes, 'sparse.numbytes', pos)]);
  }
}

/** Old GNU 'S': four entries in the header, 21 per extension block while isextended is set. */
function oldGnuSparse(src: TarSource, m: TarMember, tail: ReturnType<typeof GNU_TAIL.decode>, pos: number): void {
  const segs: Array<[number, number]> = [];
  sparseEntries(tail.sparse, 4, pos, segs);
  let ext = tail.isextended;
  let at = pos + BLOCK;
  while (ext) {
    if (at + BLOCK > src.size)
      throw tarError('E_FORMAT_TAR_TRUNCATED', 'archive ends inside the sparse extension headers', m.offset, m.name);
    const e = viewStruct(GNU_SPARSE_EXT, src.readAt(at, BLOCK));
    sparseEntries(e.sparse, 21, at, segs);
    ext = e.isextended;
    at += BLOCK;
  }
  m.dataOffset = at;
  if (at + m.storedSize > src.size)
    throw tarError(
      'E_FORMAT_TAR_TRUNCATED',
      `sparse data of ${m.storedSize} bytes runs past the end of the archive`,
      m.offset,
      m.name,
    );
  setSparse(m, segs, parseNumber(tail.realsize, 'realsize', pos), pos);
}

/** pax sparse formats 0.0 (repeated offset/numbytes), 0.1 (GNU.sparse.map) and 1.0 (map at the start of the data). */
function paxSparse(src: TarSource, m: TarMember, rec: Map<string, Uint8Array>, list: PaxRecord[], pos: number): void {
  const text = (k: string) => {
    const v = rec.get(k);
    return v === undefined ? undefined : paxText(v);
  };
  const int = (s: string | undefined, what: string) => {
    if (s === undefined || !/^\d{1,16}$/.test(s))
      throw tarError('E_FORMAT_TAR_SPARSE', `${what} ${JSON.stringify(s)} is not a number`, m.offset, m.name);
    return Number(s);
  };
  const segs: Array<[number, number]> = [];
  if (text('GNU.sparse.major') === '1') {
    if (text('GNU.sparse.minor') !== '0')
      throw tarError(
        'E_FORMAT_TAR_SPARSE',
        `pax sparse format 1.${text('GNU.sparse.minor')} is not supported`,
        m.offset,
        m.name,
      );
    const nums = sparse10Map(src, m);
    for (let i = 0; i < nums.length; i += 2) segs.push([nums[i]!, nums[i + 1]!]);
    setSparse(m, segs, int(text('GNU.sparse.realsize'), 'GNU.sparse.realsize'), pos);
    return;
  }
  const map = text('GNU.sparse.map');
  if (map !== undefined) {
    const parts = map === '' ? [] : map.split(',');
    if (parts.length % 2)
      throw tarError('E_FORMAT_TAR_SPARSE', 'GNU.sparse.map has an odd number of values', m.offset, m.name);
    for (let i = 0; i < parts.length; i += 2)
      segs.push([int(parts[i], 'GNU.sparse.map offset'), int(parts[i + 1], 'GNU.sparse.map size')]);
  } else {
    let off: number | undefined;
    for (const r of list) {
      if (r.key === 'GNU.sparse.offset') off = int(paxText(r.value), 'GNU.sparse.offset');
      else if (r.key === 'GNU.sparse.numbytes') {
        if (off === undefined)
          throw tarError('E_FORMAT_TAR_SPARSE', 'GNU.sparse.numbytes without an offset before it', m.offset, m.name);
        segs.push([off, int(paxText(r.value), 'GNU.sparse.numbytes')]);
        off = undefined;
      }
    }
  }
  setSparse(m, segs, int(text('GNU.sparse.size') ?? text('GNU.sparse.realsize'), 'GNU.sparse.size'), pos);
}

/** The 1.0 map: decimal numbers, one per line (count, then offset/size pairs), padded to a block; the data follows. */
function sparse10Map(src: TarSource, m: TarMember): number[] {
  const nums: number[] = [];
  let want = 1;
  let cur = 0,
    digits = 0,
    used = 0;
  while (nums.length < want) {
    if (used >= m.storedSize)
      throw tarError('E_FORMAT_TAR_SPARSE', 'sparse 1.0 map runs past the member data', m.offset, m.name);
    const n = Math.min(BLOCK, m.storedSize - used);
    const b = src.readAt(m.dataOffset + used, n);
    used += n;
    for (let i = 0; i < b.length && nums.length < want; i++) {
      const c = b[i]!;
      if (c === 0x0a) {
        if (!digits) throw tarError('E_FORMAT_TAR_SPARSE', 'empty line in the sparse 1.0 map', m.offset, m.name);
        nums.push(cur);
        if (nums.length === 1) {
          // each pair needs at least 4 bytes of map: bound the count by the member before trusting it
          if (cur > m.storedSize / 4)
            throw tarError(
              'E_FORMAT_TAR_SPARSE',
              `sparse 1.0 map claims ${cur} segments, more than the member can hold`,
              m.offset,
              m.name,
            );
          want = 1 + 2 * cur;
        }
        cur = 0;
        digits = 0;
      } else if (c >= 0x30 && c <= 0x39 && digits < 16) {
        cur = cur * 10 + (c - 0x30);
        digits++;
      } else throw tarError('E_FORMAT_TAR_SPARSE', `byte 0x${c.toString(16)} in the sparse 1.0 map`, m.offset, m.name);
    }
  }
  const mapBytes = Math.ceil(used / BLOCK) * BLOCK;
  m.dataOffset += mapBytes;
  m.storedSize -= mapBytes;
  if (m.storedSize < 0)
    throw tarError('E_FORMAT_TAR_SPARSE', 'sparse 1.0 map is larger than the member', m.offset, m.name);
  return nums.slice(1);
}
