/**
 * Directory extents: the records of one directory ("." and "..", then the
 * entries in identifier order; a file above 4 GiB gets one record per
 * extent) with their Rock Ridge entries. The same code sizes a directory
 * during planning (lengths only, no bytes made) and writes it, so both
 * agree by construction.
 */
import { encodeDev, fullMode, type Timespec, type TreeNode } from '../../tree/types.js';
import { encodeRecordDate } from './dates.js';
import type { IsoDir, IsoEntry } from './hierarchy.js';
import { identifierBytes, identifierLength } from './names.js';
import {
  BLOCK,
  DIR_RECORD,
  FLAG_DIRECTORY,
  FLAG_MULTI_EXTENT,
  MAX_RECORD,
  RECORD_DATE,
  RR_FLAGGED,
  RR_LINK,
  RR_PN,
  RR_PX,
  SUSP_HEADER,
  SUSP_SP,
} from './structs.js';
import {
  CeAllocator,
  erEntry,
  layoutSusp,
  linkEntry,
  nmEntries,
  nmLengths,
  pnEntry,
  pxEntry,
  reEntry,
  slEntries,
  slLengths,
  spEntry,
  tfEntry,
  type SuspItem,
  type SuspLayout,
} from './susp.js';

/** Makes the system use entries, or (when sizing) says how long they are. */
interface Maker {
  px(mode: number, links: number, uid: number, gid: number, serial: number): SuspItem;
  tf(mtime: number, atime: number, ctime: number): SuspItem;
  pn(dev: number): SuspItem;
  nm(name: string): SuspItem[];
  sl(target: string): SuspItem[];
  link(kind: 'CL' | 'PL', block: number): SuspItem;
  re(): SuspItem;
  sp(): SuspItem;
  er(): SuspItem;
}
const WRITE: Maker = {
  px: pxEntry,
  tf: tfEntry,
  pn: pnEntry,
  nm: nmEntries,
  sl: slEntries,
  link: linkEntry,
  re: reEntry,
  sp: spEntry,
  er: erEntry,
};
const ER_LENGTH = erEntry().length;
const SIZE: Maker = {
  px: () => RR_PX.size,
  tf: () => RR_FLAGGED.size + 3 * RECORD_DATE.size,
  pn: () => RR_PN.size,
  nm: nmLengths,
  sl: slLengths,
  link: () => RR_LINK.size,
  re: () => SUSP_HEADER.size,
  sp: () => SUSP_SP.size,
  er: () => ER_LENGTH,
};

/** Largest extent of a multi-extent file: 4 GiB less one block, as xorriso writes. */
export const MAX_SECTION = 0xfffff800;

export interface RecordContext {
  rockRidge: boolean;
  /** Rock Ridge file serial number of a node. */
  serial(node: TreeNode): number;
  /** Names of a non-directory node (its link count). */
  links(node: TreeNode): number;
  /** First block of a regular file's data (0 for an empty file). */
  extent(node: TreeNode): number;
  /** Seconds of a time as recorded (clamped to what a 7-byte date holds). */
  seconds(t: Timespec): number;
}

/** Continuation area bytes to write at a block and offset. */
export type CeArea = SuspLayout['areas'][number];

interface Rec {
  /** The identifier: its bytes when writing, its length when sizing. */
  id: Uint8Array | number;
  extent: number;
  size: number;
  flags: number;
  mtime: number;
  susp: SuspLayout;
}

/** Byte length of a record with this identifier and system use length (kept even). */
function recordLength(idLen: number, suspLen: number): number {
  const n = DIR_RECORD.size + idLen + (idLen % 2 === 0 ? 1 : 0) + suspLen;
  return n + (n % 2);
}

/** Accumulates the records of one directory extent; with `bytes`, writes them. */
class Extent {
  pos = 0;
  readonly areas: CeArea[] = [];
  constructor(readonly bytes?: Uint8Array) {}

