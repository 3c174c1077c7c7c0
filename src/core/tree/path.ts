import { PathError } from '../errors.js';

const enc = new TextEncoder();

/** Longest name component, in UTF-8 bytes (ext4, cpio-friendly; FAT has its own limits). */
export const MAX_NAME_BYTES = 255;

/**
 * Split and validate a tree path ("/etc/inittab", "etc/inittab", "./etc").
 * Rejects "..", NUL and components longer than 255 UTF-8 bytes with a
 * PathError naming the path. "." and empty components are dropped.
 */
export function splitPath(path: string): string[] {
  if (path.includes('\0'))
    throw new PathError('E_PATH_NUL', `path contains a NUL byte: ${JSON.stringify(path)}`, { path });
  const parts: string[] = [];
  for (const c of path.split('/')) {
    if (c === '' || c === '.') continue;
    if (c === '..') throw new PathError('E_PATH_DOTDOT', `path may not contain '..': ${path}`, { path });
    // a UTF-16 code unit is at most 3 UTF-8 bytes: short names need no encoding to be checked
    const n = c.length * 3 <= MAX_NAME_BYTES ? 0 : enc.encode(c).length;
    if (n > MAX_NAME_BYTES)
      throw new PathError(
        'E_PATH_NAME_TOO_LONG',
        `name component is ${n} bytes, the limit is ${MAX_NAME_BYTES}: ${path}`,
        { path, actual: n, expected: MAX_NAME_BYTES },
      );
    parts.push(c);
  }
  return parts;
}

/** Canonical absolute form: "/a/b", "/" for the root. */
export function normalizePath(path: string): string {
  return '/' + splitPath(path).join('/');
}

export function joinPath(dir: string, name: string): string {
  return dir === '/' ? `/${name}` : `${dir}/${name}`;
}

/** Byte-wise (UTF-8) comparison: the deterministic order writers use. */
export function compareNames(a: string, b: string): number {
  if (a === b) return 0;
  // UTF-16 code-unit order is UTF-8 byte order as long as neither unit is a surrogate (>= 0xD800)
  const m = Math.min(a.length, b.length);
  for (let i = 0; i < m; i++) {
    const p = a.charCodeAt(i);
    const q = b.charCodeAt(i);
    if (p === q) continue;
    if (p < 0xd800 && q < 0xd800) return p - q;
    return compareEncoded(a, b);
  }
  return a.length - b.length;
}

function compareEncoded(a: string, b: string): number {
  const x = enc.encode(a);
  const y = enc.encode(b);
  const n = Math.min(x.length, y.length);
  for (let i = 0; i < n; i++) if (x[i] !== y[i]) return x[i]! - y[i]!;
  return x.length - y.length;
}
