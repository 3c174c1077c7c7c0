/**
 * Streaming newc reader. Accepts what the kernel's initramfs unpacker
 * accepts: NUL padding between members and after trailers, several
 * archives concatenated, and an uncompressed archive followed by a gzip'd
 * one (the early-microcode layout), as well as plain gzip input. Chunks of
 * any size work. Every size field is bounded before it is used: names by
 * PATH_MAX, symlink targets by PATH_MAX, file data by what actually arrives.
 */
import { concatBytes } from '../../binary/bytes.js';
import { FormatError, TinyImageError } from '../../errors.js';
import { gunzipChunks } from '../../compress/gzip.js';
import { bytesContent } from '../../tree/content.js';
import { FileTree } from '../../tree/tree.js';
import { typeFromMode, type NodeType, type TreeNode } from '../../tree/types.js';
import { ByteReader } from './bytes.js';
import { CRC_MAGIC, decodeNewcHeader, HEADER_SIZE, MAX_NAMESIZE, pad4, TRAILER_NAME } from './header.js';

export type CpioSource = Uint8Array | AsyncIterable<Uint8Array> | Iterable<Uint8Array>;

/** One archive member as stored. */
export interface CpioEntryInfo {
  /** Name as stored in the archive ("bin/sh", "."). */
  name: string;
  /** Absolute tree path ("/bin/sh", "/" for "."). */
  path: string;
  type: NodeType;
  /** Full st_mode (type and permission bits). */
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  /** Seconds since the epoch. */
  mtime: number;
  /** Data bytes stored with this member (0 for all but one name of a hard-link group). */
  size: number;
  ino: number;
  devmajor: number;
  devminor: number;
  rdevmajor: number;
  rdevminor: number;
  /** Symlink target. */
  target?: string;
  /** Header offset in the (decompressed) stream the member came from. */
  offset: number;
  /** Index of the archive (0-based) among concatenated archives. */
  archive: number;
  /** True when the member came out of a gzip stream. */
  compressed: boolean;
}

interface Member {
  info: CpioEntryInfo;
  data: Uint8Array | undefined;
}

const dec = new TextDecoder();
const MAX_SYMLINK = 4096;

function fmt(code: string, message: string, offset: number, extra: Record<string, unknown> = {}): FormatError {
  return new FormatError(code, `cpio: ${message}`, { format: 'cpio', offset, ...extra });
}

function compressionName(b: Uint8Array): string | undefined {
  if (b.length >= 6 && b[0] === 0xfd && b[1] === 0x37 && b[2] === 0x7a && b[3] === 0x58 && b[4] === 0x5a && b[5] === 0)
    return 'xz';
  if (b.length >= 4 && b[0] === 0x28 && b[1] === 0xb5 && b[2] === 0x2f && b[3] === 0xfd) return 'zstd';
  if (b.length >= 4 && b[0] === 0x02 && b[1] === 0x21 && b[2] === 0x4c && b[3] === 0x18) return 'lz4';
  if (b.length >= 3 && b[0] === 0x42 && b[1] === 0x5a && b[2] === 0x68) return 'bzip2';
  if (b.length >= 3 && b[0] === 0x5d && b[1] === 0 && b[2] === 0) return 'lzma';
  if (b.length >= 3 && b[0] === 0x89 && b[1] === 0x4c && b[2] === 0x5a) return 'lzo';
  return undefined;
}

