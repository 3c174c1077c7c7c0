#!/usr/bin/env node
// ISO 9660 benchmark: `tinyimage mkfs iso9660` against `xorriso -as mkisofs
// -R -J` (Rock Ridge and Joliet both ways) on the same directory, interleaved
// runs, medians, peak RSS of each tool (GNU time), on the standard tree and
// on the small, metadata-heavy tree.
// Usage: npm run build && node bench/iso.mjs --tree DIR [--small DIR] [--runs N] [--json] [--keep]
//
// - --tree is the standard tree (bench/run.mjs passes it); --small defaults
//   to .cache/small-20k, made with ../shared/bench/mksmalltree.mjs when absent.
// - Every run starts the same way (as in bench/fat.mjs): its output removed,
//   `sync`, the tree read once so every tool finds it in the page cache, and
//   a scratch file of the image's size written and removed, so the kernel
//   has just-freed pages at hand (on this VM a page left free for seconds
//   goes back to the host and costs a fault to touch again).
// - Runs alternate (ours, xorriso, floor / xorriso, floor, ours / ...); the
//   medians are compared. The floor row reads every file and writes the
//   same bytes to one file (`find -type f | xargs cat > img`).
// - Both images are checked after the runs: xorriso lists both with the
//   same number of files.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { cacheDir, dist, repo } from './lib.mjs';

const { values } = parseArgs({
  options: {
    tree: { type: 'string' },
    small: { type: 'string' },
    runs: { type: 'string' },
    json: { type: 'boolean' },
    keep: { type: 'boolean' },
  },
});
const usage = 'usage: node bench/iso.mjs --tree DIR [--small DIR] [--runs N] [--json] [--keep]';
if (!values.tree) {
  console.error(usage);
  process.exit(2);
}
if (!existsSync(join(dist, 'node/cli/main.js'))) {
  console.error('bench/iso.mjs: run `npm run build` first');
  process.exit(1);
}
const runs = Number(values.runs ?? 3);
const work = mkdtempSync(join(tmpdir(), 'bench-iso-'));
const bin = join(repo, 'bin/tinyimage.js');

