/**
 * Journal replay: transactions written into the journal by debugfs
 * (journal_open / journal_write / journal_close, leaving needs_recovery)
 * are served by the reader's read-only overlay, and the result equals what
 * e2fsck's own replay writes to a copy of the image.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { isTinyImageError } from '../../src/core/errors.js';
import { scanFastCommits } from '../../src/core/fs/ext4/fastcommit.js';
import { findRun } from '../../src/core/fs/ext4/readmap.js';
import { openExt4 } from '../../src/core/fs/ext4/read.js';
import {
  EXT4_FC_TAG,
  JBD2_BLOCKTYPE,
  JBD2_MAGIC,
  jbd2RevokeHeader,
  jbd2Superblock,
} from '../../src/core/fs/ext4/structs.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { readContent } from '../../src/core/tree/content.js';
import { missing, run } from '../helpers/prereq.js';
import { expectSameTree, fixtureBytes } from './read-helpers.js';

const skip = missing({ tools: ['debugfs', 'e2fsck'] });
const dir = mkdtempSync(join(tmpdir(), 'ext4r-jnl-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = async (t: ReturnType<typeof openExt4>['tree'], p: string) => {
  const n = t.get(p);
  if (n?.type !== 'file') throw new Error(`${p} is not a file`);
  return new TextDecoder().decode(await readContent(n.content));
};

/** The fixture with debugfs journal commands applied; returns its path. */
function journalled(name: string, commands: (block: number, bs: number) => string): { path: string; block: number } {
  const bytes = fixtureBytes(name);
  const { reader } = openExt4(new MemoryDevice(bytes));
  const small = reader.lookup('/small')!;
  const block = reader.runs(small)[0]!.physical;
  const path = join(dir, `${name}-${Math.random().toString(36).slice(2)}.img`);
  writeFileSync(path, bytes);
  const data = new Uint8Array(reader.blockSize);
  data.set(new TextEncoder().encode('HELLO FROM THE JOURNAL\n'));
  writeFileSync(join(dir, 'blk'), data);
  writeFileSync(join(dir, 'cmds'), commands(block, reader.blockSize));
  execFileSync('debugfs', ['-w', '-f', join(dir, 'cmds'), path], { stdio: 'ignore', cwd: dir });
  return { path, block };
}

