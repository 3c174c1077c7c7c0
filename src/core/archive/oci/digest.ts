/**
 * Content digests ("sha256:<hex>", OCI image spec "Digests"), checked while
 * the bytes stream past: a pure SHA-256/512 from @noble/hashes by default,
 * or any faster hasher the host supplies (the Node layer passes node:crypto).
 */
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { concatBytes } from '../../binary/bytes.js';
import { FormatError } from '../../errors.js';

export type DigestAlgorithm = 'sha256' | 'sha512';
export interface Digest {
  algorithm: DigestAlgorithm;
  hex: string;
}
export interface Hasher {
  update(data: Uint8Array): unknown;
  digest(): Uint8Array;
}
export type HashFactory = (algorithm: DigestAlgorithm) => Hasher;

export const nobleHash: HashFactory = (a) => (a === 'sha256' ? sha256.create() : sha512.create());

const HEX_LEN: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** Parse and validate a digest string; its hex part is safe to use as a file name. */
export function parseDigest(s: unknown, where: string): Digest {
  const m = typeof s === 'string' ? /^(sha256|sha512):([0-9a-f]+)$/.exec(s) : null;
  if (!m || m[2]!.length !== HEX_LEN[m[1] as DigestAlgorithm]) {
    throw new FormatError('E_FORMAT_OCI_DIGEST', `${where}: ${JSON.stringify(s)} is not a sha256/sha512 digest`, {
      field: 'digest',
      actual: s,
    });
  }
  return { algorithm: m[1] as DigestAlgorithm, hex: m[2]! };
}

export function digestString(d: Digest): string {
  return `${d.algorithm}:${d.hex}`;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * Pass `source` through, hashing it; when it ends, fail with a typed error
 * naming `blob` if the digest (or the expected size) does not match.
 */
export async function* verifyDigest(
  source: AsyncIterable<Uint8Array>,
  want: Digest,
  blob: string,
  opts: { size?: number; hash?: HashFactory } = {},
): AsyncGenerator<Uint8Array> {
  const h = (opts.hash ?? nobleHash)(want.algorithm);
  let n = 0;
  for await (const c of source) {
    n += c.length;
    if (opts.size !== undefined && n > opts.size)
      throw new FormatError('E_FORMAT_OCI_SIZE', `${blob}: more than the ${opts.size} bytes its descriptor gives`, {
        path: blob,
        expected: opts.size,
        actual: n,
      });
    h.update(c);
    yield c;
  }
  if (opts.size !== undefined && n !== opts.size)
    throw new FormatError('E_FORMAT_OCI_SIZE', `${blob}: ${n} bytes, its descriptor gives ${opts.size}`, {
      path: blob,
      expected: opts.size,
      actual: n,
    });
  const got = hex(h.digest());
  if (got !== want.hex) {
    throw new FormatError(
      'E_FORMAT_OCI_DIGEST',
      `${blob}: digest mismatch: expected ${digestString(want)}, the data hashes to ${want.algorithm}:${got}`,
      { path: blob, expected: digestString(want), actual: `${want.algorithm}:${got}` },
    );
  }
}

/** Read a whole (small) stream, bounded. */
export async function collect(source: AsyncIterable<Uint8Array>, max: number, what: string): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const c of source) {
    n += c.length;
    if (n > max)
      throw new FormatError(
        'E_FORMAT_OCI_SIZE',
        `${what} is larger than ${max} bytes; refusing to read it into memory`,
        { path: what, expected: max },
      );
    parts.push(c);
  }
  return concatBytes(parts, n);
}
