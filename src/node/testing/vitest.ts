/**
 * `import 'tinyimage/testing/vitest'` (in a test file or in vitest's
 * setupFiles) registers the tinyimage matchers with vitest's `expect` and
 * declares them on its Assertion type, so no declarations are written by
 * hand:
 *
 *   import 'tinyimage/testing/vitest';
 *   expect(img).toHaveEntry('/etc/inittab', { mode: 0o644 });
 */
import { expect } from 'vitest';
import { tinyimageMatchers, type EntryExpectation } from '../../core/testing/index.js';
import type { DiffOptions } from '../../core/diff/index.js';

expect.extend(tinyimageMatchers);

export interface TinyimageMatchers<R = unknown> {
  /** The entry exists and has the given type, mode, owner, size, content, target, device or xattrs. */
  toHaveEntry(path: string, expected?: EntryExpectation): R;
  /** The entry is a symlink (to `target` when given). */
  toHaveSymlink(path: string, target?: string): R;
  /** diffTrees(expected, received) finds nothing; await it. */
  toMatchTree(expected: unknown, opts?: DiffOptions): Promise<R>;
}

declare module 'vitest' {
  // the type parameter must match vitest's own declaration
  // eslint-disable-next-line @typescript-eslint/no-explicit-any, @typescript-eslint/no-empty-object-type
  interface Assertion<T = any> extends TinyimageMatchers<T> {}
  // eslint-disable-next-line @typescript-eslint/no-empty-object-type
  interface AsymmetricMatchersContaining extends TinyimageMatchers {}
}