describe.skipIf(!!skip)('journal replay', () => {
  it.each(['ext4-4k', 'ext3-1k'])('%s: a committed transaction is seen, like after e2fsck replays it', async (name) => {
    const { path } = journalled(name, (b) => `jo\njw -b ${b} blk\njc\n`);
    expect(run('dumpe2fs', ['-h', path]).stdout).toMatch(/needs_recovery/);
    const bytes = new Uint8Array(readFileSync(path));
    const v = openExt4(new MemoryDevice(bytes.slice()));
    expect(v.info.needsRecovery).toBe(true);
    expect(v.info.journalReplay).toEqual({ transactions: 1, blocks: 1 });
    expect(await text(v.tree, '/small')).toBe('HELLO FROM T');
    const raw = openExt4(new MemoryDevice(bytes.slice()), { replayJournal: false });
    expect(raw.info.journalReplay).toBeUndefined();
    expect(await text(raw.tree, '/small')).toBe('hello, ext4\n');
    // e2fsck replays into the image itself; our view must equal its result
    const fixed = path + '.fsck';
    writeFileSync(fixed, bytes);
    run('e2fsck', ['-fy', fixed]);
    const after = openExt4(new MemoryDevice(new Uint8Array(readFileSync(fixed))));
    expect(after.info.needsRecovery).toBe(false);
    await expectSameTree(v.tree, after.tree, { skip: [] });
  });

  it('a later revoke record cancels the earlier copy', async () => {
    const { path } = journalled('ext4-4k', (b) => `jo\njw -b ${b} blk\njc\njo\njw -r ${b}\njc\n`);
    const bytes = new Uint8Array(readFileSync(path));
    const v = openExt4(new MemoryDevice(bytes.slice()));
    expect(await text(v.tree, '/small')).toBe('hello, ext4\n');
    const fixed = path + '.fsck';
    writeFileSync(fixed, bytes);
    run('e2fsck', ['-fy', fixed]);
    const after = openExt4(new MemoryDevice(new Uint8Array(readFileSync(fixed))));
    expect(await text(after.tree, '/small')).toBe('hello, ext4\n');
  });

  it('the image bytes are never modified', () => {
    const { path } = journalled('ext4-4k', (b) => `jo\njw -b ${b} blk\njc\n`);
    const bytes = new Uint8Array(readFileSync(path));
    const copy = bytes.slice();
    openExt4(new MemoryDevice(bytes));
    expect(Buffer.compare(Buffer.from(bytes), Buffer.from(copy))).toBe(0);
  });

  it('a log that would go round forever is reported, not followed', () => {
    const { path } = journalled('ext4-4k', (b) => `jo\njw -b ${b} blk\njc\n`);
    const bytes = new Uint8Array(readFileSync(path));
    const { reader } = openExt4(new MemoryDevice(bytes.slice()), { replayJournal: false });
    const bs = reader.blockSize;
    const runs = reader.runs(reader.inode(8));
    const phys = (j: number) => runs[findRun(runs, j)]!.physical + j - runs[findRun(runs, j)]!.logical;
    const sb = jbd2Superblock.decode(bytes, phys(0) * bs);
    // every log block a revoke block of the first transaction: jbd2 itself would loop for ever
    for (let j = sb.s_first; j < sb.s_maxlen; j++)
      jbd2RevokeHeader.encode(
        { h_magic: JBD2_MAGIC, h_blocktype: JBD2_BLOCKTYPE.REVOKE, h_sequence: sb.s_sequence, r_count: 16 },
        bytes,
        phys(j) * bs,
      );
    const t0 = performance.now();
    const v = openExt4(new MemoryDevice(bytes));
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(v.info.recovery).toBe('not replayed; e2fsck needed');
    expect(v.warnings).toEqual([expect.stringMatching(/^journal not replayed: the log goes round the journal/)]);
  });

  it('fast-commit scans of random blocks end, under both rule sets', () => {
    fc.assert(
      fc.property(
        fc.array(fc.uint8Array({ minLength: 1024, maxLength: 1024 }), { minLength: 1, maxLength: 4 }),
        fc.boolean(),
        fc.nat(3),
        (blocks, head, tid) => {
          // often a HEAD record first, so that the scan goes past the first check
          if (head) blocks[0]!.set([EXT4_FC_TAG.HEAD, 0, 8, 0, 0, 0, 0, 0, tid, 0, 0, 0]);
          for (const rules of ['kernel', 'e2fsck'] as const) {
            const r = scanFastCommits((j) => blocks[j], { first: 0, last: blocks.length }, tid, rules, 256);
            expect(['none', 'pending', 'error', 'undefined']).toContain(r.kind);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it.each(['jo', 'jo -c'])('byte flips in the journal (%s) only ever give typed errors', async (open) => {
    const { path } = journalled('ext4-4k', (b) => `${open}\njw -b ${b} blk\njc\n${open}\njw -r ${b}\njc\n`);
    const pristine = new Uint8Array(readFileSync(path));
    const { reader } = openExt4(new MemoryDevice(pristine.slice()), { replayJournal: false });
    const jrun = reader.runs(reader.inode(8))[0]!;
    const bs = reader.blockSize;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat({ max: 7 }), fc.nat({ max: bs - 1 }), fc.integer({ min: 1, max: 255 })), {
          minLength: 1,
          maxLength: 8,
        }),
        async (flips) => {
          const bytes = pristine.slice();
          for (const [blk, off, x] of flips) bytes[(jrun.physical + blk) * bs + off]! ^= x;
          const t0 = performance.now();
          try {
            const v = openExt4(new MemoryDevice(bytes), { verify: false });
            for (const e of v.tree.walk()) if (e.node.type === 'file') e.node.content.readAt?.(0, 4096);
            expect(v.info.recovery).toBeTypeOf('string');
          } catch (e) {
            if (!isTinyImageError(e)) throw e;
          }
          expect(performance.now() - t0).toBeLessThan(2000);
        },
      ),
      { numRuns: 150 },
    );
  });
});