  add(r: Rec): void {
    const idLen = typeof r.id === 'number' ? r.id : r.id.length;
    const len = recordLength(idLen, r.susp.inlineLength);
    if ((this.pos % BLOCK) + len > BLOCK) this.pos = Math.ceil(this.pos / BLOCK) * BLOCK;
    this.areas.push(...r.susp.areas);
    if (this.bytes && typeof r.id !== 'number') {
      const b = this.bytes;
      DIR_RECORD.encode(
        {
          length: len,
          extentLe: r.extent,
          extentBe: r.extent,
          dataLengthLe: r.size,
          dataLengthBe: r.size,
          flags: r.flags,
          volumeSeqLe: 1,
          volumeSeqBe: 1,
          nameLength: idLen,
        },
        b,
        this.pos,
      );
      encodeRecordDate(r.mtime, b, this.pos + DATE_OFFSET);
      b.set(r.id, this.pos + DIR_RECORD.size);
      let o = this.pos + DIR_RECORD.size + idLen + (idLen % 2 === 0 ? 1 : 0);
      for (const e of r.susp.inline as Uint8Array[]) {
        b.set(e, o);
        o += e.length;
      }
    }
    this.pos += len;
  }

  /** Account for a record of `len` bytes (sizing: nothing written). */
  skip(len: number, count = 1): void {
    for (let i = 0; i < count; i++) {
      if ((this.pos % BLOCK) + len > BLOCK) this.pos = Math.ceil(this.pos / BLOCK) * BLOCK;
      this.pos += len;
    }
  }

  /** Size of the extent: whole blocks. */
  get size(): number {
    return Math.max(BLOCK, Math.ceil(this.pos / BLOCK) * BLOCK);
  }
}

const DATE_OFFSET = DIR_RECORD.offsetOf('date');
const DOT = Uint8Array.of(0);
const DOTDOT = Uint8Array.of(1);

/** Rock Ridge entries describing `node` (PX, TF, then PN), without the name. */
function attributes(m: Maker, ctx: RecordContext, node: TreeNode, links: number, dirMode = false): SuspItem[] {
  const mode = dirMode ? 0o040000 | (node.mode & 0o7777) : fullMode(node);
  const out = [
    m.px(mode, links, node.uid, node.gid, ctx.serial(node)),
    m.tf(ctx.seconds(node.mtime), ctx.seconds(node.atime), ctx.seconds(node.ctime)),
  ];
  if (node.type === 'chardev' || node.type === 'blockdev') out.push(m.pn(encodeDev(node.major, node.minor)));
  return out;
}

function dirLinks(d: IsoDir): number {
  return 2 + d.subdirs;
}

/** Rock Ridge entries of an entry's record. */
function entrySusp(m: Maker, e: IsoEntry, ctx: RecordContext): SuspItem[] {
  if (e.dir) {
    const susp = [...attributes(m, ctx, e.node, e.dir.rrMoved ? 2 : dirLinks(e.dir), true), ...m.nm(e.name)];
    if (e.reloc === 'placeholder') susp.push(m.link('CL', e.dir.extent));
    else if (e.reloc === 'moved') susp.push(m.re());
    return susp;
  }
  const susp = [...attributes(m, ctx, e.node, ctx.links(e.node)), ...m.nm(e.name)];
  if (e.node.type === 'symlink') susp.push(...m.sl(e.node.target));
  return susp;
}

const NO_SUSP: SuspLayout = { inline: [], inlineLength: 0, areas: [] };

/** Bytes of an entry's Rock Ridge entries, computed without making them (sizing). */
function suspLength(e: IsoEntry): number {
  const node = e.node;
  let n = SIZE.px(0, 0, 0, 0, 0) as number;
  n += SIZE.tf(0, 0, 0) as number;
  for (const x of nmLengths(e.name)) n += x;
  if (e.dir) return n + (e.reloc === 'placeholder' ? RR_LINK.size : e.reloc === 'moved' ? SUSP_HEADER.size : 0);
  if (node.type === 'chardev' || node.type === 'blockdev') n += RR_PN.size;
  if (node.type === 'symlink') for (const x of slLengths(node.target)) n += x;
  return n;
}

/** The split of an entry's Rock Ridge entries between its record and continuation areas. */
function recordSusp(m: Maker, e: IsoEntry, ctx: RecordContext, budget: number, ce: CeAllocator): SuspLayout {
  if (m === SIZE) {
    // most entries fit their record: their length is all the layout needs
    const n = suspLength(e);
    if (n <= budget) return { inline: [], inlineLength: n, areas: [] };
  }
  return layoutSusp(entrySusp(m, e, ctx), budget, ce);
}

