/** Import for its effect: vitest's expect gets tinyimage's matchers (toHaveEntry, toMatchTree), typed. */
import { expect } from 'vitest';
import { tinyimageMatchers } from '../../src/core/testing/index.js';

expect.extend(tinyimageMatchers);
declare module 'vitest' {
  interface Assertion {
    toHaveEntry(path: string, e?: object): void;
    toMatchTree(t: unknown, o?: object): Promise<void>;
  }
}
