/**
 * Streaming, deterministic tar writer: POSIX ustar headers, with a pax
 * extended header only for what ustar cannot hold (long names and link
 * targets, ids or sizes past the octal fields, times before 1970 or with
 * nanoseconds, xattrs, ACLs, sparse maps). Entry order is `tree.walk()`;
 * hard links (one node under several names) are stored once and linked
 * by name after; sparse files (Content.dataRanges with holes) use GNU's
 * pax sparse format 1.0, which GNU tar and libarchive restore with their
 * holes. File data streams from Content one piece at a time.
 */
import { FormatError } from '../../errors.js';
import type { Progress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import type { Content, Timespec, TreeNode } from '../../tree/types.js';
import { ACL_XATTR, aclXattrToText } from './acl.js';
import { formatOctal, setChecksum } from './numbers.js';
import { formatPaxTime, paxRecord } from './pax.js';
import { BLOCK, OCTAL_MAX, TAR_HEADER, TYPE, USTAR_MAGIC, USTAR_VERSION } from './structs.js';

export interface TarWriteOptions {
  progress?: Progress;
  /** Write the root directory as "./" so its owner, mode and time survive (default true). */
  root?: boolean;
  /** Pad the archive to a multiple of this many bytes (default 10240, GNU tar's record size). */
  recordSize?: number;
}

const enc = new TextEncoder();
const OUT = 256 * 1024;
const PASS_THROUGH = 64 * 1024;
const CHUNK = 1 << 20;
const NAME_LEN = TAR_HEADER.fields[0].length!;
const PREFIX_LEN = 155;
const LINK_LEN = 100;

/** Collects small pieces (headers) into 256 KiB chunks; passes big content chunks through. */
class Sink {
  private buf = new Uint8Array(OUT);
  private n = 0;
  total = 0;
  *add(b: Uint8Array): Generator<Uint8Array> {
    this.total += b.length;
    if (b.length >= PASS_THROUGH) {
      yield* this.flush();
      yield b;
      return;
    }
    let o = 0;
    while (o < b.length) {
      const k = Math.min(b.length - o, OUT - this.n);
      this.buf.set(b.subarray(o, o + k), this.n);
      this.n += k;
      o += k;
      if (this.n === OUT) yield* this.flush();
    }
  }
  *zeros(count: number): Generator<Uint8Array> {
    if (count > 0) yield* this.add(new Uint8Array(count));
  }
  *flush(): Generator<Uint8Array> {
    if (!this.n) return;
    yield this.buf.subarray(0, this.n);
    this.buf = new Uint8Array(OUT);
    this.n = 0;
  }
}

interface HeaderFields {
  name: string;
  typeflag: number;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
}

/** name/prefix split of a long name (ustar), or undefined when it needs a pax path. */
function splitName(b: Uint8Array): { name: Uint8Array; prefix?: Uint8Array } | undefined {
  if (b.length <= NAME_LEN) return { name: b };
  for (let i = Math.min(PREFIX_LEN, b.length - 2); i > 0; i--) {
    if (b[i] === 0x2f && b.length - i - 1 <= NAME_LEN) return { name: b.subarray(i + 1), prefix: b.subarray(0, i) };
  }
  return undefined;
}

const clamp = (v: number, max: number) => Math.min(Math.max(0, v), max);

function header(f: HeaderFields): Uint8Array {
  const nb = enc.encode(f.name);
  const split = splitName(nb) ?? { name: nb.subarray(0, NAME_LEN) };
  const b = TAR_HEADER.encode({
    name: split.name,
    mode: formatOctal(f.mode, 8),
    uid: formatOctal(clamp(f.uid, OCTAL_MAX.id), 8),
    gid: formatOctal(clamp(f.gid, OCTAL_MAX.id), 8),
    size: formatOctal(clamp(f.size, OCTAL_MAX.size), 12),
    mtime: formatOctal(clamp(f.mtime, OCTAL_MAX.time), 12),
    typeflag: f.typeflag,
    linkname: enc.encode(f.linkname ?? '').subarray(0, LINK_LEN),
    magic: USTAR_MAGIC,
    version: USTAR_VERSION,
    devmajor: formatOctal(f.devmajor ?? 0, 8),
    devminor: formatOctal(f.devminor ?? 0, 8),
    ...(split.prefix ? { prefix: split.prefix } : {}),
  });
  setChecksum(b);
  return b;
}

/** pax records a node needs beyond its ustar header (sorted keys for xattrs: deterministic). */
function paxRecords(name: string, node: TreeNode, size: number, linkname: string | undefined): Uint8Array[] {
  const recs: Uint8Array[] = [];
  if (!splitName(enc.encode(name))) recs.push(paxRecord('path', name));
  if (linkname !== undefined && enc.encode(linkname).length > LINK_LEN) recs.push(paxRecord('linkpath', linkname));
  if (size > OCTAL_MAX.size) recs.push(paxRecord('size', String(size)));
  if (node.uid > OCTAL_MAX.id) recs.push(paxRecord('uid', String(node.uid)));
  if (node.gid > OCTAL_MAX.id) recs.push(paxRecord('gid', String(node.gid)));
  if (needsPaxTime(node.mtime)) recs.push(paxRecord('mtime', formatPaxTime(node.mtime)));
  for (const [kind, key] of [
    ['access', 'SCHILY.acl.access'],
    ['default', 'SCHILY.acl.default'],
  ] as const) {
    const v = node.xattrs.get(ACL_XATTR[kind]);
    const text = v && aclXattrToText(v);
    if (text) recs.push(paxRecord(key, text));
  }
  for (const k of [...node.xattrs.keys()].sort()) recs.push(paxRecord(`SCHILY.xattr.${k}`, node.xattrs.get(k)!));
  return recs;
}

function needsPaxTime(t: Timespec): boolean {
  return t.nsec !== 0 || t.sec < 0 || t.sec > OCTAL_MAX.time;
}

function paxHeader(name: string, recs: Uint8Array[], mtime: number): Uint8Array[] {
  const size = recs.reduce((s, r) => s + r.length, 0);
  const base = name.replace(/\/$/, '').split('/').pop() || '.';
  const safe = ('PaxHeaders/' + base).replace(/[^\x20-\x7e]/g, '_').slice(0, NAME_LEN);
  const h = header({ name: safe, typeflag: TYPE.PAX, mode: 0o644, uid: 0, gid: 0, size, mtime });
  return [h, ...recs, new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK)];
}

