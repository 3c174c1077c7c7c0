import { describe, expect, it } from 'vitest';
import { FileTree } from '../../src/core/tree/tree.js';
import { streamContent } from '../../src/core/tree/content.js';
import type { BlockDevice } from '../../src/core/io/device.js';
import { writeExt4 } from '../../src/core/fs/ext4/index.js';

/** A device that keeps nothing: writes are counted, reads are zeros. */
class CountingDevice implements BlockDevice {
  written = 0;
  writes = 0;
  constructor(readonly size: number) {}
  readAt(_o: number, n: number): Uint8Array {
    return new Uint8Array(n);
  }
  writeAt(o: number, d: Uint8Array): void {
    if (o + d.length > this.size) throw new RangeError('past end');
    this.written += d.length;
    this.writes++;
  }
  flush(): void {}
}

describe('ext writer memory', () => {
  it('does not grow with file data (2 GiB streamed through, large sequential writes)', async () => {
    const chunk = new Uint8Array(1 << 20).map((_, i) => (i * 13 + 1) & 0xff || 1);
    const total = 2 * 2 ** 30;
    const tree = new FileTree();
    for (let f = 0; f < 4; f++) {
      tree.addFile(
        `/big${f}`,
        streamContent(total / 4, async function* () {
          for (let p = 0; p < total / 4; p += chunk.length) yield chunk;
        }),
      );
    }
    const dev = new CountingDevice(total + (256 << 20));
    globalThis.gc?.();
    const before = process.memoryUsage();
    let peak = 0;
    const timer = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const s = await writeExt4(tree, dev, { epoch: 1 });
    clearInterval(timer);
    peak = Math.max(peak, process.memoryUsage().rss);
    expect(s.dataBytes).toBe(total);
    expect(dev.written).toBeGreaterThanOrEqual(total);
    expect(dev.writes).toBeLessThan(total / (4 << 20)); // writes of several MiB, not per block
    expect(peak - before.rss).toBeLessThan(160 << 20);
  }, 300000);
});