async function* members(source: CpioSource, wantData: boolean): AsyncGenerator<Member> {
  let r = new ByteReader(source);
  let compressed = false;
  let archive = 0;
  let open = false; // inside an archive (members seen since the last trailer)
  for (;;) {
    await r.skipZeros();
    if (await r.atEnd()) break;
    const offset = r.position;
    const head = await r.peek(6);
    if (head[0] === 0x1f && head[1] === 0x8b) {
      if (open)
        throw fmt(
          'E_FORMAT_CPIO_TRUNCATED',
          `archive ${archive} ends at offset ${offset} without ${TRAILER_NAME} (a gzip stream starts there)`,
          offset,
        );
      if (compressed)
        throw fmt(
          'E_FORMAT_CPIO_NESTED',
          `a gzip stream inside a gzip stream at offset ${offset} is not supported`,
          offset,
        );
      r = new ByteReader(gunzipChunks(r.rest()));
      compressed = true;
      continue;
    }
    const comp = compressionName(head);
    if (comp && !open)
      throw fmt(
        'E_FORMAT_CPIO_COMPRESSION',
        `${comp}-compressed data at offset ${offset}: only gzip is supported (decompress it first)`,
        offset,
        { actual: comp },
      );
    const hb = await r.read(HEADER_SIZE);
    if (hb.length < HEADER_SIZE)
      throw fmt(
        'E_FORMAT_CPIO_TRUNCATED',
        `truncated header at offset ${offset}: ${hb.length} of ${HEADER_SIZE} bytes`,
        offset,
        { expected: HEADER_SIZE, actual: hb.length },
      );
    const h = decodeNewcHeader(hb, 0, offset);
    if (h.namesize < 1 || h.namesize > MAX_NAMESIZE) {
      throw fmt(
        'E_FORMAT_CPIO_NAMESIZE',
        `namesize ${h.namesize} at offset ${offset} is outside 1..${MAX_NAMESIZE}`,
        offset,
        { field: 'namesize', actual: h.namesize, expected: MAX_NAMESIZE },
      );
    }
    const nameLen = h.namesize + pad4(HEADER_SIZE + h.namesize);
    const nb = await r.read(nameLen);
    if (nb.length < nameLen)
      throw fmt('E_FORMAT_CPIO_TRUNCATED', `truncated name at offset ${offset + HEADER_SIZE}`, offset + HEADER_SIZE, {
        expected: nameLen,
        actual: nb.length,
      });
    if (nb[h.namesize - 1] !== 0)
      throw fmt(
        'E_FORMAT_CPIO_NAME',
        `name at offset ${offset + HEADER_SIZE} is not NUL-terminated`,
        offset + HEADER_SIZE,
      );
    const nul = nb.indexOf(0);
    const name = dec.decode(nb.subarray(0, nul));
    if (name === TRAILER_NAME) {
      if (h.filesize) await skip(r, h.filesize, offset);
      archive++;
      open = false;
      yield { info: trailerInfo(h, offset, archive - 1, compressed), data: undefined };
      continue;
    }
    open = true;
    const type = typeFromMode(h.mode);
    if (!type)
      throw fmt(
        'E_FORMAT_CPIO_MODE',
        `${name}: unknown file type in mode 0${h.mode.toString(8)} at offset ${offset}`,
        offset,
        { field: 'mode', actual: h.mode, path: name },
      );
    if (type === 'symlink' && h.filesize > MAX_SYMLINK) {
      throw fmt(
        'E_FORMAT_CPIO_SYMLINK',
        `${name}: symlink target of ${h.filesize} bytes at offset ${offset} is longer than ${MAX_SYMLINK}`,
        offset,
        { field: 'filesize', actual: h.filesize, path: name },
      );
    }
    const dataOffset = r.position;
    const keep = type === 'symlink' || (wantData && type === 'file');
    let data: Uint8Array | undefined;
    let sum = 0;
    if (keep) {
      const parts: Uint8Array[] = [];
      let got = 0;
      while (got < h.filesize) {
        const piece = await r.readSome(h.filesize - got);
        if (piece.length === 0)
          throw fmt(
            'E_FORMAT_CPIO_TRUNCATED',
            `${name}: data truncated at offset ${dataOffset + got}: ${got} of ${h.filesize} bytes`,
            dataOffset + got,
            { path: name, expected: h.filesize, actual: got },
          );
        parts.push(piece);
        got += piece.length;
      }
      data = parts.length === 1 ? parts[0]! : concatBytes(parts, got);
      if (h.magic === CRC_MAGIC) for (let i = 0; i < data.length; i++) sum = (sum + data[i]!) >>> 0;
    } else {
      sum = await skip(r, h.filesize, offset, name, h.magic === CRC_MAGIC);
    }
    if (h.magic === CRC_MAGIC && type === 'file' && sum !== h.check) {
      throw fmt(
        'E_FORMAT_CPIO_CHECKSUM',
        `${name}: data checksum 0x${sum.toString(16)} does not match header check 0x${h.check.toString(16)} (offset ${offset})`,
        offset,
        { path: name, field: 'check', expected: h.check, actual: sum },
      );
    }
    const padding = pad4(h.filesize);
    if (padding) {
      const p = await r.read(padding);
      if (p.length < padding)
        throw fmt('E_FORMAT_CPIO_TRUNCATED', `${name}: data padding truncated at offset ${r.position}`, r.position, {
          path: name,
        });
    }
    const info: CpioEntryInfo = {
      name,
      path: toPath(name),
      type,
      mode: h.mode,
      uid: h.uid,
      gid: h.gid,
      nlink: h.nlink,
      mtime: h.mtime,
      size: h.filesize,
      ino: h.ino,
      devmajor: h.devmajor,
      devminor: h.devminor,
      rdevmajor: h.rdevmajor,
      rdevminor: h.rdevminor,
      offset,
      archive,
      compressed,
    };
    // the kernel makes the link from a C string: the target ends at the first
    // NUL (gen_init_cpio stores one and counts it in the size)
    if (type === 'symlink' && data) {
      const nul = data.indexOf(0);
      info.target = dec.decode(nul < 0 ? data : data.subarray(0, nul));
    }
    yield { info, data: type === 'file' ? data : undefined };
  }
  if (open)
    throw fmt(
      'E_FORMAT_CPIO_TRUNCATED',
      `archive ${archive} ends at offset ${r.position} without ${TRAILER_NAME}`,
      r.position,
    );
}

