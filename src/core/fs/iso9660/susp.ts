/**
 * Rock Ridge system use entries, written: SUSP 1.12 (SP, CE, ER) and RRIP
 * 1.12 (PX, PN, SL, NM, TF, CL, PL, RE), and the split of a record's entries
 * between the directory record and continuation areas.
 */
import { encodeRecordDate } from './dates.js';
import {
  BLOCK,
  both,
  MAX_SUSP_ENTRY,
  NM_CONTINUE,
  RECORD_DATE,
  RR_FLAGGED,
  RR_LINK,
  RR_PN,
  RR_PX,
  RRIP_DESCRIPTOR,
  RRIP_ID,
  RRIP_SOURCE,
  SL_COMPONENT,
  SL_CONTINUE,
  SL_CURRENT,
  SL_PARENT,
  SL_ROOT,
  SP_CHECK,
  SUSP_CE,
  SUSP_ER,
  SUSP_HEADER,
  SUSP_SP,
  TF_ACCESS,
  TF_ATTRIBUTES,
  TF_MODIFY,
} from './structs.js';

const enc = new TextEncoder();
const SIGNATURES = new Map<string, Uint8Array>();
/** The two signature bytes of an entry (made once per signature). */
function sig(s: string): Uint8Array {
  let b = SIGNATURES.get(s);
  if (!b) SIGNATURES.set(s, (b = Uint8Array.of(s.charCodeAt(0), s.charCodeAt(1))));
  return b;
}
const VERSION = 1;

export function spEntry(): Uint8Array {
  return SUSP_SP.encode({
    signature: sig('SP'),
    length: SUSP_SP.size,
    version: VERSION,
    check1: SP_CHECK[0],
    check2: SP_CHECK[1],
    skip: 0,
  });
}

/** ER naming RRIP 1.12 (237 bytes with RRIP_1991A texts, 182 with these). */
export function erEntry(): Uint8Array {
  const [id, des, src] = [RRIP_ID, RRIP_DESCRIPTOR, RRIP_SOURCE].map((t) => enc.encode(t)) as [
    Uint8Array,
    Uint8Array,
    Uint8Array,
  ];
  const out = new Uint8Array(SUSP_ER.size + id.length + des.length + src.length);
  SUSP_ER.encode(
    {
      signature: sig('ER'),
      length: out.length,
      version: VERSION,
      idLength: id.length,
      descriptorLength: des.length,
      sourceLength: src.length,
      extensionVersion: 1,
    },
    out,
  );
  out.set(id, SUSP_ER.size);
  out.set(des, SUSP_ER.size + id.length);
  out.set(src, SUSP_ER.size + id.length + des.length);
  return out;
}

export function ceEntry(block: number, offset: number, size: number): Uint8Array {
  return SUSP_CE.encode({
    signature: sig('CE'),
    length: SUSP_CE.size,
    version: VERSION,
    ...both('block', block),
    ...both('offset', offset),
    ...both('size', size),
  });
}

/** Entries are encoded in one scratch buffer and copied out: one allocation each, one DataView for all. */
const scratch = new Uint8Array(MAX_SUSP_ENTRY);

export function pxEntry(mode: number, links: number, uid: number, gid: number, serial: number): Uint8Array {
  return RR_PX.encode(
    {
      signature: sig('PX'),
      length: RR_PX.size,
      version: VERSION,
      modeLe: mode,
      modeBe: mode,
      linksLe: links,
      linksBe: links,
      uidLe: uid,
      uidBe: uid,
      gidLe: gid,
      gidBe: gid,
      serialLe: serial,
      serialBe: serial,
    },
    scratch,
  ).slice(0, RR_PX.size);
}

/**
 * PN as libisofs writes it: high 0, low the Linux dev_t encoding. xorriso
 * decodes it exactly; the Linux kernel too while the minor is below 256.
 */
export function pnEntry(dev: number): Uint8Array {
  return RR_PN.encode({
    signature: sig('PN'),
    length: RR_PN.size,
    version: VERSION,
    ...both('high', 0),
    ...both('low', dev),
  });
}

/** TF with modify, access and attribute-change times (whole seconds). */
export function tfEntry(mtime: number, atime: number, ctime: number): Uint8Array {
  const out = new Uint8Array(RR_FLAGGED.size + 3 * RECORD_DATE.size);
  RR_FLAGGED.encode(
    { signature: sig('TF'), length: out.length, version: VERSION, flags: TF_MODIFY | TF_ACCESS | TF_ATTRIBUTES },
    out,
  );
  encodeRecordDate(mtime, out, RR_FLAGGED.size);
  encodeRecordDate(atime, out, RR_FLAGGED.size + RECORD_DATE.size);
  encodeRecordDate(ctime, out, RR_FLAGGED.size + 2 * RECORD_DATE.size);
  return out;
}

