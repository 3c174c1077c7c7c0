/**
 * Streaming newc writer. Yields the archive as chunks; file contents are
 * read lazily one at a time, so the archive is never held in memory.
 *
 * Hard links (one node under several names) get one inode number; a
 * regular file's data is written only with the LAST name of the group and
 * earlier names have filesize 0 (symlink targets go with every name). GNU cpio defers size-0 links until the data arrives; the
 * kernel (init/initramfs.c maybe_link) links later names to the first and
 * opens the file without O_TRUNC, so both restore one inode with the data.
 */
import { CapacityError, FormatError } from '../../errors.js';
import type { Progress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import { forEachEntry, PathBytes, TreeCursor } from '../../tree/cursor.js';
import { fullMode, type DirNode, type TreeNode } from '../../tree/types.js';
import { HEADER_SIZE, NewcTemplate, MAX_NAMESIZE, NEWC_FIELD as F, pad4, TRAILER_NAME } from './header.js';

export interface CpioWriteOptions {
  progress?: Progress;
  /** Pad the archive to a multiple of this many bytes with NULs after the trailer (GNU cpio: 512). 0 or 1 = no padding. Default 512. */
  blockSize?: number;
  /**
   * The consumer is done with each chunk before it asks for the next (it
   * writes it out synchronously, as writeChunksToFile does), so the writer
   * may fill the same buffer again: no new 256 KiB buffer (fresh pages to
   * fault in and zero) per chunk. Default false: chunks may be kept.
   */
  reuseChunks?: boolean;
}

const enc = new TextEncoder();
const U32 = 0x100000000;
const OUT_CHUNK = 256 * 1024;
/** Chunks this large are passed through instead of copied into the output buffer. */
const PASS_THROUGH = 64 * 1024;

function checkTime(sec: number, path: PathBytes, depth: number): number {
  if (!Number.isInteger(sec) || sec < 0 || sec >= U32) {
    const p = depth ? path.toString() : '/';
    throw new CapacityError(
      'E_LIMIT_TIME',
      `${p}: modification time ${sec} does not fit in the cpio newc 32-bit unsigned time field (0..${U32 - 1}); clamp times with SOURCE_DATE_EPOCH`,
      { format: 'cpio', path: p, field: 'mtime', actual: sec },
    );
  }
  return sec;
}

/**
 * Stream `tree` as a newc cpio archive (including `TRAILER!!!`). Entry order
 * is `tree.walk()` (root first as ".", names in byte order), inode numbers
 * count distinct nodes from 1 in that order: same tree => same bytes.
 */
export async function* cpioChunks(tree: FileTree, opts: CpioWriteOptions = {}): AsyncGenerator<Uint8Array> {
  const blockSize = opts.blockSize ?? 512;
  let total = 0;
  for await (const chunk of entries(tree, opts)) {
    total += chunk.length;
    yield chunk;
  }
  if (blockSize > 1 && total % blockSize !== 0) yield new Uint8Array(blockSize - (total % blockSize));
}

/** Output chunks of OUT_CHUNK bytes, filled in place (headers, names and file data are written straight in). */
class Out {
  buf = new Uint8Array(OUT_CHUNK);
  fill = 0;
  constructor(private readonly reuse: boolean) {}
  /**
   * The filled part as a chunk; a new buffer takes its place (the consumer
   * may keep the chunk), or with `reuse` the same buffer is filled again.
   */
  take(): Uint8Array {
    const out = this.buf.subarray(0, this.fill);
    if (!this.reuse) this.buf = new Uint8Array(OUT_CHUNK);
    this.fill = 0;
    return out;
  }
  /** Make room for `n` bytes; returns a full chunk to yield first, if any. */
  room(n: number): Uint8Array | undefined {
    if (this.fill + n <= this.buf.length) return undefined;
    const out = this.fill > 0 ? this.take() : undefined;
    if (n > this.buf.length) this.buf = new Uint8Array(n);
    return out;
  }
}

/** What pass 1 learns: names per hard-linked node, distinct nodes, bytes. */
interface Counts {
  /** Nodes with more than one name: their name count (nodes with one name are not kept). */
  multi: Map<TreeNode, number>;
  totalBytes: number;
}

/** Pass 1: which nodes have several names, and the data bytes for progress. */
function countNames(tree: FileTree): Counts {
  const once = new Set<TreeNode>();
  const multi = new Map<TreeNode, number>();
  let totalBytes = 0;
  // no order needed: the children maps as they are (the cursor sorts every directory)
  forEachEntry(tree.root, (node) => {
    if (node.type === 'dir') return;
    if (!once.has(node)) {
      once.add(node);
      if (node.type === 'file') totalBytes += node.content.size;
    } else multi.set(node, (multi.get(node) ?? 1) + 1);
  });
  return { multi, totalBytes };
}

function subdirCount(d: DirNode): number {
  let sub = 0;
  for (const c of d.children.values()) if (c.type === 'dir') sub++;
  return sub;
}

function fileTooLarge(path: string, size: number): CapacityError {
  return new CapacityError(
    'E_LIMIT_FILE_SIZE',
    `${path}: ${size} bytes is too large for a cpio newc archive (limit ${U32 - 1} bytes, under 4 GiB)`,
    { format: 'cpio', path, actual: size, expected: U32 - 1 },
  );
}

function nameTooLong(path: string, bytes: number): CapacityError {
  return new CapacityError(
    'E_LIMIT_NAME_LENGTH',
    `${path}: the path is ${bytes} bytes; cpio members are limited to ${MAX_NAMESIZE - 1} (the kernel skips longer names)`,
    { format: 'cpio', path, actual: bytes, expected: MAX_NAMESIZE - 1 },
  );
}

function symlinkTooLong(path: string, bytes: number): CapacityError {
  return new CapacityError(
    'E_LIMIT_SYMLINK',
    `${path}: symlink target of ${bytes} bytes is longer than ${MAX_NAMESIZE} (the kernel skips such members)`,
    { format: 'cpio', path, actual: bytes, expected: MAX_NAMESIZE },
  );
}

function sizeMismatch(path: string, got: number, size: number): FormatError {
  return new FormatError(
    'E_FORMAT_CONTENT_SIZE',
    got > size
      ? `${path}: content yielded more than its declared ${size} bytes`
      : `${path}: content yielded ${got} bytes but declared ${size} (did the file change while being archived?)`,
    { path, expected: size, actual: got },
  );
}

/** Write a header and its NUL-terminated, padded name into `out` (room made by the caller). */
function putHeader(out: Out, head: NewcTemplate, vals: Uint32Array, name: Uint8Array, nameLen: number): void {
  const namesize = nameLen + 1;
  vals[F.namesize] = namesize;
  const headLen = HEADER_SIZE + namesize;
  const total = headLen + pad4(headLen);
  const at = out.fill;
  const buf = out.buf;
  buf.set(head.update(vals), at);
  // byte loops, not set()/fill(): names are short, and the builtins cost more per call than they copy
  const base = at + HEADER_SIZE;
  for (let i = 0; i < nameLen; i++) buf[base + i] = name[i]!;
  for (let i = base + nameLen; i < at + total; i++) buf[i] = 0;
  out.fill += total;
}

/** Bytes a header with a name of `nameLen` bytes takes, padding included. */
function headerBytes(nameLen: number): number {
  const headLen = HEADER_SIZE + nameLen + 1;
  return headLen + pad4(headLen);
}

const DOT = Uint8Array.of(0x2e);
const TRAILER = enc.encode(TRAILER_NAME);

/**
 * The per-entry state of one archive. Its `fast()` loop is a plain method,
 * not the generator: V8 does not optimize a generator's loop while it runs
 * (no on-stack replacement for resumable functions), and the generator below
 * is called once per archive, so a loop inside it ran unoptimized for every
 * entry. The generator only yields full chunks and takes the rare entries
 * that do not fit the current chunk or stream their contents.
 */
class Entries {
  readonly out: Out;
  readonly vals = new Uint32Array(F.check + 1);
  readonly head = new NewcTemplate();
  readonly path = new PathBytes();
  readonly c: TreeCursor;
  /** Hard-linked nodes: their inode number and the names written so far. */
  readonly linkIno = new Map<TreeNode, number>();
  readonly linkSeen = new Map<TreeNode, number>();
  nextIno = 0;
  /** Of the prepared entry: its name length, data bytes and symlink target. */
  nameLen = 1;
  filesize = 0;
  link: Uint8Array | undefined;

  constructor(
    tree: FileTree,
    private readonly multi: Map<TreeNode, number>,
    private readonly progress: Progress | undefined,
    reuse: boolean,
  ) {
    this.c = new TreeCursor(tree.root);
    this.out = new Out(reuse);
  }

  /** Fill `vals` and the fields above for the cursor's entry (once per entry: it numbers inodes). */
  prepare(): void {
    const { c, path, vals } = this;
    const node = c.node;
    let nameLen = 1;
    if (c.depth > 0) {
      path.set(c.depth, c.name);
      nameLen = path.length;
      if (nameLen + 1 > MAX_NAMESIZE) throw nameTooLong(path.toString(), nameLen);
    }
    const names = node.type === 'dir' ? 1 : (this.multi.get(node) ?? 1);
    let ino: number;
    let isLast = true;
    if (names > 1) {
      const seen = (this.linkSeen.get(node) ?? 0) + 1;
      this.linkSeen.set(node, seen);
      isLast = seen === names;
      if (seen === 1) this.linkIno.set(node, (ino = ++this.nextIno));
      else ino = this.linkIno.get(node)!;
    } else ino = ++this.nextIno;
    let filesize = 0;
    let link: Uint8Array | undefined;
    if (node.type === 'file') {
      if (node.content.size >= U32) throw fileTooLarge(path.toString(), node.content.size);
      if (isLast) filesize = node.content.size;
    } else if (node.type === 'symlink') {
      // every name carries the target: the kernel makes each symlink from its own member's data
      link = enc.encode(node.target);
      filesize = link.length;
      if (filesize > MAX_NAMESIZE) throw symlinkTooLong(path.toString(), filesize);
    }
    vals[F.ino] = ino;
    vals[F.mode] = fullMode(node);
    vals[F.uid] = node.uid;
    vals[F.gid] = node.gid;
    vals[F.nlink] = node.type === 'dir' ? 2 + subdirCount(node) : names;
    vals[F.mtime] = checkTime(node.mtime.sec, path, c.depth);
    vals[F.filesize] = filesize;
    vals[F.rdevmajor] = node.type === 'chardev' || node.type === 'blockdev' ? node.major : 0;
    vals[F.rdevminor] = node.type === 'chardev' || node.type === 'blockdev' ? node.minor : 0;
    this.nameLen = nameLen;
    this.filesize = filesize;
    this.link = link;
  }

  /** Write the prepared entry's header. */
  header(): void {
    putHeader(this.out, this.head, this.vals, this.c.depth ? this.path.buf : DOT, this.nameLen);
  }

  /**
   * Write whole entries into the current chunk while they fit: 'end' when
   * the tree is done, 'slow' with the next entry prepared but not written
   * (it does not fit, or its contents have no readInto).
   */
  fast(): 'end' | 'slow' {
    const { out, c } = this;
    while (c.next()) {
      this.prepare();
      const filesize = this.filesize;
      const node = c.node;
      const at = out.fill + headerBytes(this.nameLen);
      const end = at + filesize + pad4(filesize);
      if (end > out.buf.length) return 'slow';
      if (filesize > 0 && node.type === 'file' && !node.content.readInto) return 'slow';
      if (filesize > 0) {
        const link = this.link;
        if (link) for (let i = 0; i < filesize; i++) out.buf[at + i] = link[i]!;
        else if (node.type === 'file') {
          // straight into the output buffer: no buffer, promise or generator per file
          const got = node.content.readInto!(0, out.buf.subarray(at, at + filesize));
          this.progress?.tick(got);
          if (got !== filesize) throw sizeMismatch(this.path.toString(), got, filesize);
        }
      }
      this.header();
      for (let i = at + filesize; i < end; i++) out.buf[i] = 0;
      out.fill = end;
    }
    return 'end';
  }
}

async function* entries(tree: FileTree, opts: CpioWriteOptions): AsyncGenerator<Uint8Array> {
  const progress = opts.progress;
  const { multi, totalBytes } = countNames(tree);
  progress?.start('writing cpio', totalBytes, 'bytes');
  const e = new Entries(tree, multi, progress, opts.reuseChunks === true);
  const { out, vals } = e;
  let full: Uint8Array | undefined;
  while (e.fast() === 'slow') {
    // the prepared entry, which does not fit the current chunk or streams its contents
    const node = e.c.node;
    const filesize = e.filesize;
    if ((full = out.room(headerBytes(e.nameLen)))) yield full;
    e.header();
    if (filesize === 0) continue;
    if (e.link) {
      if ((full = out.room(filesize + 3))) yield full;
      out.buf.set(e.link, out.fill);
      out.fill += filesize;
    } else if (node.type === 'file') {
      const content = node.content;
      let got = 0;
      if (content.readInto) {
        while (got < filesize) {
          const want = Math.min(filesize - got, OUT_CHUNK);
          if ((full = out.room(want))) yield full;
          const n = content.readInto(got, out.buf.subarray(out.fill, out.fill + want));
          out.fill += n;
          got += n;
          if (n < want) break;
        }
      } else {
        for await (const chunk of content.stream()) {
          if (chunk.length === 0) continue;
          if (got + chunk.length > filesize) throw sizeMismatch(e.path.toString(), got + chunk.length, filesize);
          got += chunk.length;
          if (chunk.length >= PASS_THROUGH) {
            if (out.fill > 0) yield out.take();
            yield chunk;
            continue;
          }
          if ((full = out.room(chunk.length))) yield full;
          out.buf.set(chunk, out.fill);
          out.fill += chunk.length;
        }
      }
      progress?.tick(got);
      if (got !== filesize) throw sizeMismatch(e.path.toString(), got, filesize);
    }
    const pad = pad4(filesize);
    if (pad) {
      if ((full = out.room(pad))) yield full;
      out.buf.fill(0, out.fill, out.fill + pad);
      out.fill += pad;
    }
  }
  vals.fill(0);
  vals[F.nlink] = 1;
  if ((full = out.room(headerBytes(TRAILER.length)))) yield full;
  putHeader(out, e.head, vals, TRAILER, TRAILER.length);
  if (out.fill > 0) yield out.take();
  progress?.done();
}
