/**
 * `npm run bench` still runs. Benchmarks are not timed tests, and nothing
 * here looks at a time: each area's script (bench/<area>.mjs, the list
 * bench/run.mjs runs by default, plus the gzip comparisons) runs once on a
 * tree of a few entries and must finish with status 0, which every script
 * gives only when its own checks passed (e2fsck, fsck.fat, unsquashfs,
 * fsck.erofs, byte comparisons). Such a script reads the CLI's `--json`
 * summaries and the library's exports, so a change there breaks it without
 * failing any other test: bench/ext4.mjs once read `summary.size` after the
 * summaries had moved the writer's fields under `details`.
 */
import { spawnSync } from 'node:child_process';
import { linkSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

/** Area, and the arguments beyond `--tree TREE --runs 1`. */
const AREAS: [string, string[]][] = [
  ['cpio', []],
  ['ext4', []],
  ['fat', []],
  // its cold rows drop the page cache as root: not in the middle of a test suite
  ['read', ['--warm-only']],
  ['disk', []],
  ['tar', []],
  // the default 1 GiB image takes ~15 s to convert twice; the rows are the same at 64 MiB
  ['container', ['--size', String(64 << 20)]],
  ['squashfs', ['--small', '@tree']],
  ['erofs', ['--small', '@tree']],
  ['iso', ['--small', '@tree']],
  ['smalltree', ['--small', '@tree']],
  ['gzip-pigz', []],
  ['gzip-engines', []],
];

describe('bench scripts run on a small tree', () => {
  const tmp = tmpDir('tinyimage-bench-smoke-');
  const tree = tmp.path('tree');

  beforeAll(() => {
    mkdirSync(join(tree, 'etc/sub'), { recursive: true });
    writeFileSync(join(tree, 'etc/motd'), 'hello\n');
    writeFileSync(
      join(tree, 'etc/sub/data.bin'),
      new Uint8Array(70_000).map((_, i) => (i * 7919) & 0xff),
    );
    writeFileSync(join(tree, 'empty'), '');
    linkSync(join(tree, 'etc/motd'), join(tree, 'motd.link'));
    symlinkSync('etc/motd', join(tree, 'motd.sym'));
  });
  afterAll(() => tmp.cleanup());

  it.each(AREAS)(
    'bench/%s.mjs',
    (area, extra) => {
      const args = [join(REPO, 'bench', `${area}.mjs`), '--tree', tree, '--runs', '1'];
      args.push(...extra.map((a) => (a === '@tree' ? tree : a)));
      const r = spawnSync(process.execPath, args, { encoding: 'utf8', cwd: tmp.dir, timeout: 110_000 });
      expect(r.error, `${area}: ${String(r.error)}`).toBeUndefined();
      expect(
        r.status,
        `bench/${area}.mjs exited ${r.status}:\n${r.stderr.slice(-3000)}\n${r.stdout.slice(-2000)}`,
      ).toBe(0);
    },
    120_000,
  );
});
