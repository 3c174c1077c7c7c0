/**
 * ISO 9660 reader: BlockDevice -> FileTree with lazy contents, names and
 * metadata from Rock Ridge when the image has it, else from Joliet, else
 * the plain ECMA-119 names (version and trailing dot removed, lower case,
 * as Linux shows them). Relocated directories are read through their CL
 * links; RE entries are hidden; PX serial numbers join hard links.
 *
 * Validation before allocation: every extent is checked against the
 * device, each directory is read once (a loop is a FormatError), records
 * may not cross a block, continuation areas are bounded, and the number of
 * records is bounded by what the device can hold.
 */
import { FormatError, formatFailure } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { FileTree } from '../../tree/tree.js';
import { typeFromMode, type Content, type DirNode, type NodeMeta, type TreeNode } from '../../tree/types.js';
import { decodeRecordDate, decodeVolumeDate } from './dates.js';
import { readBootCatalog, type CatalogEntry } from './eltorito.js';
import { readPartitionTable } from '../../partition/index.js';
import { decodePn, readRockRidge, spSkip, type RockRidge } from './readsusp.js';
import {
  BLOCK,
  BOOT_RECORD,
  DIR_RECORD,
  EL_TORITO_ID,
  FLAG_ASSOCIATED,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  JOLIET_ESCAPES,
  STANDARD_ID,
  SYSTEM_AREA_BLOCKS,
  VD_BOOT_RECORD,
  VD_PRIMARY,
  VD_SUPPLEMENTARY,
  VD_TERMINATOR,
  VOLUME_DESCRIPTOR,
} from './structs.js';

export { isIso9660 } from './structs.js';

export interface IsoInfo {
  type: 'iso9660';
  label: string;
  systemId: string;
  volumeSetId: string;
  publisher: string;
  preparer: string;
  application: string;
  /** Blocks of 2048 bytes in the volume. */
  volumeBlocks: number;
  blockSize: number;
  created?: number | undefined;
  modified?: number | undefined;
  rockRidge: boolean;
  joliet: boolean;
  /** Where the tree's names came from. */
  names: 'rockridge' | 'joliet' | 'iso9660';
  /** El Torito entries, e.g. "bios block 34, 4 sectors" (the catalog's fields: readBootCatalog). */
  elTorito: string[];
  /** The partition table of a hybrid image's system area, when there is one. */
  partitionTable?: 'mbr' | 'gpt' | undefined;
}

export interface IsoVolume {
  tree: FileTree;
  info: IsoInfo;
  warnings: string[];
}

const CHUNK = 1 << 20;
const MAX_DESCRIPTORS = 64;

const fail = formatFailure('ISO 9660', 'iso9660');

const latin = (b: Uint8Array) => String.fromCharCode(...b).replace(/[\s\0]+$/, '');
function ucs2(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i + 1 < b.length; i += 2) s += String.fromCharCode((b[i]! << 8) | b[i + 1]!);
  return s;
}
const ucs2Text = (b: Uint8Array) => ucs2(b).replace(/[\s\0]+$/, '');

interface Descriptors {
  pvd: ReturnType<typeof VOLUME_DESCRIPTOR.decode>;
  svd?: ReturnType<typeof VOLUME_DESCRIPTOR.decode> | undefined;
  catalog?: number | undefined;
}

