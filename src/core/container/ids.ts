/**
 * Deterministic identifiers for containers that carry one (VHD unique id,
 * VMDK CID): derived from the content, never from the clock or a random
 * source. Hashing every byte would cost as much as writing them, so the
 * digest takes, for every 64 KiB piece of every stored unit, its position
 * and a CRC-32C of its first and last 512 bytes, and folds them with the format, size and
 * options through uuid v5 (SHA-1). Two images that differ anywhere in their
 * allocation, or in the sampled bytes, get different ids.
 */
import { crc32c } from '../binary/crc.js';
import { UsageError } from '../errors.js';
import { derivedGuid, isGuid } from '../partition/guid.js';
import type { ContainerTarget } from './types.js';
import type { UnitMap } from './units.js';

const SAMPLE = 512;
const PIECE = 64 * 1024;
const FOLD = 4096;

export class ContentDigest {
  private parts: string[] = [];
  private state: string;
  constructor(seed: string) {
    this.state = derivedGuid(`tinyimage-container:${seed}`);
  }

  /** Add one stored piece: its index and its bytes (only the sampled edges are read). */
  add(index: number, data: Uint8Array): void {
    this.addEdges(
      index,
      data.subarray(0, Math.min(SAMPLE, data.length)),
      data.subarray(Math.max(0, data.length - SAMPLE)),
    );
  }

  /** Add one stored piece from its first and last (up to) 512 bytes. */
  addEdges(index: number, head: Uint8Array, tail: Uint8Array): void {
    this.parts.push(`${index.toString(36)}:${crc32c(head).toString(36)}:${crc32c(tail).toString(36)}`);
    if (this.parts.length >= FOLD) this.fold();
  }

  /** Add a stored unit piece by piece (64 KiB pieces, so the digest does not depend on the unit size). */
  addUnit(unit: number, data: Uint8Array, unitSize: number): void {
    const piece = Math.min(PIECE, unitSize);
    const per = unitSize / piece;
    for (let k = 0; k * piece < data.length; k++) this.add(unit * per + k, data.subarray(k * piece, (k + 1) * piece));
  }

  /** Add every unit of `map` reading the sampled edges back from `target` (allocate-on-write devices). */
  addStored(map: UnitMap, unitSize: number, target: ContainerTarget): void {
    const piece = Math.min(PIECE, unitSize);
    const per = unitSize / piece;
    const n = Math.min(SAMPLE, piece);
    const head = new Uint8Array(n);
    const tail = new Uint8Array(n);
    for (const [u, host] of map.entries()) {
      for (let k = 0; k < per; k++) {
        target.readInto(host + k * piece, head);
        target.readInto(host + (k + 1) * piece - n, tail);
        this.addEdges(u * per + k, head, tail);
      }
    }
  }

  private fold(): void {
    this.state = derivedGuid(`${this.state};${this.parts.join(',')}`);
    this.parts = [];
  }

  /** The UUID (RFC 4122 string) for everything added. */
  uuid(): string {
    this.fold();
    return this.state;
  }
}

/** The 16 bytes of a UUID string, in the order it is written (big-endian fields, as VHD stores it). */
export function uuidBytes(uuid: string): Uint8Array {
  if (!isGuid(uuid))
    throw new UsageError('E_USAGE_UUID', `"${uuid}" is not a UUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)`, {
      field: 'uuid',
      actual: uuid,
    });
  const hex = uuid.replace(/-/g, '');
  const out = new Uint8Array(16);
  for (let i = 0; i < 16; i++) out[i] = parseInt(hex.slice(i * 2, i * 2 + 2), 16);
  return out;
}

export function bytesUuid(b: Uint8Array): string {
  const h = [...b].map((x) => x.toString(16).padStart(2, '0')).join('');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
