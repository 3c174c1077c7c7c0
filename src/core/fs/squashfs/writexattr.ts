/**
 * The xattr table: each distinct set of extended attributes is written once
 * as a list of (type, name suffix, value) entries and gets an xattr id that
 * inodes store. Values longer than OOL_MIN bytes are stored once, out of
 * line, and referenced from every list that has them. Only the user.,
 * trusted. and security. namespaces exist in squashfs; other names are
 * left out and reported.
 */
import type { BlockCompressor } from './compress.js';
import { MetaWriter } from './meta.js';
import { INVALID_XATTR, XATTR_ENTRY, XATTR_ID, XATTR_PREFIXES, XATTR_VAL, XATTR_VALUE_OOL } from './structs.js';

/** Values longer than this go out of line (and are shared between lists). */
const OOL_MIN = 64;
const OOL_REF_SIZE = 8;
const enc = new TextEncoder();

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 4096) s += String.fromCharCode(...b.subarray(i, i + 4096));
  return s;
}

export class XattrTable {
  readonly kv: MetaWriter;
  /** XATTR_ID entries, in id order. */
  private readonly ids: Uint8Array[] = [];
  private readonly bySet = new Map<string, number>();
  private readonly ool = new Map<string, number>();
  /** "path: name" of attributes left out (unsupported namespace). */
  readonly skipped: string[] = [];

  constructor(comp: BlockCompressor) {
    this.kv = new MetaWriter(comp);
  }

  get count(): number {
    return this.ids.length;
  }

  /** The xattr id of a node's attributes (INVALID_XATTR when it has none squashfs can store). */
  async idFor(xattrs: Map<string, Uint8Array>, path: string): Promise<number> {
    if (xattrs.size === 0) return INVALID_XATTR;
    const list: Array<{ prefix: number; suffix: Uint8Array; full: string; value: Uint8Array }> = [];
    for (const name of [...xattrs.keys()].sort()) {
      const prefix = XATTR_PREFIXES.findIndex((p) => name.startsWith(p) && name.length > p.length);
      if (prefix < 0) {
        this.skipped.push(`${path}: ${name}`);
        continue;
      }
      list.push({
        prefix,
        suffix: enc.encode(name.slice(XATTR_PREFIXES[prefix]!.length)),
        full: name,
        value: xattrs.get(name)!,
      });
    }
    if (list.length === 0) return INVALID_XATTR;
    const key = list.map((x) => `${x.full}\0${latin1(x.value)}`).join('\0\0');
    const known = this.bySet.get(key);
    if (known !== undefined) return known;
    for (const x of list) if (x.value.length > OOL_MIN) await this.oolRef(x.value);
    const start = this.kv.ref();
    let size = 0;
    for (const x of list) {
      const ool = x.value.length > OOL_MIN;
      await this.put(XATTR_ENTRY.encode({ type: x.prefix | (ool ? XATTR_VALUE_OOL : 0), size: x.suffix.length }));
      await this.put(x.suffix);
      if (ool) {
        await this.put(XATTR_VAL.encode({ vsize: OOL_REF_SIZE }));
        const ref = new Uint8Array(OOL_REF_SIZE);
        new DataView(ref.buffer).setBigUint64(0, BigInt(await this.oolRef(x.value)), true);
        await this.put(ref);
      } else {
        await this.put(XATTR_VAL.encode({ vsize: x.value.length }));
        await this.put(x.value);
      }
      size += enc.encode(x.full).length + 1 + x.value.length;
    }
    const id = this.ids.length;
    this.ids.push(XATTR_ID.encode({ xattr: start, count: list.length, size }));
    this.bySet.set(key, id);
    return id;
  }

  private async put(b: Uint8Array): Promise<void> {
    const p = this.kv.write(b);
    if (p) await p;
  }

  /** Reference to a shared out-of-line value, writing it the first time. */
  private async oolRef(value: Uint8Array): Promise<number> {
    const key = latin1(value);
    const known = this.ool.get(key);
    if (known !== undefined) return known;
    const ref = this.kv.ref();
    await this.put(XATTR_VAL.encode({ vsize: value.length }));
    await this.put(value);
    this.ool.set(key, ref);
    return ref;
  }

  /** The xattr id entries, concatenated. */
  idEntries(): Uint8Array {
    const out = new Uint8Array(this.ids.length * XATTR_ID.size);
    this.ids.forEach((e, i) => out.set(e, i * XATTR_ID.size));
    return out;
  }
}