function readDescriptors(dev: BlockDevice): Descriptors {
  let pvd: Descriptors['pvd'] | undefined;
  let svd: Descriptors['svd'];
  let catalog: number | undefined;
  for (let i = 0; i < MAX_DESCRIPTORS; i++) {
    const at = (SYSTEM_AREA_BLOCKS + i) * BLOCK;
    if (at + BLOCK > dev.size) break;
    const b = dev.readAt(at, BLOCK);
    const vd = VOLUME_DESCRIPTOR.decode(b);
    if (String.fromCharCode(...vd.id) !== STANDARD_ID) break;
    if (vd.type === VD_TERMINATOR) break;
    if (vd.type === VD_PRIMARY && !pvd) pvd = vd;
    else if (vd.type === VD_SUPPLEMENTARY && !svd) {
      const esc = latin(vd.escapes);
      if ((JOLIET_ESCAPES as readonly string[]).includes(esc.slice(0, 3))) svd = vd;
    } else if (vd.type === VD_BOOT_RECORD) {
      const br = BOOT_RECORD.decode(b);
      if (latin(br.bootSystemId) === EL_TORITO_ID) catalog = br.catalog;
    }
  }
  if (!pvd)
    throw fail('E_FORMAT_ISO_MAGIC', 'no primary volume descriptor (CD001) from block 16: not an ISO 9660 image', {
      structure: VOLUME_DESCRIPTOR.name,
      offset: SYSTEM_AREA_BLOCKS * BLOCK,
    });
  if (pvd.blockSizeLe !== BLOCK)
    throw fail('E_FORMAT_ISO_BLOCK_SIZE', `logical block size ${pvd.blockSizeLe} is not supported (only 2048)`, {
      field: 'blockSize',
      actual: pvd.blockSizeLe,
    });
  return { pvd, svd, catalog };
}

/** One decoded directory record. */
interface Rec {
  extent: number;
  size: number;
  flags: number;
  date: number;
  id: Uint8Array;
  su: Uint8Array;
  where: string;
}

type Mode = 'rockridge' | 'joliet' | 'iso9660';

/** A directory to read: where its extent is and the node its entries go into. */
interface Pending {
  extent: number;
  size: number;
  node: DirNode;
  path: string;
}

class Reader {
  readonly tree = new FileTree();
  readonly warnings: string[] = [];
  private readonly visited = new Set<number>();
  private readonly serials = new Map<number, TreeNode>();
  private readonly firstExtent = new Map<TreeNode, number>();
  /** Directory bytes read so far: overlapping extents cannot make the reader read the image over and over. */
  private dirBytes = 0;
  private records = 0;
  private readonly maxRecords: number;
  private readonly queue: Pending[] = [];

  constructor(
    private readonly dev: BlockDevice,
    private readonly mode: Mode,
    private readonly skip: number,
  ) {
    this.maxRecords = Math.ceil(dev.size / 34) + 16;
  }

  private checkExtent(extent: number, size: number, where: string): void {
    const end = extent * BLOCK + size;
    if (!Number.isSafeInteger(end) || end > this.dev.size)
      throw fail('E_FORMAT_ISO_EXTENT', `${where}: extent at block ${extent} (${size} bytes) lies outside the image`, {
        path: where,
        offset: extent * BLOCK,
        actual: end,
        expected: this.dev.size,
      });
  }

  /** The records of a directory extent, "." and ".." included. */
  private *records_(extent: number, size: number, path: string): Generator<Rec> {
    this.checkExtent(extent, size, path);
    if ((this.dirBytes += size) > 2 * this.dev.size + BLOCK)
      throw fail('E_FORMAT_ISO_LOOP', 'directories overlap: more directory data than the image holds', { path });
    const buf = this.dev.readAt(extent * BLOCK, size);
    for (let pos = 0; pos < size;) {
      const len = buf[pos]!;
      if (len === 0) {
        pos = (Math.floor(pos / BLOCK) + 1) * BLOCK;
        continue;
      }
      if (len < DIR_RECORD.size + 1 || (pos % BLOCK) + len > BLOCK || pos + len > size)
        throw fail('E_FORMAT_ISO_RECORD', `${path}: directory record of ${len} bytes at offset ${pos} is malformed`, {
          path,
          structure: DIR_RECORD.name,
          offset: extent * BLOCK + pos,
        });
      if (++this.records > this.maxRecords)
        throw fail('E_FORMAT_ISO_LOOP', 'more directory records than the image can hold (a loop?)', { path });
      const r = DIR_RECORD.decode(buf, pos);
      const idEnd = pos + DIR_RECORD.size + r.nameLength;
      if (r.nameLength === 0 || idEnd > pos + len)
        throw fail('E_FORMAT_ISO_RECORD', `${path}: identifier of ${r.nameLength} bytes overflows its record`, {
          path,
          structure: DIR_RECORD.name,
          offset: extent * BLOCK + pos,
        });
      const suStart = idEnd + (r.nameLength % 2 === 0 ? 1 : 0);
      yield {
        extent: r.extentLe,
        size: r.dataLengthLe,
        flags: r.flags,
        date: decodeRecordDate(buf, pos + DIR_RECORD.offsetOf('date')) ?? 0,
        id: buf.subarray(pos + DIR_RECORD.size, idEnd),
        su: buf.subarray(Math.min(suStart, pos + len), pos + len),
        where: path,
      };
      pos += len;
    }
  }

