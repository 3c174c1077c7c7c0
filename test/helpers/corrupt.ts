/** Shared by the read-corrupt tests: what opening and reading a damaged image comes to. */
import { TinyImageError } from '../../src/core/errors.js';
import type { FileTree } from '../../src/core/tree/tree.js';
import type { Content } from '../../src/core/tree/types.js';

/**
 * Open an image (`open`) and read each file with `read` (given a 1 MiB
 * buffer); 'ok', or the code of the typed error it fails with. Any other
 * error is thrown: a damaged image must fail only with a typed error.
 */
export function readOutcome(open: () => FileTree, read: (c: Content, buf: Uint8Array) => void): string {
  try {
    const tree = open();
    const buf = new Uint8Array(1 << 20);
    for (const e of tree.walk()) if (e.node.type === 'file') read(e.node.content, buf);
    return 'ok';
  } catch (e) {
    if (e instanceof TinyImageError) return e.code;
    throw e;
  }
}