/** Wall seconds, CPU seconds (user + system) and peak RSS (KiB), from GNU time, of one command. */
function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync('/usr/bin/time', ['-f', 'MAXRSS %M CPU %U %S', cmd, ...args], { encoding: 'utf8', ...opts });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (exit ${r.status}): ${String(r.stderr).slice(-2000)}`);
  const m = /MAXRSS (\d+) CPU ([\d.]+) ([\d.]+)/.exec(r.stderr);
  return { seconds, rssKiB: Number(m?.[1] ?? 0), cpu: Number(m?.[2] ?? 0) + Number(m?.[3] ?? 0) };
}
function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 30, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The small tree: --small, or .cache/small-20k (made when missing). */
function smallTree() {
  if (values.small) return resolve(values.small);
  const dir = join(cacheDir, 'small-20k');
  if (existsSync(dir)) return dir;
  const mk = [
    resolve(repo, '../shared/bench/mksmalltree.mjs'),
    resolve(repo, '../../shared/bench/mksmalltree.mjs'),
  ].find(existsSync);
  if (!mk) return undefined;
  must(process.execPath, [mk, dir, '--files', '20000']);
  return dir;
}

/** Files xorriso lists in an image (an independent count). */
function fileCount(img) {
  return must('xorriso', ['-indev', img, '-find', '/', '-type', 'f'], { stdio: ['ignore', 'pipe', 'ignore'] })
    .split('\n')
    .filter(Boolean).length;
}

/** The same start for every timed run. */
function prepare(output, tree, size) {
  rmSync(output, { force: true });
  must('sync', []);
  must('sh', ['-c', 'find . -type f -print0 | xargs -0 cat > /dev/null'], { cwd: tree });
  const scratch = join(work, 'scratch');
  must('dd', ['if=/dev/zero', `of=${scratch}`, 'bs=1M', `count=${Math.ceil(size / 2 ** 20)}`, 'status=none']);
  rmSync(scratch);
}

function bench(tree) {
  const out = { ours: join(work, 'ours.iso'), xorriso: join(work, 'xorriso.iso'), floor: join(work, 'floor.img') };
  // the image size, for the scratch file
  must(process.execPath, [bin, 'mkfs', 'iso9660', '--root', tree, '-o', out.ours, '-q']);
  const size = statSync(out.ours).size;
  const tools = {
    ours: () => timed(process.execPath, [bin, 'mkfs', 'iso9660', '--root', tree, '-o', out.ours, '-q']),
    xorriso: () => timed('xorriso', ['-as', 'mkisofs', '-R', '-J', '-quiet', '-o', out.xorriso, tree]),
    floor: () => timed('sh', ['-c', `find . -type f -print0 | xargs -0 cat > '${out.floor}'`], { cwd: tree }),
  };
  const names = Object.keys(tools);
  const samples = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < runs; r++) {
    for (let k = 0; k < names.length; k++) {
      const name = names[(r + k) % names.length];
      prepare(out[name], tree, size);
      samples[name].push(tools[name]());
    }
  }
  const files = { ours: fileCount(out.ours), xorriso: fileCount(out.xorriso) };
  if (files.ours !== files.xorriso)
    throw new Error(`the images hold different numbers of files (ours ${files.ours}, xorriso ${files.xorriso})`);
  const row = (n) => ({
    seconds: +median(samples[n].map((s) => s.seconds)).toFixed(3),
    cpuSeconds: +median(samples[n].map((s) => s.cpu)).toFixed(2),
    peakRssMiB: +(median(samples[n].map((s) => s.rssKiB)) / 1024).toFixed(1),
    all: samples[n].map((s) => +s.seconds.toFixed(3)),
  });
  const res = { tree, files: files.ours, runs, ours: row('ours'), xorriso: row('xorriso'), floor: row('floor') };
  res.oursBytes = statSync(out.ours).size;
  res.xorrisoBytes = statSync(out.xorriso).size;
  res.ratio = +(res.ours.seconds / res.xorriso.seconds).toFixed(3);
  res.cpuRatio = +(res.ours.cpuSeconds / res.xorriso.cpuSeconds).toFixed(3);
  res.floorRatio = +(res.ours.seconds / res.floor.seconds).toFixed(2);
  return res;
}

try {
  const results = [bench(resolve(values.tree))];
  const small = smallTree();
  if (small) results.push(bench(small));
  else console.error('bench/iso.mjs: no small tree (--small DIR, or ../shared/bench/mksmalltree.mjs): skipped');
  const summary = { results, target: 1.0, loadAverage: loadavg()[0] };
  if (values.json) console.log(JSON.stringify(summary, null, 2));
  else {
    for (const r of results) {
      console.log(`\n${r.tree}: ${r.files} files; median of ${r.runs} interleaved runs`);
      console.log('tool                               wall s   ratio   cpu s  peak RSS MiB  image MiB   all runs');
      const line = (label, s, ratio, bytes) =>
        console.log(
          `${label.padEnd(33)}${s.seconds.toFixed(2).padStart(7)}  ${ratio.padStart(6)}  ${s.cpuSeconds.toFixed(2).padStart(6)}  ${String(s.peakRssMiB).padStart(12)}  ${bytes === undefined ? '        -' : (bytes / 2 ** 20).toFixed(1).padStart(9)}   ${s.all.map((x) => x.toFixed(2)).join(' ')}`,
        );
      line('tinyimage mkfs iso9660', r.ours, `${r.ratio.toFixed(2)}x`, r.oursBytes);
      line('xorriso -as mkisofs -R -J', r.xorriso, '1.00x', r.xorrisoBytes);
      line('floor: cat every file > img', r.floor, `${(r.floor.seconds / r.xorriso.seconds).toFixed(2)}x`);
      console.log(
        `target: <= 1.0x -> ${r.ratio <= 1.0 ? 'met' : 'NOT met'}; CPU ${r.cpuRatio}x xorriso's; ours is ${r.floorRatio}x the floor`,
      );
    }
    console.log(`load average ${summary.loadAverage.toFixed(1)}`);
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else console.error(`images kept in ${work}`);
}