  /** Read the root and everything below it. */
  run(root: Rec): void {
    // the SUSP skip length applies to every record but the root's ".", where SP itself is
    const rr = this.mode === 'rockridge' ? readRockRidge(this.dev, root.su, 0, '/') : {};
    this.apply(this.tree.root, rr, root.date);
    this.visited.add(root.extent);
    this.queue.push({ extent: root.extent, size: root.size, node: this.tree.root, path: '/' });
    for (let i = 0; i < this.queue.length; i++) {
      this.readDir(this.queue[i]!);
      this.queue[i] = undefined as unknown as Pending;
    }
  }

  private rockRidge(r: Rec, where: string): RockRidge {
    return this.mode === 'rockridge' ? readRockRidge(this.dev, r.su, this.skip, where) : {};
  }

  private name(r: Rec, rr: RockRidge): string {
    if (rr.name !== undefined) return rr.name;
    if (this.mode === 'joliet') return ucs2(r.id).replace(/;\d*$/, '');
    let s = String.fromCharCode(...r.id).replace(/;\d*$/, '');
    if (s.endsWith('.') && !(r.flags & FLAG_DIRECTORY)) s = s.slice(0, -1);
    return s.toLowerCase();
  }

  private readDir(d: Pending): void {
    let parts: Array<{ extent: number; size: number }> = [];
    let first: { rec: Rec; rr: RockRidge } | undefined;
    let index = 0;
    for (const r of this.records_(d.extent, d.size, d.path)) {
      if (index++ < 2 && r.id.length === 1 && (r.id[0] === 0 || r.id[0] === 1)) continue;
      if (r.flags & FLAG_ASSOCIATED) continue;
      if (!first) first = { rec: r, rr: this.rockRidge(r, d.path) };
      parts.push({ extent: r.extent, size: r.size });
      if (r.flags & FLAG_MULTI_EXTENT) continue;
      const { rec, rr } = first;
      first = undefined;
      const extents = parts;
      parts = [];
      if (rr.relocated || rr.selfName) continue;
      this.entry(d, rec, rr, extents);
    }
    if (first)
      throw fail('E_FORMAT_ISO_RECORD', `${d.path}: multi-extent file without its last extent`, { path: d.path });
  }

  private entry(d: Pending, rec: Rec, rr: RockRidge, extents: Array<{ extent: number; size: number }>): void {
    const name = this.name(rec, rr);
    const path = d.path === '/' ? `/${name}` : `${d.path}/${name}`;
    if (!name || name === '.' || name === '..' || name.includes('/') || name.includes('\0'))
      throw fail('E_FORMAT_ISO_NAME', `invalid name ${JSON.stringify(name)} in ${d.path}`, { path });
    if (new TextEncoder().encode(name).length > 255)
      throw fail('E_FORMAT_ISO_NAME', `${path}: name longer than 255 bytes`, { path });
    if (d.node.children.has(name)) throw fail('E_FORMAT_ISO_NAME', `${path} appears twice in its directory`, { path });
    const isDir =
      rr.childLink !== undefined ||
      (rr.mode !== undefined ? typeFromMode(rr.mode) === 'dir' : !!(rec.flags & FLAG_DIRECTORY));
    if (isDir) {
      d.node.children.set(name, this.dir(rec, rr, path));
      return;
    }
    d.node.children.set(name, this.leaf(rec, rr, extents, path));
  }

