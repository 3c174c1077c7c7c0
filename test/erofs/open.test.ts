// EROFS through the generic entry points: openImage detects it by its
// magic (ours and mkfs.erofs's), the read-only view, the testing matchers and
// diffTrees work on it, the CLI's ls, cat, inspect, diff and extract read it,
// and `tinyimage mkfs erofs` writes it (deterministically with
// SOURCE_DATE_EPOCH).
import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isDisk, openImage } from '../../src/node/open.js';
import { writeErofsFile } from '../../src/node/erofs/write.js';
import { extractTree } from '../../src/node/host/extract.js';
import '../helpers/matchers.js';
import { expectCliReadsEdgeTree, runCli } from '../helpers/cli.js';
import { missing, run } from '../helpers/prereq.js';
import { edgeTree } from '../ext4/helpers.js';
import { equalBytes, fsck, mknod, tmp } from './helpers.js';

const t = tmp();
afterAll(() => t.cleanup());
const tree = edgeTree({ bigDir: 100, sparseHuge: false });
const img = t.path('edge.erofs');
beforeAll(async () => {
  await writeErofsFile(tree, img);
});

describe('EROFS through openImage and the CLI', () => {
  it('openImage detects EROFS and the matchers work on it', async () => {
    const v = await openImage(img);
    try {
      if (isDisk(v)) throw new Error('not a filesystem');
      expect(v.kind).toBe('erofs');
      expect(v.info.blockSize).toBe(4096);
      expect(v).toHaveEntry('/hello.txt', { type: 'file', mode: 0o644, owner: [1000, 100] });
      expect(new TextDecoder().decode(await v.readFile('/hello.txt'))).toBe('hello world\n');
      await expect(v).toMatchTree(tree);
    } finally {
      v.close();
    }
  });

  it('tinyimage ls, cat, inspect, diff and extract read it', async () => {
    await expectCliReadsEdgeTree(img, /erofs/, t.path('x'));
    const diff = await runCli(['diff', img, img]);
    expect(diff.code, diff.stderr + diff.stdout).toBe(0);
  });

  it.skipIf(missing({ tools: ['mkfs.erofs', 'mknod'] }) || process.getuid?.() !== 0)(
    'openImage reads a mkfs.erofs image of the same tree as ours (tinyimage diff finds no difference)',
    async () => {
      const src = edgeTree({ bigDir: 100, sparseHuge: false });
      src.remove('/' + 'L'.repeat(255)); // mkfs.erofs 1.5 fails on 255-byte names
      const dir = t.path('src');
      await extractTree(src, dir, { mknod });
      const theirs = t.path('mk.erofs');
      const r = run('mkfs.erofs', ['--quiet', theirs, dir]);
      expect(r.code, r.stderr).toBe(0);
      const ours = t.path('ours.erofs');
      await writeErofsFile(src, ours);
      // (no xattrs were set on the extracted copy; mkfs.erofs 1.5 leaves sockets out)
      const d = await runCli(['diff', ours, theirs, '--ignore-field', 'xattrs', '--ignore', '/sock']);
      expect(d.code, d.stdout + d.stderr).toBe(0);
    },
  );

  it('tinyimage mkfs erofs: a summary line, JSON facts, fsck-clean, deterministic with SOURCE_DATE_EPOCH', async () => {
    const list = t.path('root.list');
    writeFileSync(
      list,
      ['dir /etc 0755 0 0', 'file /etc/hostname ' + t.path('hostname') + ' 0644 0 0', 'nod /dev/console 0600 0 0 c 5 1']
        .concat(['slink /bin/sh busybox 0777 0 0', 'dir /dev 0755 0 0'])
        .join('\n') + '\n',
    );
    writeFileSync(t.path('hostname'), 'tiny\n');
    const env = { SOURCE_DATE_EPOCH: '1700000000' };
    const a = await runCli(['mkfs', 'erofs', '--list', list, '-o', t.path('a.erofs'), '--label', 'root'], env);
    expect(a.code, a.stderr).toBe(0);
    expect(a.stderr).toMatch(/wrote erofs .*a\.erofs/);
    const b = await runCli(
      ['mkfs', 'erofs', '--list', list, '-o', t.path('b.erofs'), '--label', 'root', '--json'],
      env,
    );
    expect(b.code, b.stderr).toBe(0);
    const facts = JSON.parse(b.stdout) as { details: { buildTime: { sec: number }; compactInodes: number } };
    expect(facts.details.buildTime.sec).toBe(1700000000);
    expect(equalBytes(readFileSync(t.path('a.erofs')), readFileSync(t.path('b.erofs')))).toBe(true);
    if (!missing({ tools: ['fsck.erofs'] })) expect(fsck(t.path('a.erofs')).code).toBe(0);
    const v = await openImage(t.path('a.erofs'));
    try {
      if (isDisk(v)) throw new Error('not a filesystem');
      expect(v).toHaveEntry('/dev/console', { type: 'chardev', mode: 0o600 });
      expect(v.info.label).toBe('root');
    } finally {
      v.close();
    }
    const bad = await runCli(['mkfs', 'erofs', '--list', list, '-o', t.path('c.erofs'), '--label', 'x'.repeat(17)]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/label/);
    const help = await runCli(['mkfs', 'erofs', '--help']);
    expect(help.stdout).toMatch(/--no-inline/);
  });
});
