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
import { fullMode, type Content, type TreeNode } from '../../tree/types.js';
import { encodeNewcHeader, HEADER_SIZE, MAX_NAMESIZE, pad4, TRAILER_NAME } from './header.js';

export interface CpioWriteOptions {
  progress?: Progress;
  /** Pad the archive to a multiple of this many bytes with NULs after the trailer (GNU cpio: 512). 0 or 1 = no padding. Default 512. */
  blockSize?: number;
}

const enc = new TextEncoder();
const U32 = 0x100000000;
const OUT_CHUNK = 256 * 1024;
/** Chunks this large are passed through instead of copied into the output buffer. */
const PASS_THROUGH = 64 * 1024;

/** Archive name of a tree path: "." for the root, "bin/sh" otherwise (no leading slash, like gen_init_cpio). */
function archiveName(path: string): string {
  return path === '/' ? '.' : path.slice(1);
}

function checkTime(sec: number, path: string): number {
  if (!Number.isInteger(sec) || sec < 0 || sec >= U32) {
    throw new CapacityError(
      'E_LIMIT_TIME',
      `${path}: modification time ${sec} does not fit in the cpio newc 32-bit unsigned time field (0..${U32 - 1}); clamp times with SOURCE_DATE_EPOCH`,
      { format: 'cpio', path, field: 'mtime', actual: sec },
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

async function* entries(tree: FileTree, opts: CpioWriteOptions): AsyncGenerator<Uint8Array> {
  const progress = opts.progress;

  // Pass 1: inode numbers, name counts, directory link counts, total size for progress.
  const ino = new Map<TreeNode, number>();
  const names = new Map<TreeNode, number>();
  let totalBytes = 0;
  for (const e of tree.walk()) {
    if (!ino.has(e.node)) {
      ino.set(e.node, ino.size + 1);
      if (e.node.type === 'file') totalBytes += e.node.content.size;
    }
    names.set(e.node, (names.get(e.node) ?? 0) + 1);
  }
  progress?.start('writing cpio', totalBytes, 'bytes');

  let buf = new Uint8Array(OUT_CHUNK);
  let fill = 0;
  const take = (): Uint8Array => {
    const out = buf.subarray(0, fill);
    buf = new Uint8Array(OUT_CHUNK);
    fill = 0;
    return out;
  };
  /** Make room for `n` bytes in the output buffer; returns a full chunk to yield first, if any. */
  const room = (n: number): Uint8Array | undefined => {
    if (fill + n <= buf.length) return undefined;
    const out = fill > 0 ? take() : undefined;
    if (n > buf.length) buf = new Uint8Array(n);
    return out;
  };

  const seen = new Map<TreeNode, number>();
  const emitHeader = function* (
    name: string,
    h: Omit<Parameters<typeof encodeNewcHeader>[0], 'namesize'>,
  ): Generator<Uint8Array> {
    const nameBytes = enc.encode(name);
    const namesize = nameBytes.length + 1;
    if (namesize > MAX_NAMESIZE) {
      throw new CapacityError(
        'E_LIMIT_NAME_LENGTH',
        `/${name}: the path is ${nameBytes.length} bytes; cpio members are limited to ${MAX_NAMESIZE - 1} (the kernel skips longer names)`,
        { format: 'cpio', path: '/' + name, actual: nameBytes.length, expected: MAX_NAMESIZE - 1 },
      );
    }
    const headLen = HEADER_SIZE + namesize;
    const total = headLen + pad4(headLen);
    const full = room(total);
    if (full) yield full;
    encodeNewcHeader({ ...h, namesize }, buf, fill);
    buf.set(nameBytes, fill + HEADER_SIZE);
    buf.fill(0, fill + HEADER_SIZE + nameBytes.length, fill + total);
    fill += total;
  };
  const emitBytes = function* (data: Uint8Array): Generator<Uint8Array> {
    if (data.length >= PASS_THROUGH) {
      if (fill > 0) yield take();
      yield data;
      return;
    }
    const full = room(data.length);
    if (full) yield full;
    buf.set(data, fill);
    fill += data.length;
  };
  /** File data read straight into the output buffer: no buffer, promise or generator per file. */
  const emitReadInto = function* (c: Content, size: number): Generator<Uint8Array, number> {
    let got = 0;
    while (got < size) {
      const want = Math.min(size - got, OUT_CHUNK);
      const full = room(want);
      if (full) yield full;
      const n = c.readInto!(got, buf.subarray(fill, fill + want));
      fill += n;
      got += n;
      if (n < want) break;
    }
    return got;
  };
  const emitStream = async function* (c: Content, size: number, path: string): AsyncGenerator<Uint8Array, number> {
    let got = 0;
    for await (const chunk of c.stream()) {
      if (chunk.length === 0) continue;
      if (got + chunk.length > size) {
        throw new FormatError(
          'E_FORMAT_CONTENT_SIZE',
          `${path}: content yielded more than its declared ${size} bytes`,
          {
            path,
            expected: size,
            actual: got + chunk.length,
          },
        );
      }
      got += chunk.length;
      yield* emitBytes(chunk);
    }
    return got;
  };
  const emitPad = function* (n: number): Generator<Uint8Array> {
    if (n === 0) return;
    const full = room(n);
    if (full) yield full;
    buf.fill(0, fill, fill + n);
    fill += n;
  };

  for (const e of tree.walk()) {
    const node = e.node;
    const path = e.path;
    const count = (seen.get(node) ?? 0) + 1;
    seen.set(node, count);
    const nlinks = names.get(node)!;
    let nlink: number;
    if (node.type === 'dir') {
      let sub = 0;
      for (const c of node.children.values()) if (c.type === 'dir') sub++;
      nlink = 2 + sub;
    } else nlink = nlinks;
    const isLast = count === nlinks;
    let filesize = 0;
    let linkBytes: Uint8Array | undefined;
    if (node.type === 'file') {
      if (node.content.size >= U32) {
        throw new CapacityError(
          'E_LIMIT_FILE_SIZE',
          `${path}: ${node.content.size} bytes is too large for a cpio newc archive (limit ${U32 - 1} bytes, under 4 GiB)`,
          { format: 'cpio', path, actual: node.content.size, expected: U32 - 1 },
        );
      }
      if (isLast) filesize = node.content.size;
    } else if (node.type === 'symlink') {
      // every name carries the target: the kernel makes each symlink from its own member's data
      linkBytes = enc.encode(node.target);
      filesize = linkBytes.length;
      if (filesize > MAX_NAMESIZE) {
        throw new CapacityError(
          'E_LIMIT_SYMLINK',
          `${path}: symlink target of ${filesize} bytes is longer than ${MAX_NAMESIZE} (the kernel skips such members)`,
          { format: 'cpio', path, actual: filesize, expected: MAX_NAMESIZE },
        );
      }
    }
    const dev = node.type === 'chardev' || node.type === 'blockdev' ? node : undefined;
    yield* emitHeader(archiveName(path), {
      ino: ino.get(node)!,
      mode: fullMode(node),
      uid: node.uid,
      gid: node.gid,
      nlink,
      mtime: checkTime(node.mtime.sec, path),
      filesize,
      devmajor: 0,
      devminor: 0,
      rdevmajor: dev ? dev.major : 0,
      rdevminor: dev ? dev.minor : 0,
      check: 0,
    });
    if (filesize === 0) continue;
    if (linkBytes) {
      yield* emitBytes(linkBytes);
    } else if (node.type === 'file') {
      const got = node.content.readInto
        ? yield* emitReadInto(node.content, filesize)
        : yield* emitStream(node.content, filesize, path);
      progress?.tick(got);
      if (got !== filesize) {
        throw new FormatError(
          'E_FORMAT_CONTENT_SIZE',
          `${path}: content yielded ${got} bytes but declared ${filesize} (did the file change while being archived?)`,
          { path, expected: filesize, actual: got },
        );
      }
    }
    yield* emitPad(pad4(filesize));
  }
  yield* emitHeader(TRAILER_NAME, {
    ino: 0,
    mode: 0,
    uid: 0,
    gid: 0,
    nlink: 1,
    mtime: 0,
    filesize: 0,
    devmajor: 0,
    devminor: 0,
    rdevmajor: 0,
    rdevminor: 0,
    check: 0,
  });
  if (fill > 0) yield take();
  progress?.done();
}