  private dir(rec: Rec, rr: RockRidge, path: string): DirNode {
    let extent = rec.extent;
    let size = rec.size;
    let attrs = rr;
    let date = rec.date;
    if (rr.childLink !== undefined) {
      // a relocated directory: its own "." record has its size and attributes
      extent = rr.childLink;
      this.checkExtent(extent, BLOCK, path);
      const dot = this.records_(extent, BLOCK, path).next().value;
      if (!dot) throw fail('E_FORMAT_ISO_RECORD', `${path}: relocated directory has no "." record`, { path });
      size = dot.size;
      date = dot.date;
      attrs = { ...this.rockRidge(dot, path), name: rr.name };
    }
    if (this.visited.has(extent))
      throw fail('E_FORMAT_ISO_LOOP', `${path}: directory at block ${extent} is reached twice (a loop)`, { path });
    this.visited.add(extent);
    const node = { type: 'dir', ...this.meta(attrs, date, 0o555), children: new Map() } as DirNode;
    this.queue.push({ extent, size, node, path });
    return node;
  }

  private leaf(rec: Rec, rr: RockRidge, extents: Array<{ extent: number; size: number }>, path: string): TreeNode {
    const type = rr.mode !== undefined ? (typeFromMode(rr.mode) ?? 'file') : 'file';
    const meta = this.meta(rr, rec.date, 0o444);
    let node: TreeNode;
    if (type === 'file') {
      let total = 0;
      for (const x of extents) {
        if (x.size) this.checkExtent(x.extent, x.size, path);
        total += x.size;
      }
      node = { type, ...meta, content: fileContent(this.dev, extents, total, path, rr.zisofs === true) };
    } else if (type === 'symlink') node = { type, ...meta, target: rr.target ?? '' };
    else if (type === 'chardev' || type === 'blockdev')
      node = { type, ...meta, ...decodePn(rr.dev ?? { high: 0, low: 0 }) };
    else if (type === 'dir') throw fail('E_FORMAT_ISO_RECORD', `${path}: directory mode on a file record`, { path });
    else node = { type, ...meta };
    return this.shared(node, rr.serial, extents[0]?.extent);
  }

  /** The node already read under the same PX serial number, when it is the same object (a hard link). */
  private shared(node: TreeNode, serial: number | undefined, extent: number | undefined): TreeNode {
    if (!serial) return node;
    const prev = this.serials.get(serial);
    if (!prev) {
      this.serials.set(serial, node);
      if (extent !== undefined) this.firstExtent.set(node, extent);
      return node;
    }
    const same =
      prev.type === node.type &&
      (prev.type !== 'file' ||
        (node.type === 'file' && this.firstExtent.get(prev) === extent && prev.content.size === node.content.size)) &&
      (prev.type !== 'symlink' || (node.type === 'symlink' && prev.target === node.target));
    return same ? prev : node;
  }

  private meta(rr: RockRidge, date: number, mode: number): NodeMeta {
    const m = rr.mtime ?? date;
    return {
      mode: rr.mode !== undefined ? rr.mode & 0o7777 : mode,
      uid: rr.uid ?? 0,
      gid: rr.gid ?? 0,
      mtime: { sec: m, nsec: 0 },
      atime: { sec: rr.atime ?? m, nsec: 0 },
      ctime: { sec: rr.ctime ?? m, nsec: 0 },
      xattrs: new Map(),
    };
  }

  apply(node: DirNode, rr: RockRidge, date: number): void {
    Object.assign(node, this.meta(rr, date, 0o555));
  }
}

/** Lazy content over a file's extents. */
function fileContent(
  dev: BlockDevice,
  extents: Array<{ extent: number; size: number }>,
  size: number,
  path: string,
  zisofs: boolean,
): Content {
  const readInto = (pos: number, target: Uint8Array): number => {
    if (zisofs)
      throw fail('E_FORMAT_ISO_ZISOFS', `${path} is zisofs-compressed, which this reader does not decompress`, {
        path,
      });
    const end = Math.min(size, pos + target.length);
    let base = 0;
    for (const x of extents) {
      const s = Math.max(pos, base);
      const e = Math.min(end, base + x.size);
      if (s < e) {
        const into = target.subarray(s - pos, e - pos);
        const at = x.extent * BLOCK + (s - base);
        if (dev.readInto) dev.readInto(at, into);
        else into.set(dev.readAt(at, into.length));
      }
      base += x.size;
      if (base >= end) break;
    }
    return Math.max(0, end - pos);
  };
  const readAt = (pos: number, len: number) => {
    const out = new Uint8Array(Math.max(0, Math.min(size, pos + len) - pos));
    readInto(pos, out);
    return out;
  };
  return {
    size,
    readAt,
    readInto,
    async *stream() {
      for (let p = 0; p < size; p += CHUNK) yield readAt(p, CHUNK);
    },
  };
}