/** CL (child link) or PL (parent link) to a directory's first block. */
export function linkEntry(kind: 'CL' | 'PL', block: number): Uint8Array {
  return RR_LINK.encode({
    signature: sig(kind),
    length: RR_LINK.size,
    version: VERSION,
    blockLe: block,
    blockBe: block,
  });
}

/** RE: this directory is relocated (Rock Ridge readers skip it here and find it through its CL). */
export function reEntry(): Uint8Array {
  return SUSP_HEADER.encode({ signature: sig('RE'), length: SUSP_HEADER.size, version: VERSION });
}

const MAX_PAYLOAD = MAX_SUSP_ENTRY - RR_FLAGGED.size;

/** UTF-8 length of a string, without encoding it. */
export function utf8Length(s: string): number {
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x80) n += 1;
    else if (c < 0x800) n += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < s.length) {
      const d = s.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        n += 4;
        i++;
      } else n += 3;
    } else n += 3;
  }
  return n;
}

/** Lengths of the NM entries nmEntries() makes for `name`. */
export function nmLengths(name: string): number[] {
  const total = utf8Length(name);
  const out: number[] = [];
  for (let off = 0; off === 0 || off < total; off += MAX_PAYLOAD)
    out.push(RR_FLAGGED.size + Math.min(MAX_PAYLOAD, total - off));
  return out;
}

/** NM entries for a name: UTF-8, split with CONTINUE when longer than one entry holds. */
export function nmEntries(name: string): Uint8Array[] {
  const b = enc.encode(name);
  const out: Uint8Array[] = [];
  for (let off = 0; off === 0 || off < b.length; off += MAX_PAYLOAD) {
    const piece = b.subarray(off, off + MAX_PAYLOAD);
    const more = off + MAX_PAYLOAD < b.length;
    const e = new Uint8Array(RR_FLAGGED.size + piece.length);
    RR_FLAGGED.encode({ signature: sig('NM'), length: e.length, version: VERSION, flags: more ? NM_CONTINUE : 0 }, e);
    e.set(piece, RR_FLAGGED.size);
    out.push(e);
  }
  return out;
}

/** Component records of a symlink target: ROOT for a leading '/', CURRENT and PARENT for '.' and '..'. */
function slComponents(target: string): Array<{ flags: number; bytes: Uint8Array }> {
  const comps: Array<{ flags: number; bytes: Uint8Array }> = [];
  let rest = target;
  if (rest.startsWith('/')) {
    comps.push({ flags: SL_ROOT, bytes: new Uint8Array(0) });
    rest = rest.slice(1);
    if (rest === '') return comps;
  }
  for (const c of rest.split('/')) {
    if (c === '.') comps.push({ flags: SL_CURRENT, bytes: new Uint8Array(0) });
    else if (c === '..') comps.push({ flags: SL_PARENT, bytes: new Uint8Array(0) });
    else comps.push({ flags: 0, bytes: enc.encode(c) });
  }
  return comps;
}

/**
 * SL entries for a target. A component record holds at most 255 bytes and
 * an entry at most 250 bytes of records: long components are split with
 * the component CONTINUE flag, and every entry but the last has the entry
 * CONTINUE flag.
 */
export function slEntries(target: string): Uint8Array[] {
  const entries: Uint8Array[][] = [[]];
  let room = MAX_PAYLOAD;
  for (const c of slComponents(target)) {
    let off = 0;
    do {
      const need = SL_COMPONENT.size + (off < c.bytes.length ? 1 : 0);
      if (room < need) {
        entries.push([]);
        room = MAX_PAYLOAD;
      }
      const take = Math.min(c.bytes.length - off, room - SL_COMPONENT.size);
      const more = off + take < c.bytes.length;
      const rec = new Uint8Array(SL_COMPONENT.size + take);
      SL_COMPONENT.encode({ flags: c.flags | (more ? SL_CONTINUE : 0), length: take }, rec);
      rec.set(c.bytes.subarray(off, off + take), SL_COMPONENT.size);
      entries[entries.length - 1]!.push(rec);
      room -= rec.length;
      off += take;
    } while (off < c.bytes.length);
  }
  return entries.map((recs, i) => {
    const len = recs.reduce((n, r) => n + r.length, RR_FLAGGED.size);
    const e = new Uint8Array(len);
    const flags = i < entries.length - 1 ? SL_CONTINUE : 0;
    RR_FLAGGED.encode({ signature: sig('SL'), length: len, version: VERSION, flags }, e);
    let o = RR_FLAGGED.size;
    for (const r of recs) {
      e.set(r, o);
      o += r.length;
    }
    return e;
  });
}

