#!/usr/bin/env node
// EROFS benchmark: ours (writeErofsFile: uncompressed, tails inline) against
// `mkfs.erofs OUT DIR` (erofs-utils, uncompressed, its defaults), on the
// standard tree and on the small (metadata-heavy) tree, interleaved runs,
// medians of wall time, CPU seconds, peak RSS of each, image sizes.
//
//   node bench/erofs.mjs --tree DIR [--small DIR] [--runs N] [--json] [--out DIR] [--keep]
//
// --small defaults to .cache/small-20k (made with
// ../shared/bench/mksmalltree.mjs when missing). Each run of each tool starts
// with its output removed; runs alternate ours/mkfs.erofs/mkfs.erofs/ours...
// Peak RSS and CPU seconds (user + sys): ours from process.resourceUsage()
// in the child (the directory scan included), mkfs.erofs from GNU time.
// Target (issue 17): time <= 0.8x mkfs.erofs. Ours is checked with
// fsck.erofs after the runs. Needs `npm run build`.
import { spawnSync } from 'node:child_process';
import { existsSync, rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { benchArgs, cacheDir, dist, have, repo } from './lib.mjs';

const {
  val,
  has,
  tree: bigTree,
  json,
  outDir: mkOut,
  done,
} = benchArgs('erofs', '--tree DIR [--small DIR] [--runs N] [--json] [--out DIR] [--keep]', 'node/erofs/write.js');
if (!have('mkfs.erofs')) {
  console.error('bench/erofs.mjs: mkfs.erofs is not installed (erofs-utils)');
  process.exit(1);
}
const outDir = mkOut();
const runs = Math.max(1, Number(val('--runs') ?? 3));
const gnuTime = spawnSync('/usr/bin/time', ['-f', '%M', 'true']).status === 0;

const small = val('--small') ? resolve(val('--small')) : join(cacheDir, 'small-20k');
if (!existsSync(small)) {
  const mk = resolve(repo, '../shared/bench/mksmalltree.mjs');
  if (!existsSync(mk)) {
    console.error(`bench/erofs.mjs: no small tree at ${small} and no ${mk} to make one; pass --small DIR`);
    process.exit(1);
  }
  const r = spawnSync(process.execPath, [mk, small], { stdio: 'inherit' });
  if (r.status !== 0) process.exit(1);
}

// child: scan the directory and write the image in-process, report peak RSS and CPU
const child = `const { treeFromHostDir } = await import(${JSON.stringify(pathToFileURL(join(dist, 'node/host/tree.js')).href)});
const { writeErofsFile } = await import(${JSON.stringify(pathToFileURL(join(dist, 'node/erofs/write.js')).href)});
const [dir, out] = process.argv.slice(1);
const s = await writeErofsFile(treeFromHostDir(dir), out);
const u = process.resourceUsage();
process.stderr.write('MAXRSS_KB ' + u.maxRSS + '\\nCPU_S ' + (u.userCPUTime + u.systemCPUTime) / 1e6 + '\\n');
process.stdout.write(JSON.stringify({ inodes: s.inodes, compact: s.compactInodes, inline: s.inlineInodes, metaBlocks: s.metaBlocks }) + '\\n');`;

function ours(dir, out) {
  rmSync(out, { force: true });
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, dir, out], {
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`ours failed (${r.status}): ${r.stderr}`);
  return {
    seconds: s,
    cpu: Number(/CPU_S ([\d.]+)/.exec(r.stderr)?.[1] ?? NaN),
    bytes: statSync(out).size,
    rssMiB: Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024,
    info: JSON.parse(r.stdout.trim()),
  };
}

function theirs(dir, out) {
  rmSync(out, { force: true });
  const argv = ['--quiet', out, dir];
  const t0 = process.hrtime.bigint();
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', 'MAXRSS_KB %M\nCPU %U %S', 'mkfs.erofs', ...argv], { encoding: 'utf8' })
    : spawnSync('mkfs.erofs', argv, { encoding: 'utf8' });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`mkfs.erofs failed (${r.status}): ${r.stderr}`);
  const cpu = /CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return {
    seconds: s,
    cpu: cpu ? Number(cpu[1]) + Number(cpu[2]) : NaN,
    bytes: statSync(out).size,
    rssMiB: Number(/MAXRSS_KB (\d+)/.exec(r.stderr)?.[1] ?? 0) / 1024,
  };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

function compare(name, dir) {
  // warm the page cache so the first run is not penalized
  spawnSync('sh', ['-c', 'find . -type f -exec cat {} + > /dev/null'], { cwd: dir });
  const o = [],
    m = [];
  const oursOut = join(outDir, `${name}-ours.erofs`),
    theirsOut = join(outDir, `${name}-mkfs.erofs`);
  for (let i = 0; i < runs; i++) {
    if (i % 2 === 0) {
      o.push(ours(dir, oursOut));
      m.push(theirs(dir, theirsOut));
    } else {
      m.push(theirs(dir, theirsOut));
      o.push(ours(dir, oursOut));
    }
  }
  const f = spawnSync('fsck.erofs', [oursOut], { encoding: 'utf8' });
  const check = f.status === 0 && !/<E>/.test(f.stdout + f.stderr);
  const row = (xs) => ({
    seconds: +median(xs.map((x) => x.seconds)).toFixed(3),
    all: xs.map((x) => +x.seconds.toFixed(3)),
    cpuSeconds: +median(xs.map((x) => x.cpu)).toFixed(2),
    bytes: xs[0].bytes,
    peakRssMiB: +Math.max(...xs.map((x) => x.rssMiB)).toFixed(1),
  });
  const r = { tree: dir, ours: row(o), mkfsErofs: row(m), info: o[0].info, fsckAccepts: check };
  r.timeRatio = +(r.ours.seconds / r.mkfsErofs.seconds).toFixed(3);
  r.sizeRatio = +(r.ours.bytes / r.mkfsErofs.bytes).toFixed(4);
  r.cpuRatio = +(r.ours.cpuSeconds / r.mkfsErofs.cpuSeconds).toFixed(3);
  return r;
}

const results = [compare('standard', bigTree), compare('small', small)];
const summary = { runs, loadAverage: loadavg().map((x) => +x.toFixed(2)), targets: { timeRatio: 0.8 }, results };
done();
if (json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  for (const r of results) {
    console.log(`tree: ${r.tree} (${r.info.inodes} inodes)   medians of ${runs} interleaved runs`);
    const line = (name, x) =>
      `  ${name.padEnd(10)} ${x.seconds.toFixed(3).padStart(8)} s  cpu ${String(x.cpuSeconds).padStart(6)} s  ` +
      `${(x.bytes / 1048576).toFixed(2).padStart(9)} MiB  peak RSS ${x.peakRssMiB} MiB   runs ${x.all.join(' ')}`;
    console.log(line('ours', r.ours));
    console.log(line('mkfs.erofs', r.mkfsErofs));
    console.log(
      `  time ${r.timeRatio}x (cpu ${r.cpuRatio}x) ${r.timeRatio <= 0.8 ? '(target 0.8x met)' : '(target 0.8x missed)'}, ` +
        `size ${r.sizeRatio}x, fsck.erofs ${r.fsckAccepts ? 'ok' : 'FAILED'}, ` +
        `${r.info.compact} compact inodes, ${r.info.inline} with inline data, ${r.info.metaBlocks} metadata blocks`,
    );
  }
  console.log(`load average: ${summary.loadAverage.join(' ')}`);
}
if (has('--strict') && results.some((r) => !r.fsckAccepts)) process.exit(1);