/** The root directory record of a volume descriptor. */
function rootRecord(vd: Descriptors['pvd']): Rec {
  const r = DIR_RECORD.decode(vd.rootRecord);
  return {
    extent: r.extentLe,
    size: r.dataLengthLe,
    flags: r.flags,
    date: decodeRecordDate(vd.rootRecord, DIR_RECORD.offsetOf('date')) ?? 0,
    id: vd.rootRecord.subarray(DIR_RECORD.size, DIR_RECORD.size + 1),
    su: new Uint8Array(0),
    where: '/',
  };
}

/** The SUSP skip length when the root's "." record starts with SP, else undefined. */
function rockRidgeSkip(dev: BlockDevice, root: Rec): number | undefined {
  if (root.size < DIR_RECORD.size || root.extent * BLOCK + BLOCK > dev.size) return undefined;
  const b = dev.readAt(root.extent * BLOCK, BLOCK);
  const len = b[0]!;
  if (len < DIR_RECORD.size + 1 || b[DIR_RECORD.offsetOf('nameLength')] !== 1) return undefined;
  const su = b.subarray(DIR_RECORD.size + 1, len);
  return spSkip(su);
}

/** Open an ISO 9660 image. `names` forces a hierarchy (default: Rock Ridge, then Joliet, then ECMA-119). */
export function openIso9660(dev: BlockDevice, opts: { names?: Mode } = {}): IsoVolume {
  const { pvd, svd, catalog } = readDescriptors(dev);
  const pvdRoot = rootRecord(pvd);
  const skip = rockRidgeSkip(dev, pvdRoot);
  const mode: Mode = opts.names ?? (skip !== undefined ? 'rockridge' : svd ? 'joliet' : 'iso9660');
  if (mode === 'joliet' && !svd) throw fail('E_FORMAT_ISO_NO_JOLIET', 'the image has no Joliet descriptor', {});
  const root = mode === 'joliet' ? rootRecord(svd!) : pvdRoot;
  // the root's "." record carries its Rock Ridge attributes
  if (mode === 'rockridge') {
    const dot = dev.readAt(root.extent * BLOCK, BLOCK);
    root.su = dot.subarray(DIR_RECORD.size + 1, Math.max(DIR_RECORD.size + 1, dot[0]!));
  }
  const reader = new Reader(dev, mode, mode === 'rockridge' ? (skip ?? 0) : 0);
  reader.run(root);
  const warnings = reader.warnings;
  let elTorito: CatalogEntry[] = [];
  let partitionTable: IsoInfo['partitionTable'];
  try {
    partitionTable = readPartitionTable(dev)?.scheme;
  } catch (e) {
    if (!(e instanceof FormatError)) throw e;
    warnings.push(`system area: ${e.message}`);
  }
  if (catalog !== undefined && (catalog + 1) * BLOCK <= dev.size) {
    try {
      elTorito = readBootCatalog(dev.readAt(catalog * BLOCK, BLOCK));
    } catch (e) {
      if (!(e instanceof FormatError)) throw e;
      warnings.push(e.message);
    }
  }
  const text = (b: Uint8Array) => latin(b);
  return {
    tree: reader.tree,
    warnings,
    info: {
      type: 'iso9660',
      label: mode === 'joliet' && svd ? ucs2Text(svd.volumeId) : text(pvd.volumeId),
      systemId: text(pvd.systemId),
      volumeSetId: text(pvd.volumeSetId),
      publisher: text(pvd.publisherId),
      preparer: text(pvd.preparerId),
      application: text(pvd.applicationId),
      volumeBlocks: pvd.volumeSpaceSizeLe,
      blockSize: pvd.blockSizeLe,
      created: decodeVolumeDate(pvd.created),
      modified: decodeVolumeDate(pvd.modified),
      rockRidge: skip !== undefined,
      joliet: svd !== undefined,
      names: mode,
      elTorito: elTorito.map(
        (e) => `${e.platform} block ${e.block}, ${e.sectors} sectors${e.bootable ? '' : ' (not bootable)'}`,
      ),
      partitionTable,
    },
  };
}
