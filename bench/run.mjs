#!/usr/bin/env node
// npm run bench [-- --tree DIR] [--only cpio,ext4,fat,read,disk,tar,container,squashfs,erofs,iso,smalltree,bios]
// Runs each area's comparison (bench/<area>.mjs) on the same tree, one after
// another; each one times tinyimage against the classic tools on the same
// input in one run and prints its table with ratios. Without --tree the
// standard tree (../shared/bench/mktree.mjs, or bench/mktree.mjs) is made in
// .cache/bench-tree. The smalltree area uses its own trees (.cache/small-20k
// and .cache/small-200k, made by ../shared/bench/mksmalltree.mjs when
// missing). Results are recorded by hand in docs/benchmarks.md with the date
// and machine.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { cpus, loadavg, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : d;
};
let tree = opt('--tree');
if (!tree) {
  tree = join(repo, '.cache/bench-tree');
  if (!existsSync(tree)) {
    const mk = resolve(repo, '../shared/bench/mktree.mjs');
    console.error(`bench: making the standard tree in ${tree}`);
    const r = spawnSync(process.execPath, [existsSync(mk) ? mk : join(here, 'mktree.mjs'), tree], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
}
const areas = opt('--only', 'cpio,ext4,fat,read,disk,tar,container,squashfs,erofs,iso,smalltree').split(',');
console.log(
  `# tinyimage benchmarks — ${new Date().toISOString()} — ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadavg()[0].toFixed(1)}, tree ${tree}`,
);
let failed = 0;
for (const a of areas) {
  const f = join(here, `${a}.mjs`);
  if (!existsSync(f)) {
    console.error(`bench: no bench/${a}.mjs`);
    failed++;
    continue;
  }
  console.log(`\n## ${a}\n`);
  const r = spawnSync(process.execPath, [f, '--tree', tree], { stdio: 'inherit' });
  if (r.status !== 0) {
    console.error(`bench: ${a} failed (exit ${r.status})`);
    failed++;
  }
}
process.exit(failed ? 1 : 0);