/** Data ranges of a content when it has holes worth keeping, else undefined. */
function holes(c: Content): Array<[number, number]> | undefined {
  const r = c.dataRanges?.();
  if (!r) return undefined;
  const covered = r.reduce((s, [a, b]) => s + (b - a), 0);
  return covered < c.size ? r : undefined;
}

function sparseMap(ranges: Array<[number, number]>, size: number): Uint8Array {
  const segs = ranges.map(([a, b]) => [a, b - a] as [number, number]);
  if (!segs.length || segs[segs.length - 1]![0] + segs[segs.length - 1]![1] < size) segs.push([size, 0]);
  const text = `${segs.length}\n` + segs.map(([o, n]) => `${o}\n${n}\n`).join('');
  const b = enc.encode(text);
  const out = new Uint8Array(Math.ceil(b.length / BLOCK) * BLOCK);
  out.set(b);
  return out;
}

/** The header typeflag of each node type (sockets never reach a header: the writer skips them). */
const TYPEFLAG: Record<TreeNode['type'], number> = {
  file: TYPE.FILE,
  dir: TYPE.DIR,
  symlink: TYPE.SYMLINK,
  chardev: TYPE.CHAR,
  blockdev: TYPE.BLOCK,
  fifo: TYPE.FIFO,
  socket: -1,
};

async function* dataChunks(
  path: string,
  c: Content,
  ranges: Array<[number, number]> | undefined,
): AsyncGenerator<Uint8Array> {
  if (ranges) {
    for (const [a, b] of ranges) {
      for (let p = a; p < b; p += CHUNK) {
        const want = Math.min(CHUNK, b - p);
        const buf = c.readInto ? new Uint8Array(want) : undefined;
        const got = buf ? c.readInto!(p, buf) : undefined;
        const piece = buf ? buf.subarray(0, got) : c.readAt ? c.readAt(p, want) : undefined;
        if (!piece)
          throw new FormatError('E_FORMAT_CONTENT_ACCESS', `${path}: sparse content without random access`, { path });
        if (piece.length !== want)
          throw new FormatError(
            'E_FORMAT_CONTENT_SIZE',
            `${path}: content ended at ${p + piece.length} inside its data range [${a}, ${b})`,
            { path, expected: b, actual: p + piece.length },
          );
        yield piece;
      }
    }
    return;
  }
  let got = 0;
  for await (const chunk of c.stream()) {
    got += chunk.length;
    if (got > c.size)
      throw new FormatError(
        'E_FORMAT_CONTENT_SIZE',
        `${path}: content yielded more than its declared ${c.size} bytes`,
        { path, expected: c.size, actual: got },
      );
    if (chunk.length) yield chunk;
  }
  if (got !== c.size)
    throw new FormatError(
      'E_FORMAT_CONTENT_SIZE',
      `${path}: content yielded ${got} bytes but declared ${c.size} (did the file change while being archived?)`,
      { path, expected: c.size, actual: got },
    );
}

