/**
 * A newc writer that follows a gen_init_cpio list the way the kernel's
 * usr/gen_init_cpio does, so its output can be compared with that program's
 * byte for byte (`gen_init_cpio -t EPOCH LIST`, or `-c` for checksums):
 *
 * - members in list order, names as written minus one leading '/', no "."
 *   entry;
 * - inode numbers from 721, one per line (a file's names share one);
 * - directories, FIFOs and sockets have nlink 2, devices and symlinks 1, a
 *   file the number of its names; every member has device 3:1;
 * - a file's data goes with its last name and its mtime is the host file's
 *   (at most 0xffffffff); every other member gets the default time;
 * - a symlink's data is its target with a terminating NUL;
 * - upper-case hex, and the trailer padded to 512 bytes.
 */
import { CapacityError, FormatError } from '../../errors.js';
import type { CpioListEntry } from '../../tree/cpiolist.js';
import { TYPE_BITS } from '../../tree/types.js';
import { CRC_MAGIC, encodeNewcHeader, HEADER_SIZE, MAX_NAMESIZE, NEWC_MAGIC, pad4, TRAILER_NAME } from './header.js';

export interface KernelCpioOptions {
  /** gen_init_cpio's -t: time of everything but files, seconds (0..0xffffffff). */
  defaultTime: number;
  /** gen_init_cpio's -c: the 070702 format with a byte-sum checksum of each file's data. */
  checksum?: boolean;
}

const enc = new TextEncoder();
const FIRST_INO = 721;
const MTIME_MAX = 0xffffffff;
const DEV_MAJOR = 3;
const DEV_MINOR = 1;
const BLOCK = 512;

const KIND_BITS: Record<CpioListEntry['kind'], number> = {
  file: TYPE_BITS.file,
  dir: TYPE_BITS.dir,
  pipe: TYPE_BITS.fifo,
  sock: TYPE_BITS.socket,
  slink: TYPE_BITS.symlink,
  nod: 0,
};

interface Member {
  name: string;
  ino: number;
  mode: number;
  uid: number;
  gid: number;
  nlink: number;
  mtime: number;
  rdevmajor: number;
  rdevminor: number;
  data?: Uint8Array;
  /** A file's content, written after the header (the last name of a file only). */
  file?: Extract<CpioListEntry, { kind: 'file' }>;
  check: number;
}

function header(m: Member, magic: string, filesize: number): Uint8Array {
  const name = enc.encode(m.name);
  if (name.length + 1 > MAX_NAMESIZE) {
    throw new CapacityError('E_LIMIT_NAME_LENGTH', `${m.name}: name longer than ${MAX_NAMESIZE - 1} bytes`, {
      format: 'cpio',
      path: m.name,
    });
  }
  const head = HEADER_SIZE + name.length + 1;
  const out = new Uint8Array(head + pad4(head));
  const fields = { ...m, filesize, devmajor: DEV_MAJOR, devminor: DEV_MINOR, namesize: name.length + 1, magic };
  encodeNewcHeader(fields, out, 0, true);
  out.set(name, HEADER_SIZE);
  return out;
}

async function fileSum(e: Extract<CpioListEntry, { kind: 'file' }>): Promise<number> {
  let sum = 0;
  for await (const chunk of e.content.stream()) for (let i = 0; i < chunk.length; i++) sum = (sum + chunk[i]!) >>> 0;
  return sum;
}

/** The members one list line becomes. */
async function membersOf(e: CpioListEntry, ino: number, opts: KernelCpioOptions): Promise<Member[]> {
  const base = { ino, mode: e.mode | KIND_BITS[e.kind], uid: e.uid, gid: e.gid, rdevmajor: 0, rdevminor: 0, check: 0 };
  const mtime = opts.defaultTime;
  switch (e.kind) {
    case 'dir':
    case 'pipe':
    case 'sock':
      return [{ ...base, name: e.name, nlink: 2, mtime }];
    case 'nod': {
      const mode = e.mode | (e.device === 'b' ? TYPE_BITS.blockdev : TYPE_BITS.chardev);
      return [{ ...base, mode, name: e.name, nlink: 1, mtime, rdevmajor: e.major, rdevminor: e.minor }];
    }
    case 'slink':
      return [{ ...base, name: e.name, nlink: 1, mtime, data: enc.encode(e.target + '\0') }];
    case 'file': {
      const names = [e.name, ...e.links];
      const fileTime = Math.min(MTIME_MAX, Math.max(0, e.mtime?.sec ?? opts.defaultTime));
      const check = opts.checksum && e.content.size > 0 ? await fileSum(e) : 0;
      return names.map((name, i) => ({
        ...base,
        name,
        nlink: names.length,
        mtime: fileTime,
        ...(i === names.length - 1 ? { file: e, check } : {}),
      }));
    }
  }
}

async function* fileData(e: Extract<CpioListEntry, { kind: 'file' }>): AsyncGenerator<Uint8Array> {
  let got = 0;
  for await (const chunk of e.content.stream()) {
    got += chunk.length;
    if (got > e.content.size) break;
    yield chunk;
  }
  if (got !== e.content.size) {
    throw new FormatError('E_FORMAT_CONTENT_SIZE', `${e.location}: read ${got} bytes, expected ${e.content.size}`, {
      path: e.location,
      expected: e.content.size,
      actual: got,
    });
  }
}

/** Stream the list as gen_init_cpio would write it. */
export async function* kernelCpioChunks(entries: CpioListEntry[], opts: KernelCpioOptions): AsyncGenerator<Uint8Array> {
  if (!Number.isInteger(opts.defaultTime) || opts.defaultTime < 0 || opts.defaultTime > MTIME_MAX) {
    throw new CapacityError(
      'E_LIMIT_TIME',
      `default time ${opts.defaultTime} does not fit the cpio header (0..${MTIME_MAX})`,
      {
        format: 'cpio',
        actual: opts.defaultTime,
      },
    );
  }
  const magic = opts.checksum ? CRC_MAGIC : NEWC_MAGIC;
  let offset = 0;
  let ino = FIRST_INO;
  for (const e of entries) {
    for (const m of await membersOf(e, ino++, opts)) {
      const size = m.data ? m.data.length : m.file ? m.file.content.size : 0;
      if (size > MTIME_MAX) {
        throw new CapacityError('E_LIMIT_FILE_SIZE', `${m.name}: ${size} bytes do not fit a newc archive`, {
          format: 'cpio',
          path: m.name,
        });
      }
      const h = header(m, magic, size);
      yield h;
      offset += h.length;
      if (m.data) yield m.data;
      if (m.file) yield* fileData(m.file);
      offset += size;
      if (pad4(offset)) yield new Uint8Array(pad4(offset));
      offset += pad4(offset);
    }
  }
  const trailer = { name: TRAILER_NAME, ino: 0, mode: 0, uid: 0, gid: 0, nlink: 1, mtime: 0, rdevmajor: 0 };
  const t = header({ ...trailer, rdevminor: 0, check: 0 }, magic, 0);
  // gen_init_cpio's trailer has device 0:0, unlike its members
  encodeNewcHeader(
    { ...trailer, rdevminor: 0, check: 0, filesize: 0, devmajor: 0, devminor: 0, namesize: 11, magic },
    t,
    0,
    true,
  );
  yield t;
  offset += t.length;
  if (offset % BLOCK) yield new Uint8Array(BLOCK - (offset % BLOCK));
}
