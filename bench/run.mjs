#!/usr/bin/env node
// npm run bench [-- --tree DIR] [--only cpio,ext4,fat,read] [--write-doc]
// Runs every bench/<area>.mjs on the same tree, one after another, each
// comparing tinyimage with the classic tools in one run, and prints the
// combined table. --write-doc refreshes the measured section of
// docs/benchmarks.md with the date and machine.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '..');
const args = process.argv.slice(2);
const opt = (n, d) => { const i = args.indexOf(n); return i >= 0 ? args[i + 1] : d; };
let tree = opt('--tree');
if (!tree) {
  tree = join(repo, '.cache/bench-tree');
  if (!existsSync(tree)) {
    const mk = resolve(repo, '../shared/bench/mktree.mjs');
    const script = existsSync(mk) ? mk : join(here, 'mktree.mjs');
    console.error(`bench: making the standard tree in ${tree}`);
    const r = spawnSync(process.execPath, [script, tree], { stdio: 'inherit' });
    if (r.status !== 0) process.exit(1);
  }
}
const areas = (opt('--only', 'cpio,ext4,fat,read,size')).split(',');
const results = [];
for (const a of areas) {
  const f = join(here, `${a}.mjs`);
  if (!existsSync(f)) { console.error(`bench: no bench/${a}.mjs, skipped`); continue; }
  console.error(`bench: ${a} ...`);
  const r = spawnSync(process.execPath, ['--expose-gc', f, '--tree', tree, '--json'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 26 });
  if (r.status !== 0) { console.error(`bench: ${a} failed (exit ${r.status})`); continue; }
  try { results.push({ area: a, rows: JSON.parse(r.stdout.trim().split('\n').pop()) }); }
  catch { console.error(`bench: ${a} printed no JSON`); }
}
const lines = ['| area | what | tinyimage (s) | classic tool | classic (s) | ratio | notes |', '|---|---|---|---|---|---|---|'];
for (const { area, rows } of results) for (const r of rows) {
  lines.push(`| ${area} | ${r.what} | ${r.ours?.toFixed?.(2) ?? r.ours} | ${r.tool ?? ''} | ${r.theirs?.toFixed?.(2) ?? r.theirs ?? ''} | ${r.ratio !== undefined ? r.ratio.toFixed(2) + 'x' : ''} | ${r.notes ?? ''} |`);
}
const table = lines.join('\n');
console.log(table);
if (args.includes('--write-doc')) {
  const doc = join(repo, 'docs/benchmarks.md');
  const stamp = `Measured ${new Date().toISOString().slice(0, 10)} on ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, tree ${tree}.`;
  const block = `<!-- bench:start -->\n${stamp}\n\n${table}\n<!-- bench:end -->`;
  let text = existsSync(doc) ? readFileSync(doc, 'utf8') : '# Benchmarks\n\n<!-- bench:start -->\n<!-- bench:end -->\n';
  text = text.replace(/<!-- bench:start -->[\s\S]*<!-- bench:end -->/, block);
  writeFileSync(doc, text);
  console.error(`bench: wrote ${doc}`);
}