function trailerInfo(
  h: ReturnType<typeof decodeNewcHeader>,
  offset: number,
  archive: number,
  compressed: boolean,
): CpioEntryInfo {
  return {
    name: TRAILER_NAME,
    path: '',
    type: 'file',
    mode: h.mode,
    uid: 0,
    gid: 0,
    nlink: h.nlink,
    mtime: 0,
    size: 0,
    ino: 0,
    devmajor: 0,
    devminor: 0,
    rdevmajor: 0,
    rdevminor: 0,
    offset,
    archive,
    compressed,
  };
}

async function skip(r: ByteReader, n: number, offset: number, name = TRAILER_NAME, sum = false): Promise<number> {
  let left = n;
  let s = 0;
  while (left > 0) {
    const piece = await r.readSome(left);
    if (piece.length === 0)
      throw fmt(
        'E_FORMAT_CPIO_TRUNCATED',
        `${name}: data truncated: ${n - left} of ${n} bytes after the header at offset ${offset}`,
        r.position,
        { path: name, expected: n, actual: n - left },
      );
    if (sum) for (let i = 0; i < piece.length; i++) s = (s + piece[i]!) >>> 0;
    left -= piece.length;
  }
  return s;
}

function toPath(name: string): string {
  const parts = name.split('/').filter((c) => c !== '' && c !== '.');
  return '/' + parts.join('/');
}

/** Every member of the archive(s), in order (the `TRAILER!!!` entries excluded). */
export async function* listCpio(source: CpioSource): AsyncGenerator<CpioEntryInfo> {
  for await (const m of members(source, false)) if (m.info.name !== TRAILER_NAME) yield m.info;
}

/**
 * Read archive(s) into a FileTree. Later members replace earlier ones of
 * the same name (as when the kernel unpacks them in order); hard links
 * (same ino/dev, nlink > 1, within one archive) become one shared node and
 * get the data from whichever name carries it. File contents are held in
 * memory.
 */
