/**
 * qcow2 metadata, written once the data is in place. Data occupies host
 * clusters 1..D-1 (cluster 0 is the header); after it come the L2 tables,
 * the L1 table, the refcount table and the refcount blocks. Every cluster
 * of the file is counted, the tables included (their own count depends on
 * the file size, so the layout is solved by iteration), and bit 63
 * ("copied") is set wherever the refcount is exactly one, as `qemu-img
 * check` expects. Shared by the converter and the allocate-on-write device.
 */
import { CapacityError } from '../../errors.js';
import type { ContainerTarget } from '../types.js';
import type { UnitMap } from '../units.js';
import {
  COMPRESSION_ZLIB,
  CRYPT_NONE,
  EXT_END,
  EXT_FEATURE_NAMES,
  FEATURE_NAMES,
  OFLAG_COMPRESSED_HI,
  OFLAG_COPIED_HI,
  QCOW2_EXTENSION,
  QCOW2_FEATURE_NAME,
  QCOW2_HEADER,
  QCOW2_VERSION,
  QCOW_MAGIC,
  REFCOUNT_ORDER,
} from './structs.js';

const TWO32 = 2 ** 32;

/** Reference counts of the host clusters that hold data (cluster 0, the header, counts 1). */
export class HostRefs {
  private counts = new Uint16Array(1024);
  /** Clusters [0, end) are in use. */
  end = 1;
  constructor() {
    this.counts[0] = 1;
  }
  /** Count one more reference to each of clusters [first, last]. */
  add(first: number, last: number): void {
    if (last >= this.counts.length) {
      const next = new Uint16Array(Math.max(last + 1, this.counts.length * 2));
      next.set(this.counts);
      this.counts = next;
    }
    for (let c = first; c <= last; c++) this.counts[c]!++;
    this.end = Math.max(this.end, last + 1);
  }
  get(c: number): number {
    return c < this.end ? this.counts[c]! : 0;
  }
}

export interface Qcow2Data {
  clusterBits: number;
  size: number;
  /** Guest cluster -> host byte offset; aux = additional sectors + 1 for compressed clusters. */
  map: UnitMap;
  refs: HostRefs;
}

export interface Qcow2Layout {
  fileSize: number;
  l1Offset: number;
  l1Size: number;
  refcountTableOffset: number;
  refcountTableClusters: number;
  refcountBlocks: number;
  l2Tables: number;
}

function setEntry(view: DataView, at: number, hi: number, lo: number): void {
  view.setUint32(at, hi >>> 0, false);
  view.setUint32(at + 4, lo >>> 0, false);
}

/** The L2 entry for a guest cluster stored at `host` (compressed when `aux` > 0). */
export function l2Entry(host: number, aux: number, clusterBits: number): [hi: number, lo: number] {
  if (!aux) return [(Math.floor(host / TWO32) | OFLAG_COPIED_HI) >>> 0, host >>> 0];
  const x = 70 - clusterBits; // offset bits below x, sector count from bit x
  if (host >= 2 ** x)
    throw new CapacityError(
      'E_LIMIT_QCOW2_OFFSET',
      `compressed cluster at byte ${host} is past what a ${1 << clusterBits}-byte-cluster qcow2 can address`,
      { offset: host },
    );
  return [(Math.floor(host / TWO32) | ((aux - 1) << (x - 32)) | OFLAG_COMPRESSED_HI) >>> 0, host >>> 0];
}

/** Solve the table layout for data in host clusters [0, refs.end). */
export function planQcow2(d: Qcow2Data): Qcow2Layout & { l2Index: number[] } {
  const C = 2 ** d.clusterBits;
  const l2Entries = C / 8;
  const units = Math.ceil(d.size / C);
  const l1Size = Math.ceil(units / l2Entries);
  const l2Index: number[] = [];
  for (let i = 0; i < l1Size; i++) if (d.map.any(i * l2Entries, Math.min(units, (i + 1) * l2Entries))) l2Index.push(i);
  const D = Math.max(1, d.refs.end);
  const l1Clusters = Math.max(1, Math.ceil((l1Size * 8) / C));
  const perBlock = (C * 8) / (1 << REFCOUNT_ORDER);
  let rb = 1;
  let rt = 1;
  for (;;) {
    const total = D + l2Index.length + l1Clusters + rt + rb;
    const rb2 = Math.ceil(total / perBlock);
    const rt2 = Math.ceil((rb2 * 8) / C);
    if (rb2 <= rb && rt2 <= rt) break;
    rb = Math.max(rb, rb2);
    rt = Math.max(rt, rt2);
  }
  const l1Offset = (D + l2Index.length) * C;
  const refcountTableOffset = l1Offset + l1Clusters * C;
  const fileSize = refcountTableOffset + (rt + rb) * C;
  return {
    fileSize,
    l1Offset,
    l1Size,
    refcountTableOffset,
    refcountTableClusters: rt,
    refcountBlocks: rb,
    l2Tables: l2Index.length,
    l2Index,
  };
}

