/**
 * Memory: the reader keeps well under 1 KiB per entry (nodes, names, lazy
 * contents; never data), and the writer streams contents (a 512 MiB file
 * passes through without the process growing).
 */
import { expect, test } from 'vitest';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { readTar, tarChunks } from '../../src/core/archive/tar/index.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { streamContent } from '../../src/core/tree/content.js';
import { mem, tarBytes } from './helpers.js';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

test('readTar: under 1 KiB of heap per entry (40,000 members, ns mtimes so every member has a pax header)', async () => {
  const t = new FileTree({ defaultTime: 1700000000 });
  const data = new Uint8Array(300).fill(7);
  const N = 40_000;
  for (let i = 0; i < N; i++)
    t.addFile(`/d${i % 300}/s${i % 7}/file-${i}`, data.subarray(0, i % 300), {
      mtime: { sec: 1700000000 + i, nsec: i },
    });
  const bytes = await tarBytes(t);
  gc();
  const before = process.memoryUsage().heapUsed;
  const r = readTar(mem(bytes));
  gc();
  const perEntry = (process.memoryUsage().heapUsed - before) / r.members;
  expect(r.members).toBe(N + 300 + 300 * 7 + 1); // files, directories, subdirectories, the root
  expect(perEntry).toBeLessThan(1024);
  console.log(`readTar: ${perEntry.toFixed(0)} bytes of heap per entry`);
}, 60_000);

test('tarChunks streams: 512 MiB of content through the writer, the process does not grow with it', async () => {
  const chunk = new Uint8Array(1 << 20).fill(0x5a);
  const size = 512 << 20;
  const t = new FileTree();
  t.addFile(
    '/big',
    streamContent(size, async function* () {
      for (let p = 0; p < size; p += chunk.length) yield chunk;
    }),
  );
  gc();
  const before = process.memoryUsage().rss;
  let peak = before;
  let n = 0;
  for await (const c of tarChunks(t)) {
    n += c.length;
    if ((n & 0x3ffffff) < c.length) peak = Math.max(peak, process.memoryUsage().rss);
  }
  expect(n).toBeGreaterThan(size);
  expect(peak - before).toBeLessThan(96 << 20);
}, 60_000);
