/** OCI image layouts and docker-archive tarballs on the host, for the pure readers in src/archive/oci. */
import { closeSync, existsSync, openSync, readFileSync, readSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { FileDevice, hostError } from '../io/file.js';
import type { Digest, HashFactory } from '../../core/archive/oci/digest.js';
import type { OciStore } from '../../core/archive/oci/image.js';

/** Read size for streamed files (src/compress/gunzip.ts says why 1 MiB). */
const CHUNK = 1 << 20;

/** node:crypto's SHA-256/512 (several times faster than the pure default). */
export const nodeHash: HashFactory = (a) => {
  const h = createHash(a);
  return { update: (d: Uint8Array) => h.update(d), digest: () => new Uint8Array(h.digest()) };
};

export async function* fileChunks(path: string, start = 0, length?: number): AsyncGenerator<Uint8Array> {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw hostError(e, path, 'open');
  }
  try {
    const end = length === undefined ? Infinity : start + length;
    for (let pos = start; pos < end;) {
      const buf = new Uint8Array(Math.min(CHUNK, end - pos));
      const n = readSync(fd, buf, 0, buf.length, pos);
      if (n === 0) break;
      pos += n;
      yield n === buf.length ? buf : buf.subarray(0, n);
    }
  } finally {
    closeSync(fd);
  }
}

/** An OCI image layout in a host directory. Blob paths come from validated digests (hex only). */
export function dirStore(dir: string): OciStore {
  return {
    async file(name) {
      const p = join(dir, name);
      if (!existsSync(p)) return undefined;
      try {
        return new Uint8Array(readFileSync(p));
      } catch (e) {
        throw hostError(e, p, 'read');
      }
    },
    blob(d: Digest) {
      const p = join(dir, 'blobs', d.algorithm, d.hex);
      let size: number;
      try {
        const st = statSync(p);
        if (!st.isFile()) return undefined;
        size = st.size;
      } catch {
        return undefined;
      }
      return { size, stream: () => fileChunks(p) };
    },
    randomBlob(d: Digest) {
      const p = join(dir, 'blobs', d.algorithm, d.hex);
      return existsSync(p) && statSync(p).isFile() ? FileDevice.open(p) : undefined;
    },
  };
}