/** Write L2 tables, L1, refcount table and blocks, and the header. Returns the layout. */
export function writeQcow2Metadata(target: ContainerTarget, d: Qcow2Data): Qcow2Layout {
  const C = 2 ** d.clusterBits;
  const l2Entries = C / 8;
  const plan = planQcow2(d);
  const D = Math.max(1, d.refs.end);
  // L2 tables, then L1
  const l1 = new Uint8Array(Math.max(1, Math.ceil((plan.l1Size * 8) / C)) * C);
  const l1v = new DataView(l1.buffer);
  const table = new Uint8Array(C);
  const tv = new DataView(table.buffer);
  plan.l2Index.forEach((i, k) => {
    table.fill(0);
    for (const [u, host] of d.map.entries(i * l2Entries, (i + 1) * l2Entries)) {
      const [hi, lo] = l2Entry(host, d.map.getAux(u), d.clusterBits);
      setEntry(tv, (u - i * l2Entries) * 8, hi, lo);
    }
    const at = (D + k) * C;
    target.writeAt(at, table);
    setEntry(l1v, i * 8, Math.floor(at / TWO32) | OFLAG_COPIED_HI, at >>> 0);
  });
  target.writeAt(plan.l1Offset, l1);
  writeRefcounts(target, d, plan, C);
  target.writeAt(0, encodeHeader(d, plan));
  return plan;
}

function writeRefcounts(target: ContainerTarget, d: Qcow2Data, plan: Qcow2Layout, C: number): void {
  const D = Math.max(1, d.refs.end);
  const perBlock = C / 2;
  const totalClusters = plan.fileSize / C;
  const rt = plan.refcountTableClusters;
  const blocks = plan.refcountBlocks;
  const firstBlock = plan.refcountTableOffset / C + rt;
  const reftable = new Uint8Array(rt * C);
  const rtv = new DataView(reftable.buffer);
  const block = new Uint8Array(C);
  const bv = new DataView(block.buffer);
  for (let b = 0; b < blocks; b++) {
    block.fill(0);
    for (let i = 0; i < perBlock; i++) {
      const c = b * perBlock + i;
      if (c >= totalClusters) break;
      bv.setUint16(i * 2, c < D ? d.refs.get(c) : 1, false);
    }
    const at = (firstBlock + b) * C;
    target.writeAt(at, block);
    setEntry(rtv, b * 8, Math.floor(at / TWO32), at >>> 0);
  }
  target.writeAt(plan.refcountTableOffset, reftable);
}

function encodeHeader(d: Qcow2Data, plan: Qcow2Layout): Uint8Array {
  const ext = QCOW2_EXTENSION.size;
  const names = FEATURE_NAMES.length * QCOW2_FEATURE_NAME.size;
  const out = new Uint8Array(QCOW2_HEADER.size + ext + names + ext);
  QCOW2_HEADER.encode(
    {
      magic: QCOW_MAGIC,
      version: QCOW2_VERSION,
      backingFileOffset: 0,
      backingFileSize: 0,
      clusterBits: d.clusterBits,
      size: d.size,
      cryptMethod: CRYPT_NONE,
      l1Size: plan.l1Size,
      l1TableOffset: plan.l1Offset,
      refcountTableOffset: plan.refcountTableOffset,
      refcountTableClusters: plan.refcountTableClusters,
      nbSnapshots: 0,
      snapshotsOffset: 0,
      refcountOrder: REFCOUNT_ORDER,
      headerLength: QCOW2_HEADER.size,
      compressionType: COMPRESSION_ZLIB,
    },
    out,
    0,
  );
  let at = QCOW2_HEADER.size;
  QCOW2_EXTENSION.encode({ type: EXT_FEATURE_NAMES, length: names }, out, at);
  at += ext;
  const enc = new TextEncoder();
  for (const [type, bit, name] of FEATURE_NAMES) {
    QCOW2_FEATURE_NAME.encode({ type, bit, name: enc.encode(name) }, out, at);
    at += QCOW2_FEATURE_NAME.size;
  }
  QCOW2_EXTENSION.encode({ type: EXT_END, length: 0 }, out, at);
  return out;
}
