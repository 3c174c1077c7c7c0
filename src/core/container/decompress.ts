/** Inflating the compressed units of qcow2 clusters and VMDK grains, for the readers (synchronous: fflate). */
import { inflateSync, unzlibSync } from 'fflate';
import { FormatError } from '../errors.js';
import type { Codec } from './compress.js';

/**
 * Decompress one unit into `out` (its full size). Throws FormatError when the
 * stream is damaged or yields more or fewer bytes than `out` holds; never
 * allocates beyond `out`.
 */
export function decompressUnit(
  data: Uint8Array,
  codec: Codec,
  out: Uint8Array,
  where: Record<string, unknown>,
  exact = true,
): number {
  // one spare byte tells "exactly full" from "would have written more"
  const room = new Uint8Array(out.length + 1);
  let got: Uint8Array;
  try {
    got = codec === 'zlib' ? unzlibSync(data, { out: room }) : inflateSync(data, { out: room });
  } catch (e) {
    throw new FormatError(
      'E_FORMAT_COMPRESSED_DATA',
      `compressed ${String(where.structure ?? 'unit')} is damaged: ${(e as Error).message}`,
      { ...where },
      { cause: e },
    );
  }
  if (got.length > out.length || (exact && got.length !== out.length)) {
    throw new FormatError(
      'E_FORMAT_COMPRESSED_SIZE',
      `compressed ${String(where.structure ?? 'unit')} expands to ` +
        `${got.length > out.length ? `more than ${out.length}` : got.length} bytes, expected ${out.length}`,
      { ...where, expected: out.length, actual: got.length },
    );
  }
  out.set(got.subarray(0, got.length));
  if (got.length < out.length) out.fill(0, got.length);
  return got.length;
}
