#!/usr/bin/env node
// cpio / cpio.gz benchmark: ours against the classic pipelines, one run each,
// same input tree, outputs written to files.
//
//   node bench/cpio.mjs --tree DIR [--json] [--out DIR] [--threads N] [--keep]
//
// Rows (all wall-clock, end to end, including the directory walk):
//   ours cpio          tinyimage cpio --root DIR -o OUT.cpio
//   GNU cpio           (cd DIR && find . | cpio -o -H newc > OUT)
//   ours cpio.gz       tinyimage cpio --root DIR -o OUT.cpio.gz (level 6, parallel)
//   cpio | gzip -6     (cd DIR && find . | cpio -o -H newc | gzip -6 > OUT)
//   cpio | pigz -6     (cd DIR && find . | cpio -o -H newc | pigz -6 > OUT)
// Targets (issue 2): raw <= 1.0x GNU cpio; gz <= 0.6x cpio|gzip -6 with output <= 2% larger.
// Needs `npm run build` first (runs bin/tinyimage.js, i.e. dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, have, repo } from './lib.mjs';

const bin = join(repo, 'bin', 'tinyimage.js');
const {
  val,
  tree: dir,
  json,
  outDir: mkOut,
  done,
} = benchArgs('cpio', '--tree DIR [--json] [--out DIR] [--threads N] [--keep]', 'node/cli/main.js');
const outDir = mkOut();
const threads = val('--threads');

function timed(label, cmd, argv, opts, out) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${label} failed (${r.status}): ${r.stderr}`);
  return { name: label, seconds: +s.toFixed(3), bytes: statSync(out).size };
}
const sh = (label, pipeline, out) => timed(label, 'sh', ['-c', `${pipeline} > '${out}'`], { cwd: dir }, out);
const ours = (label, out) =>
  timed(
    label,
    process.execPath,
    [bin, 'cpio', '--root', dir, '-o', out, '-q', ...(threads ? ['--threads', threads] : [])],
    {},
    out,
  );

// warm the page cache so the first row is not penalized
execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet > /dev/null'], { cwd: dir });

const rows = [];
rows.push(ours('ours cpio', join(outDir, 'ours.cpio')));
rows.push(sh('GNU cpio', 'find . | cpio -o -H newc --quiet', join(outDir, 'gnu.cpio')));
rows.push(ours('ours cpio.gz', join(outDir, 'ours.cpio.gz')));
rows.push(sh('cpio | gzip -6', 'find . | cpio -o -H newc --quiet | gzip -6', join(outDir, 'gnu.cpio.gz')));
if (have('pigz'))
  rows.push(sh('cpio | pigz -6', 'find . | cpio -o -H newc --quiet | pigz -6', join(outDir, 'pigz.cpio.gz')));

const by = Object.fromEntries(rows.map((r) => [r.name, r]));
const ratio = (a, b) => (by[a] && by[b] ? +(by[a].seconds / by[b].seconds).toFixed(3) : undefined);
const sizeRatio = (a, b) => (by[a] && by[b] ? +(by[a].bytes / by[b].bytes).toFixed(4) : undefined);
const gzOk = spawnSync('gzip', ['-t', join(outDir, 'ours.cpio.gz')]).status === 0;
const summary = {
  tree: dir,
  rows,
  rawTimeVsGnuCpio: ratio('ours cpio', 'GNU cpio'),
  gzTimeVsGzip6: ratio('ours cpio.gz', 'cpio | gzip -6'),
  gzTimeVsPigz6: ratio('ours cpio.gz', 'cpio | pigz -6'),
  gzSizeVsGzip6: sizeRatio('ours cpio.gz', 'cpio | gzip -6'),
  oursGzipTestPasses: gzOk,
  targets: { rawTimeVsGnuCpio: 1.0, gzTimeVsGzip6: 0.6, gzSizeVsGzip6: 1.02 },
};
done();

if (json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`tree: ${dir}`);
  console.log(`${'run'.padEnd(w)}  ${'wall s'.padStart(8)}  ${'output MiB'.padStart(10)}`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(w)}  ${r.seconds.toFixed(3).padStart(8)}  ${(r.bytes / 1048576).toFixed(1).padStart(10)}`,
    );
  const mark = (v, t) => (v === undefined ? 'n/a' : `${v}x ${v <= t ? '(target met)' : `(target ${t}x missed)`}`);
  console.log(`raw cpio time vs GNU cpio:      ${mark(summary.rawTimeVsGnuCpio, 1.0)}`);
  console.log(`cpio.gz time vs cpio | gzip -6: ${mark(summary.gzTimeVsGzip6, 0.6)}`);
  console.log(`cpio.gz time vs cpio | pigz -6: ${summary.gzTimeVsPigz6 ?? 'n/a'}x`);
  console.log(`cpio.gz size vs gzip -6:        ${mark(summary.gzSizeVsGzip6, 1.02)}`);
  console.log(`gzip -t on our cpio.gz:         ${gzOk ? 'ok' : 'FAILED'}`);
}
