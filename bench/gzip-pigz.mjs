#!/usr/bin/env node
// cpio.gz against `find . | cpio -o -H newc | pigz -6` (issue 16): interleaved
// fresh processes, medians of wall time and of CPU time (user+sys of the
// process tree, from /usr/bin/time), output sizes, load average.
//
//   node bench/gzip-pigz.mjs --tree DIR [--runs 5] [--json] [--out DIR] [--keep]
//        [--env NAME=VALUE ...]   (extra environment for our runs, e.g. UV_THREADPOOL_SIZE=2)
//
// Needs `npx tsc -b` first (runs bin/tinyimage.js, i.e. dist/).
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { benchArgs, repo } from './lib.mjs';

const bin = join(repo, 'bin', 'tinyimage.js');
const {
  args,
  val,
  tree: dir,
  json,
  outDir: mkOut,
  done,
} = benchArgs(
  'gzip-pigz',
  '--tree DIR [--runs N] [--json] [--out DIR] [--keep] [--env NAME=VALUE ...]',
  'node/cli/main.js',
);
const outDir = mkOut();
const runs = Number(val('--runs') ?? 5);
const env = { ...process.env };
args.forEach((a, i) => {
  if (a === '--env') {
    const [k, ...v] = args[i + 1].split('=');
    env[k] = v.join('=');
  }
});

function timed(cmd, argv, opts, out) {
  const tf = join(outDir, 'time.txt');
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-o', tf, '-f', '%U %S %M', cmd, ...argv], {
    stdio: ['ignore', 'ignore', 'pipe'],
    ...opts,
  });
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${argv.join(' ')} failed (${r.status}): ${r.stderr}`);
  const [u, s, rss] = readFileSync(tf, 'utf8').trim().split('\n').at(-1).split(' ').map(Number);
  return { wall, cpu: u + s, rssMiB: rss / 1024, bytes: statSync(out).size, load: loadavg()[0] };
}
const ours = () => {
  const out = join(outDir, 'ours.cpio.gz');
  return timed(process.execPath, [bin, 'cpio', '--compress', 'gzip', '--root', dir, '-o', out, '-q'], { env }, out);
};
const pigz = () => {
  const out = join(outDir, 'pigz.cpio.gz');
  return timed('sh', ['-c', `find . | cpio -o -H newc --quiet | pigz -6 > '${out}'`], { cwd: dir }, out);
};

// warm the page cache
execFileSync('sh', ['-c', 'find . | cpio -o -H newc --quiet > /dev/null'], { cwd: dir });
const rows = { ours: [], pigz: [] };
for (let i = 0; i < runs; i++) {
  const order = i % 2 ? ['pigz', 'ours'] : ['ours', 'pigz'];
  for (const k of order) {
    const r = k === 'ours' ? ours() : pigz();
    rows[k].push(r);
    if (!json)
      console.error(
        `${k} run ${i + 1}: ${r.wall.toFixed(2)} s wall, ${r.cpu.toFixed(2)} s cpu, ${r.bytes} bytes, load ${r.load.toFixed(2)}`,
      );
  }
}
const med = (a) => {
  const s = [...a].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const sum = (k) => ({
  wall: +med(rows[k].map((r) => r.wall)).toFixed(2),
  wallRange: [Math.min(...rows[k].map((r) => r.wall)), Math.max(...rows[k].map((r) => r.wall))].map(
    (x) => +x.toFixed(2),
  ),
  cpu: +med(rows[k].map((r) => r.cpu)).toFixed(2),
  rssMiB: Math.round(Math.max(...rows[k].map((r) => r.rssMiB))),
  bytes: rows[k].at(-1).bytes,
});
const o = sum('ours');
const p = sum('pigz');
const result = {
  tree: dir,
  runs,
  load: [
    Math.min(...[...rows.ours, ...rows.pigz].map((r) => r.load)),
    Math.max(...[...rows.ours, ...rows.pigz].map((r) => r.load)),
  ].map((x) => +x.toFixed(2)),
  ours: o,
  pigz: p,
  wallRatio: +(o.wall / p.wall).toFixed(3),
  cpuRatio: +(o.cpu / p.cpu).toFixed(3),
  sizeRatio: +(o.bytes / p.bytes).toFixed(4),
};
console.log(json ? JSON.stringify(result) : result);
done();
