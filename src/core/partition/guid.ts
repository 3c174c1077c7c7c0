/**
 * GUIDs as GPT stores them: the first three groups little-endian ("mixed
 * endian"), the last two as bytes. Deterministic GUIDs are uuid v5 names
 * under a tinyimage namespace.
 */
import { v5 as uuidv5 } from 'uuid';
import { UsageError } from '../errors.js';

const GUID_RE = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Namespace for tinyimage's deterministic identifiers (itself a v5 of the URL namespace). */
export const TINYIMAGE_NAMESPACE = uuidv5('https://tinyimage.invalid/ns', uuidv5.URL);

export function isGuid(s: string): boolean {
  return GUID_RE.test(s);
}

/** Encode a textual GUID into its 16-byte mixed-endian on-disk form. */
export function encodeGuid(guid: string, target = new Uint8Array(16), offset = 0): Uint8Array {
  if (!isGuid(guid))
    throw new UsageError('E_USAGE_GUID', `"${guid}" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`, {
      actual: guid,
    });
  const hex = guid.replace(/-/g, '');
  const b = new Uint8Array(16);
  for (let i = 0; i < 16; i++) b[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  for (let i = 0; i < 16; i++) target[offset + i] = b[order[i]!]!;
  return target;
}

/** Decode 16 mixed-endian bytes into a lowercase textual GUID. */
export function decodeGuid(buf: Uint8Array, offset = 0): string {
  const order = [3, 2, 1, 0, 5, 4, 7, 6, 8, 9, 10, 11, 12, 13, 14, 15];
  let s = '';
  for (let i = 0; i < 16; i++) {
    if (i === 4 || i === 6 || i === 8 || i === 10) s += '-';
    s += buf[offset + order[i]!]!.toString(16).padStart(2, '0');
  }
  return s;
}

/** A deterministic GUID for `name` under the tinyimage namespace (uuid v5). */
export function derivedGuid(name: string): string {
  return uuidv5(name, TINYIMAGE_NAMESPACE);
}

/** A deterministic 32-bit value (MBR disk signature) from a seed: first 4 bytes of its v5 GUID, never 0. */
export function derivedU32(name: string): number {
  const hex = derivedGuid(name).slice(0, 8);
  const v = parseInt(hex, 16) >>> 0;
  return v === 0 ? 1 : v;
}

export const NIL_GUID = '00000000-0000-0000-0000-000000000000';
