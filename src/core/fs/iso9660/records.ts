/**
 * Directory extents: the records of one directory ("." and "..", then the
 * entries in identifier order; a file above 4 GiB gets one record per
 * extent) with their Rock Ridge entries. The same code sizes a directory
 * during planning (no bytes kept) and writes it, so both agree by
 * construction.
 */
import { encodeDev, fullMode, type Timespec, type TreeNode } from '../../tree/types.js';
import { encodeRecordDate } from './dates.js';
import type { IsoDir, IsoEntry } from './hierarchy.js';
import { identifierBytes, identifierLength } from './names.js';
import { BLOCK, both, DIR_RECORD, FLAG_DIRECTORY, FLAG_MULTI_EXTENT, MAX_RECORD } from './structs.js';
import {
  CeAllocator,
  erEntry,
  layoutSusp,
  linkEntry,
  nmEntries,
  pnEntry,
  pxEntry,
  reEntry,
  slEntries,
  spEntry,
  tfEntry,
  type SuspLayout,
} from './susp.js';

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
  id: Uint8Array;
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
    const len = recordLength(r.id.length, r.susp.inlineLength);
    if ((this.pos % BLOCK) + len > BLOCK) this.pos = Math.ceil(this.pos / BLOCK) * BLOCK;
    this.areas.push(...r.susp.areas);
    if (this.bytes) {
      const b = this.bytes;
      DIR_RECORD.encode(
        {
          length: len,
          extAttrLength: 0,
          ...both('extent', r.extent),
          ...both('dataLength', r.size),
          flags: r.flags,
          unitSize: 0,
          interleaveGap: 0,
          ...both('volumeSeq', 1),
          nameLength: r.id.length,
        },
        b,
        this.pos,
      );
      encodeRecordDate(r.mtime, b, this.pos + DIR_RECORD.offsetOf('date'));
      b.set(r.id, this.pos + DIR_RECORD.size);
      let o = this.pos + DIR_RECORD.size + r.id.length + (r.id.length % 2 === 0 ? 1 : 0);
      for (const e of r.susp.inline) {
        b.set(e, o);
        o += e.length;
      }
    }
    this.pos += len;
  }

  /** Size of the extent: whole blocks. */
  get size(): number {
    return Math.max(BLOCK, Math.ceil(this.pos / BLOCK) * BLOCK);
  }
}

const DOT = Uint8Array.of(0);
const DOTDOT = Uint8Array.of(1);

/** Rock Ridge entries describing `node` (PX, TF, then PN / SL), without the name. */
function attributes(ctx: RecordContext, node: TreeNode, links: number, dirMode = false): Uint8Array[] {
  const mode = dirMode ? 0o040000 | (node.mode & 0o7777) : fullMode(node);
  const out = [
    pxEntry(mode, links, node.uid, node.gid, ctx.serial(node)),
    tfEntry(ctx.seconds(node.mtime), ctx.seconds(node.atime), ctx.seconds(node.ctime)),
  ];
  if (node.type === 'chardev' || node.type === 'blockdev') out.push(pnEntry(encodeDev(node.major, node.minor)));
  return out;
}

function dirLinks(d: IsoDir): number {
  return 2 + d.subdirs;
}

/** The records of an entry: one, or one per extent for a file above MAX_SECTION bytes. */
function entryRecords(e: IsoEntry, ctx: RecordContext, ce: CeAllocator, joliet: boolean): Rec[] {
  const id = identifierBytes(e.id, joliet);
  const budget = MAX_RECORD - 1 - recordLength(identifierLength(e.id, joliet), 0);
  const mtime = ctx.seconds(e.node.mtime);
  const rr = ctx.rockRidge && !joliet;
  if (e.dir) {
    const placeholder = e.reloc === 'placeholder';
    const susp: Uint8Array[] = [];
    if (rr) {
      susp.push(...attributes(ctx, e.node, e.dir.rrMoved ? 2 : dirLinks(e.dir), true), ...nmEntries(e.name));
      if (placeholder) susp.push(linkEntry('CL', e.dir.extent));
      else if (e.reloc === 'moved') susp.push(reEntry());
    }
    const layout = layoutSusp(susp, budget, ce);
    if (placeholder) return [{ id, extent: 0, size: 0, flags: 0, mtime, susp: layout }];
    return [{ id, extent: e.dir.extent, size: e.dir.size, flags: FLAG_DIRECTORY, mtime, susp: layout }];
  }
  const node = e.node;
  let susp: Uint8Array[] = [];
  if (rr) {
    susp = [...attributes(ctx, node, ctx.links(node)), ...nmEntries(e.name)];
    if (node.type === 'symlink') susp.push(...slEntries(node.target));
  }
  const layout = layoutSusp(susp, budget, ce);
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
 * Lay out (and with `bytes`, write) the extent of `d`. Returns its size in
 * bytes and the continuation areas its records point to.
 */
export function directoryExtent(
  d: IsoDir,
  ctx: RecordContext,
  ce: CeAllocator,
  joliet: boolean,
  bytes?: Uint8Array,
): { size: number; areas: CeArea[] } {
  const x = new Extent(bytes);
  const rr = ctx.rockRidge && !joliet;
  const isRoot = d.parent === d;
  const dotSusp = rr
    ? [...(isRoot ? [spEntry()] : []), ...attributes(ctx, d.node, d.rrMoved ? 2 : dirLinks(d), true)]
    : [];
  const budget = MAX_RECORD - 1 - recordLength(1, 0);
  const dot = layoutSusp(dotSusp, budget, ce, rr && isRoot ? [erEntry()] : []);
  x.add({
    id: DOT,
    extent: d.extent,
    size: d.size,
    flags: FLAG_DIRECTORY,
    mtime: ctx.seconds(d.node.mtime),
    susp: dot,
  });
  const up = d.relocated ? d.treeParent : d.parent;
  const upSusp = rr ? attributes(ctx, up.node, dirLinks(up), true) : [];
  if (rr && d.relocated) upSusp.push(linkEntry('PL', d.treeParent.extent));
  x.add({
    id: DOTDOT,
    extent: d.parent.extent,
    size: d.parent.size,
    flags: FLAG_DIRECTORY,
    mtime: ctx.seconds(d.parent.node.mtime),
    susp: layoutSusp(upSusp, budget, ce),
  });
  for (const e of d.entries) for (const r of entryRecords(e, ctx, ce, joliet)) x.add(r);
  return { size: x.size, areas: x.areas };
}