/** Lengths of the SL entries slEntries() makes for `target` (the same packing, no bytes). */
export function slLengths(target: string): number[] {
  const lens: number[] = [];
  let room = MAX_PAYLOAD;
  let len = RR_FLAGGED.size;
  const comps = target.startsWith('/')
    ? ['', ...(target === '/' ? [] : target.slice(1).split('/'))]
    : target.split('/');
  comps.forEach((c, i) => {
    const bytes = (target.startsWith('/') && i === 0) || c === '.' || c === '..' ? 0 : utf8Length(c);
    let off = 0;
    do {
      if (room < SL_COMPONENT.size + (off < bytes ? 1 : 0)) {
        lens.push(len);
        room = MAX_PAYLOAD;
        len = RR_FLAGGED.size;
      }
      const take = Math.min(bytes - off, room - SL_COMPONENT.size);
      room -= SL_COMPONENT.size + take;
      len += SL_COMPONENT.size + take;
      off += take;
    } while (off < bytes);
  });
  lens.push(len);
  return lens;
}

/** Where continuation areas go: packed into blocks, never across a block boundary. */
export class CeAllocator {
  /** Blocks used so far. */
  blocks = 0;
  private used = BLOCK;
  constructor(readonly firstBlock: number) {}
  alloc(size: number): { block: number; offset: number } {
    if (this.used + size > BLOCK) {
      this.blocks++;
      this.used = 0;
    }
    const at = { block: this.firstBlock + this.blocks - 1, offset: this.used };
    this.used += size;
    return at;
  }
}

/** A system use entry, or (when only sizing) its length. */
export type SuspItem = Uint8Array | number;
const lenOf = (x: SuspItem) => (typeof x === 'number' ? x : x.length);
const sum = (xs: SuspItem[]) => xs.reduce<number>((n, x) => n + lenOf(x), 0);

export interface SuspLayout {
  /** Entries inside the directory record (ending with a CE when there is more). */
  inline: SuspItem[];
  inlineLength: number;
  /** Continuation areas to write: block, offset and bytes (each chained to the next by a CE); no bytes when sizing. */
  areas: Array<{ block: number; offset: number; bytes?: Uint8Array }>;
}

/**
 * Split `entries` between the record (`budget` bytes) and continuation
 * areas from `ce`. `tail` entries (ER) always go to a continuation area.
 * Given lengths instead of entries, it only sizes (the same split).
 */
export function layoutSusp(entries: SuspItem[], budget: number, ce: CeAllocator, tail: SuspItem[] = []): SuspLayout {
  if (tail.length === 0 && sum(entries) <= budget) return { inline: entries, inlineLength: sum(entries), areas: [] };
  const inline: SuspItem[] = [];
  let used = 0;
  let i = 0;
  for (; i < entries.length && used + lenOf(entries[i]!) + SUSP_CE.size <= budget; i++) {
    inline.push(entries[i]!);
    used += lenOf(entries[i]!);
  }
  const rest = [...entries.slice(i), ...tail];
  // pieces of whole entries, each fitting a block with room for the CE that chains it to the next
  const pieces: SuspItem[][] = [];
  let cur: SuspItem[] = [];
  for (const e of rest) {
    if (cur.length && sum(cur) + lenOf(e) + SUSP_CE.size > BLOCK) {
      pieces.push(cur);
      cur = [];
    }
    cur.push(e);
  }
  pieces.push(cur);
  const sizes = pieces.map((p, k) => sum(p) + (k < pieces.length - 1 ? SUSP_CE.size : 0));
  const places = sizes.map((s) => ce.alloc(s));
  const sizing = rest.some((e) => typeof e === 'number');
  const areas = pieces.map((p, k) => {
    if (sizing) return places[k]!;
    const bytes = new Uint8Array(sizes[k]!);
    let o = 0;
    for (const e of p as Uint8Array[]) {
      bytes.set(e, o);
      o += e.length;
    }
    if (k < pieces.length - 1) bytes.set(ceEntry(places[k + 1]!.block, places[k + 1]!.offset, sizes[k + 1]!), o);
    return { ...places[k]!, bytes };
  });
  inline.push(sizing ? SUSP_CE.size : ceEntry(places[0]!.block, places[0]!.offset, sizes[0]!));
  return { inline, inlineLength: used + SUSP_CE.size, areas };
}
