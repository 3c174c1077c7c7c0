/**
 * An output's name says what it holds: `x.cpio.gz` is gzip, `x.cpio` is not.
 * The CLI and the build agree with the name, or stop before writing.
 */
import { UsageError } from '../errors.js';

export type Compression = 'gzip' | 'none';

/** Suffixes that name an uncompressed archive. */
const PLAIN_SUFFIXES = ['.cpio'];
const SUFFIX: Record<Compression, string> = { gzip: '.gz', none: '' };

/** The compression a file name promises, or undefined when it says nothing (`initrd.img`, `-`). */
export function compressionOfName(name: string): Compression | undefined {
  if (name.endsWith('.gz')) return 'gzip';
  if (PLAIN_SUFFIXES.some((s) => name.endsWith(s))) return 'none';
  return undefined;
}

/**
 * The compression to write `name` with: `explicit` when given (it must agree
 * with the name), else what the name says, else `fallback`.
 */
export function compressionForName(
  name: string,
  explicit: Compression | undefined,
  fallback: Compression,
  field: string,
): Compression {
  const named = compressionOfName(name);
  if (explicit !== undefined && named !== undefined && explicit !== named) {
    const better = explicit === 'none' ? name.replace(/\.gz$/, '') : `${name}${SUFFIX[explicit]}`;
    throw new UsageError(
      'E_USAGE_OUTPUT_NAME',
      `${field} ${explicit} does not match the output name ${name}: name it ${better}, or leave ${field} out`,
      { field, expected: named, actual: explicit, path: name },
    );
  }
  return explicit ?? named ?? fallback;
}