/**
 * Stream `tree` as a tar archive (pax where needed, ustar otherwise), two
 * zero blocks at the end, padded to `recordSize`. Same tree => same bytes.
 * Sockets cannot be stored in tar and are left out (GNU tar does the same).
 */
export async function* tarChunks(tree: FileTree, opts: TarWriteOptions = {}): AsyncGenerator<Uint8Array> {
  const record = opts.recordSize ?? 20 * BLOCK;
  const sink = new Sink();
  const counts = tree.linkCounts();
  const firstName = new Map<TreeNode, string>();
  let total = 0;
  for (const [n] of counts) if (n.type === 'file') total += n.content.size;
  opts.progress?.start('writing tar', total, 'bytes');
  for (const e of tree.walk()) {
    const n = e.node;
    if (e.path === '/' && opts.root === false) continue;
    if (n.type === 'socket') continue;
    const name = e.path === '/' ? './' : n.type === 'dir' ? `${e.path.slice(1)}/` : e.path.slice(1);
    const link = n.type !== 'dir' ? firstName.get(n) : undefined;
    if (link === undefined && n.type !== 'dir' && (counts.get(n) ?? 0) > 1) firstName.set(n, name);
    const content = n.type === 'file' && link === undefined ? n.content : undefined;
    const ranges = content ? holes(content) : undefined;
    const map = ranges ? sparseMap(ranges, content!.size) : undefined;
    const stored = !content ? 0 : ranges ? map!.length + ranges.reduce((s, [a, b]) => s + b - a, 0) : content.size;
    const linkname = link ?? (n.type === 'symlink' ? n.target : undefined);
    let hname = name;
    let recs = paxRecords(name, n, stored, linkname);
    if (map) {
      const slash = name.lastIndexOf('/');
      hname = `${name.slice(0, slash + 1)}GNUSparseFile.0/${name.slice(slash + 1)}`;
      recs = recs.filter((r) => !startsWith(r, 'path='));
      recs.unshift(
        paxRecord('GNU.sparse.major', '1'),
        paxRecord('GNU.sparse.minor', '0'),
        paxRecord('GNU.sparse.name', name),
        paxRecord('GNU.sparse.realsize', String(content!.size)),
      );
      if (!splitName(enc.encode(hname))) recs.unshift(paxRecord('path', hname));
    }
    const mtime = n.mtime.sec;
    if (recs.length) for (const b of paxHeader(hname, recs, mtime)) yield* sink.add(b);
    yield* sink.add(
      header({
        name: hname,
        typeflag: link !== undefined ? TYPE.HARDLINK : TYPEFLAG[n.type],
        mode: n.mode & 0o7777,
        uid: n.uid,
        gid: n.gid,
        size: stored,
        mtime,
        ...(linkname !== undefined ? { linkname } : {}),
        ...(n.type === 'chardev' || n.type === 'blockdev' ? { devmajor: n.major, devminor: n.minor } : {}),
      }),
    );
    if (!content) continue;
    if (map) yield* sink.add(map);
    for await (const c of dataChunks(e.path, content, ranges)) {
      yield* sink.add(c);
      opts.progress?.tick(c.length);
    }
    yield* sink.zeros((BLOCK - (stored % BLOCK)) % BLOCK);
  }
  yield* sink.zeros(2 * BLOCK);
  yield* sink.zeros((record - (sink.total % record)) % record);
  yield* sink.flush();
  opts.progress?.done();
}

/** Whether a pax record's body starts with `prefix` ("NN path=..."). */
function startsWith(rec: Uint8Array, prefix: string): boolean {
  const sp = rec.indexOf(0x20);
  const p = enc.encode(prefix);
  return p.every((x, i) => rec[sp + 1 + i] === x);
}
