/**
 * Rock Ridge system use entries, read: the entries of one directory record
 * (following CE continuation areas, bounded), decoded into what the tree
 * model needs. Unknown entries are skipped; a malformed entry ends the area
 * as the Linux kernel does.
 */
import { FormatError } from '../../errors.js';
import type { BlockDevice } from '../../io/device.js';
import { decodeRecordDate } from './dates.js';
import {
  BLOCK,
  NM_CURRENT,
  NM_PARENT,
  RECORD_DATE,
  RR_FLAGGED,
  RR_LINK,
  RR_PN,
  RR_PX,
  RR_PX_OLD_LENGTH,
  SL_COMPONENT,
  SL_CONTINUE,
  SL_CURRENT,
  SL_PARENT,
  SL_ROOT,
  SP_CHECK,
  SUSP_CE,
  SUSP_SP,
  TF_ACCESS,
  TF_ATTRIBUTES,
  TF_LONG_FORM,
  TF_MODIFY,
} from './structs.js';

/** Continuation areas followed per record, and their total bytes, at most. */
const MAX_CE_HOPS = 32;
const MAX_CE_BYTES = 64 << 10;

export interface RockRidge {
  mode?: number;
  links?: number;
  uid?: number;
  gid?: number;
  serial?: number;
  dev?: { high: number; low: number };
  name?: string;
  /** '.' or '..' (NM CURRENT/PARENT): the record is not a name of its own. */
  selfName?: boolean;
  target?: string;
  mtime?: number;
  atime?: number;
  ctime?: number;
  childLink?: number;
  parentLink?: number;
  relocated?: boolean;
  /** zisofs-compressed content (ZF): not decompressed here. */
  zisofs?: boolean;
  /** An ER entry naming an extension (the root's "." record). */
  extensions?: string[];
  /** SP found: the SUSP skip length. */
  spSkip?: number;
}

const dec = new TextDecoder();
const sigOf = (b: Uint8Array, o: number) => String.fromCharCode(b[o]!, b[o + 1]!);

/** Whether a system use area begins with an SP entry (SUSP is in use); returns its skip length. */
export function spSkip(su: Uint8Array): number | undefined {
  if (su.length < SUSP_SP.size || sigOf(su, 0) !== 'SP') return undefined;
  const sp = SUSP_SP.decode(su);
  return sp.length >= SUSP_SP.size && sp.check1 === SP_CHECK[0] && sp.check2 === SP_CHECK[1] ? sp.skip : undefined;
}

interface SlState {
  target: string;
  started: boolean;
  continued: boolean;
  afterRoot: boolean;
}

function slComponents(e: Uint8Array, st: SlState): void {
  let o = RR_FLAGGED.size;
  while (o + SL_COMPONENT.size <= e.length) {
    const c = SL_COMPONENT.decode(e, o);
    const end = o + SL_COMPONENT.size + c.length;
    if (end > e.length) break;
    let text: string;
    if (c.flags & SL_ROOT) {
      st.target += '/';
      st.started = true;
      st.afterRoot = true;
      st.continued = false;
      o = end;
      continue;
    }
    if (c.flags & SL_CURRENT) text = '.';
    else if (c.flags & SL_PARENT) text = '..';
    else text = dec.decode(e.subarray(o + SL_COMPONENT.size, end));
    if (st.started && !st.continued && !st.afterRoot) st.target += '/';
    st.target += text;
    st.started = true;
    st.afterRoot = false;
    st.continued = (c.flags & SL_CONTINUE) !== 0;
    o = end;
  }
}

function timestamps(e: Uint8Array, rr: RockRidge): void {
  const flags = e[RR_FLAGGED.offsetOf('flags')]!;
  const long = (flags & TF_LONG_FORM) !== 0;
  const size = long ? 17 : RECORD_DATE.size;
  let o = RR_FLAGGED.size;
  for (let bit = 1; bit < TF_LONG_FORM; bit <<= 1) {
    if (!(flags & bit)) continue;
    if (o + size > e.length) return;
    // long-form dates are rare (they carry hundredths); their seconds are what the tree keeps
    const sec = long ? undefined : decodeRecordDate(e, o);
    if (sec !== undefined) {
      if (bit === TF_MODIFY) rr.mtime = sec;
      else if (bit === TF_ACCESS) rr.atime = sec;
      else if (bit === TF_ATTRIBUTES) rr.ctime = sec;
    }
    o += size;
  }
}

