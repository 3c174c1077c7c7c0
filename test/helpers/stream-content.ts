/** Shared by the image writers' tests: stream-only contents, and contents that lie about their size. */
import { expect } from 'vitest';
import { HostIOError } from '../../src/core/errors.js';
import { readContent, streamContent } from '../../src/core/tree/content.js';
import { FileTree } from '../../src/core/tree/tree.js';

/**
 * `image` writes a tree (rejecting on failure) and `readBack` reads the
 * written tree back: a stream-only content is written whole; one that yields
 * less than its size is refused naming its path, one that yields more too.
 */
export async function expectStreamContents<I>(
  image: (tree: FileTree) => Promise<I>,
  readBack: (written: I) => FileTree,
): Promise<void> {
  const tree = new FileTree();
  const chunks = [new Uint8Array(100000).fill(3), new Uint8Array(200001).fill(4)];
  tree.addFile(
    '/s',
    streamContent(300001, async function* () {
      yield* chunks;
    }),
  );
  const n = readBack(await image(tree)).get('/s')!;
  if (n.type !== 'file') throw new Error('not a file');
  expect((await readContent(n.content)).subarray(99999, 100001)).toEqual(new Uint8Array([3, 4]));
  const bad = new FileTree();
  bad.addFile(
    '/dir/short',
    streamContent(500000, async function* () {
      yield new Uint8Array(10);
    }),
  );
  await expect(image(bad)).rejects.toThrow(HostIOError);
  await expect(image(bad)).rejects.toThrow(/^\/dir\/short: content yielded only/);
  const long = new FileTree();
  long.addFile(
    '/long',
    streamContent(10, async function* () {
      yield new Uint8Array(20);
    }),
  );
  await expect(image(long)).rejects.toThrow(/more than its declared/);
}