export interface ReadCpioOptions {
  /**
   * What to do with a member the tree cannot hold safely: a name with a '..'
   * component, a component longer than 255 bytes, a name under a symlink or a
   * file (`link -> /tmp`, then `link/evil`), a non-directory named '.'.
   * 'error' (default) fails the whole read with E_FORMAT_CPIO_ENTRY; 'skip'
   * leaves that member out and reports it through `warn` (what `ls`,
   * `extract` and openImage() use, so one hostile name does not hide the rest).
   */
  unsafeNames?: 'error' | 'skip';
  warn?: (message: string) => void;
}

export async function readCpioTree(source: CpioSource, opts: ReadCpioOptions = {}): Promise<FileTree> {
  const tree = new FileTree();
  let links = new Map<string, TreeNode>();
  for await (const { info, data } of members(source, true)) {
    if (info.name === TRAILER_NAME) {
      links = new Map();
      continue;
    }
    try {
      addMember(tree, info, data, links);
    } catch (e) {
      if (e instanceof FormatError) throw e;
      if (e instanceof TinyImageError && opts.unsafeNames === 'skip') {
        opts.warn?.(`cpio: skipped member ${JSON.stringify(info.name)} at offset ${info.offset}: ${e.message}`);
        continue;
      }
      if (e instanceof TinyImageError) {
        throw new FormatError(
          `E_FORMAT_CPIO_ENTRY`,
          `cpio: member ${JSON.stringify(info.name)} at offset ${info.offset}: ${e.message}`,
          { format: 'cpio', offset: info.offset, path: info.name, reason: e.code },
          { cause: e },
        );
      }
      throw e;
    }
  }
  return tree;
}

function addMember(
  tree: FileTree,
  info: CpioEntryInfo,
  data: Uint8Array | undefined,
  links: Map<string, TreeNode>,
): void {
  const path = info.path;
  const m = { mode: info.mode & 0o7777, uid: info.uid, gid: info.gid, mtime: info.mtime };
  if (info.type === 'dir') {
    const existing = tree.get(path);
    if (existing && existing.type !== 'dir') tree.remove(path);
    tree.mkdir(path, m);
    return;
  }
  if (path === '/')
    throw fmt(
      'E_FORMAT_CPIO_NAME',
      `member ${JSON.stringify(info.name)} at offset ${info.offset} names the root but is a ${info.type}`,
      info.offset,
      { path: info.name },
    );
  const key = info.nlink > 1 ? `${info.devmajor}:${info.devminor}:${info.ino}:${info.mode >>> 12}` : undefined;
  const shared = key ? links.get(key) : undefined;
  if (shared) {
    // the data first: a link group's data travels with one of its names, which may be one the tree refuses
    if (shared.type === 'file' && data && data.length) shared.content = bytesContent(data);
    const existing = tree.get(path);
    if (existing?.type === 'dir') tree.remove(path);
    tree.put(path, shared, { replace: true });
    return;
  }
  const existing = tree.get(path);
  if (existing?.type === 'dir') tree.remove(path);
  let node: TreeNode;
  switch (info.type) {
    case 'file':
      node = tree.addFile(path, bytesContent(data ?? new Uint8Array(0)), m, { replace: true });
      break;
    case 'symlink':
      node = tree.addSymlink(path, info.target ?? '', m, { replace: true });
      break;
    case 'chardev':
    case 'blockdev':
      node = tree.addDevice(path, info.type === 'chardev' ? 'char' : 'block', info.rdevmajor, info.rdevminor, m, {
        replace: true,
      });
      break;
    case 'fifo':
      node = tree.addFifo(path, m, { replace: true });
      break;
    case 'socket':
      node = tree.addSocket(path, m, { replace: true });
      break;
  }
  if (key) links.set(key, node);
}