/** Decode one entry into `rr`. */
function entry(e: Uint8Array, sig: string, rr: RockRidge, sl: SlState, nm: { parts: string[] }) {
  switch (sig) {
    case 'PX':
      if (e.length >= RR_PX_OLD_LENGTH) {
        // RRIP 1.10 PX has no serial number: decode a copy padded to the 1.12 length
        const b = new Uint8Array(RR_PX.size);
        b.set(e.subarray(0, RR_PX.size));
        const v = RR_PX.decode(b);
        Object.assign(rr, { mode: v.modeLe, links: v.linksLe, uid: v.uidLe, gid: v.gidLe });
        if (e.length >= RR_PX.size) rr.serial = v.serialLe;
      }
      break;
    case 'PN':
      if (e.length >= RR_PN.size) {
        const v = RR_PN.decode(e);
        rr.dev = { high: v.highLe, low: v.lowLe };
      }
      break;
    case 'NM': {
      const flags = e[RR_FLAGGED.offsetOf('flags')] ?? 0;
      if (flags & (NM_CURRENT | NM_PARENT)) rr.selfName = true;
      else nm.parts.push(dec.decode(e.subarray(RR_FLAGGED.size)));
      break;
    }
    case 'SL':
      slComponents(e, sl);
      rr.target = sl.target;
      break;
    case 'TF':
      timestamps(e, rr);
      break;
    case 'CL':
    case 'PL':
      if (e.length >= RR_LINK.size) rr[sig === 'CL' ? 'childLink' : 'parentLink'] = RR_LINK.decode(e).blockLe;
      break;
    case 'RE':
      rr.relocated = true;
      break;
    case 'ZF':
      rr.zisofs = true;
      break;
    case 'ER': {
      const idLen = e[4] ?? 0;
      rr.extensions = [...(rr.extensions ?? []), String.fromCharCode(...e.subarray(8, 8 + idLen))];
      break;
    }
  }
}

/**
 * The Rock Ridge facts of a record's system use area `su` (after `skip`
 * bytes), following continuation areas on `dev`.
 */
export function readRockRidge(dev: BlockDevice, su: Uint8Array, skip: number, where: string): RockRidge {
  const rr: RockRidge = {};
  const sl: SlState = { target: '', started: false, continued: false, afterRoot: false };
  const nm = { parts: [] as string[] };
  let area = su.subarray(Math.min(skip, su.length));
  let hops = 0;
  let ceBytes = 0;
  for (;;) {
    let next: { block: number; offset: number; size: number } | undefined;
    for (let o = 0; o + 4 <= area.length;) {
      const len = area[o + 2]!;
      if (len < 4 || o + len > area.length) break;
      const e = area.subarray(o, o + len);
      const sig = sigOf(e, 0);
      if (sig === 'ST') break;
      if (sig === 'CE' && len >= SUSP_CE.size) {
        const c = SUSP_CE.decode(e);
        next = { block: c.blockLe, offset: c.offsetLe, size: c.sizeLe };
      } else if (sig === 'SP' && o === 0) rr.spSkip = spSkip(e);
      else entry(e, sig, rr, sl, nm);
      o += len;
    }
    if (!next) break;
    if (++hops > MAX_CE_HOPS || (ceBytes += next.size) > MAX_CE_BYTES)
      throw new FormatError(
        'E_FORMAT_ISO_SUSP',
        `ISO 9660: ${where}: too many or too large continuation areas (a loop?)`,
        {
          format: 'iso9660',
          structure: 'CE',
          path: where,
        },
      );
    const at = next.block * BLOCK + next.offset;
    if (next.offset >= BLOCK || !Number.isSafeInteger(at) || at + next.size > dev.size)
      throw new FormatError('E_FORMAT_ISO_SUSP', `ISO 9660: ${where}: continuation area outside the image`, {
        format: 'iso9660',
        structure: 'CE',
        path: where,
        offset: at,
      });
    area = dev.readAt(at, next.size);
  }
  if (nm.parts.length) rr.name = nm.parts.join('');
  return rr;
}

/** Decode a PN device number: libisofs writes the dev_t in `low` (high 0), RRIP 1.12 major/minor in high/low. */
export function decodePn(dev: { high: number; low: number }): { major: number; minor: number } {
  if (dev.high === 0) {
    const d = dev.low >>> 0;
    return { major: (d >>> 8) & 0xfff, minor: (d & 0xff) | ((d >>> 12) & 0xfff00) };
  }
  return { major: dev.high & 0xfff, minor: dev.low & 0xfffff };
}