/** The records of an entry: one, or one per extent for a file above MAX_SECTION bytes. */
function entryRecords(m: Maker, e: IsoEntry, ctx: RecordContext, ce: CeAllocator, joliet: boolean): Rec[] {
  const idLen = identifierLength(e.id, joliet);
  const id = m === WRITE ? identifierBytes(e.id, joliet) : idLen;
  const budget = MAX_RECORD - 1 - recordLength(idLen, 0);
  const mtime = ctx.seconds(e.node.mtime);
  const layout = ctx.rockRidge && !joliet ? recordSusp(m, e, ctx, budget, ce) : NO_SUSP;
  if (e.dir) {
    if (e.reloc === 'placeholder') return [{ id, extent: 0, size: 0, flags: 0, mtime, susp: layout }];
    return [{ id, extent: e.dir.extent, size: e.dir.size, flags: FLAG_DIRECTORY, mtime, susp: layout }];
  }
  const node = e.node;
  const size = node.type === 'file' ? node.content.size : 0;
  const extent = node.type === 'file' ? ctx.extent(node) : 0;
  if (size <= MAX_SECTION) return [{ id, extent, size, flags: 0, mtime, susp: layout }];
  const recs: Rec[] = [];
  for (let off = 0; off < size; off += MAX_SECTION) {
    const last = off + MAX_SECTION >= size;
    recs.push({
      id,
      extent: extent + off / BLOCK,
      size: Math.min(MAX_SECTION, size - off),
      flags: last ? 0 : FLAG_MULTI_EXTENT,
      mtime,
      // every record carries the Rock Ridge entries (Linux names the file from the last one)
      susp: off === 0 ? layout : { ...layout, areas: [] },
    });
  }
  return recs;
}

/**
 * Lay out the extent of `d` (and with `bytes`, write it). Returns its size
 * in bytes and the continuation areas its records point to.
 */
export function directoryExtent(
  d: IsoDir,
  ctx: RecordContext,
  ce: CeAllocator,
  joliet: boolean,
  bytes?: Uint8Array,
): { size: number; areas: CeArea[] } {
  const m = bytes ? WRITE : SIZE;
  const x = new Extent(bytes);
  const rr = ctx.rockRidge && !joliet;
  const isRoot = d.parent === d;
  const dotSusp = rr
    ? [...(isRoot ? [m.sp()] : []), ...attributes(m, ctx, d.node, d.rrMoved ? 2 : dirLinks(d), true)]
    : [];
  const budget = MAX_RECORD - 1 - recordLength(1, 0);
  const dot = layoutSusp(dotSusp, budget, ce, rr && isRoot ? [m.er()] : []);
  const self = { id: bytes ? DOT : 1, flags: FLAG_DIRECTORY, mtime: ctx.seconds(d.node.mtime) };
  x.add({ ...self, extent: d.extent, size: d.size, susp: dot });
  const up = d.relocated ? d.treeParent : d.parent;
  const upSusp = rr ? attributes(m, ctx, up.node, dirLinks(up), true) : [];
  if (rr && d.relocated) upSusp.push(m.link('PL', d.treeParent.extent));
  x.add({
    id: bytes ? DOTDOT : 1,
    extent: d.parent.extent,
    size: d.parent.size,
    flags: FLAG_DIRECTORY,
    mtime: ctx.seconds(d.parent.node.mtime),
    susp: layoutSusp(upSusp, budget, ce),
  });
  for (const e of d.entries) {
    if (!bytes && sizeQuickly(x, e, rr, joliet)) continue;
    for (const r of entryRecords(m, e, ctx, ce, joliet)) x.add(r);
  }
  return { size: x.size, areas: x.areas };
}

/**
 * Sizing an entry whose Rock Ridge entries fit its record (nearly all):
 * its records' lengths by arithmetic. False when it needs a continuation
 * area, which the general path lays out.
 */
function sizeQuickly(x: Extent, e: IsoEntry, rr: boolean, joliet: boolean): boolean {
  const idLen = identifierLength(e.id, joliet);
  const susp = rr ? suspLength(e) : 0;
  if (susp > MAX_RECORD - 1 - recordLength(idLen, 0)) return false;
  const size = e.node.type === 'file' && !e.dir ? e.node.content.size : 0;
  x.skip(recordLength(idLen, susp), size > MAX_SECTION ? Math.ceil(size / MAX_SECTION) : 1);
  return true;
}
