#!/usr/bin/env node
// Per-file cost (issue 16): the writers on the metadata-heavy small trees
// (.cache/small-20k and .cache/small-200k: 0-2 KiB files over N/40
// directories plus a flat directory of N/10 entries), against the classic
// tools and the copy floor, interleaved runs, medians of wall, CPU and peak RSS.
//
//   node bench/smalltree.mjs [--small DIR,DIR] [--runs N] [--only ROWS] [--mcopy] [--json] [--out DIR] [--keep]
//
// Rows (each one process tree under /usr/bin/time; outputs written to files):
//   floor          (cd T && find . -type f -print0 | xargs -0 cat > OUT): read every file once
//   ours cpio      tinyimage cpio --root T -o OUT.cpio
//   GNU cpio       (cd T && find . | cpio -o -H newc > OUT)
//   ours cpio.gz   tinyimage cpio --root T -o OUT.cpio.gz (level 6)
//   cpio | gzip    (cd T && find . | cpio -o -H newc | gzip -6 > OUT)
//   cpio | pigz    the same with pigz -6 (when installed)
//   ours ext4      tinyimage mkfs ext4 --root T -o OUT --size S
//   mke2fs -d      mke2fs -q -F -t ext4 -N n -d T OUT S (n: the tree's entries + 1,024)
//   ours fat32     tinyimage mkfs fat32 --root T -o OUT --size S
//   mkfs.fat+mcopy mkfs.fat -F 32 -C OUT S && mcopy -s -i OUT T/* ::/ (one run: it takes
//                  minutes on 20,000 files; only on trees up to 30,000 entries unless --mcopy)
// S is the size tinyimage picks for the tree (first run), used by both. Each timed run starts
// with its output removed (outside the timing), so every tool writes a new file.
// --only takes row groups: cpio,gz,ext4,fat (the floor always runs).
// Checks after the runs: GNU cpio -it lists every entry of our archives,
// e2fsck -fn and fsck.fat -n pass on our images.
// Targets: cpio <= 1.0x GNU cpio; ext4 <= 0.8x mke2fs -d.
// The trees are made with ../shared/bench/mksmalltree.mjs when missing
// (skipped with a note when that script is not there).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { have, repo } from './lib.mjs';

const args = process.argv.slice(2);
const val = (n) => {
  const i = args.indexOf(n);
  return i >= 0 ? args[i + 1] : undefined;
};
if (args.includes('--help')) {
  console.error(
    'usage: node bench/smalltree.mjs [--small DIR,DIR] [--runs N] [--only cpio,gz,ext4,fat] [--mcopy] [--json] [--out DIR] [--keep]',
  );
  process.exit(0);
}
const bin = join(repo, 'bin', 'tinyimage.js');
if (!existsSync(join(repo, 'dist/node/cli/main.js'))) {
  console.error('bench/smalltree.mjs: run `npm run build` first');
  process.exit(1);
}
if (spawnSync('/usr/bin/time', ['-f', '%e', 'true']).status !== 0) {
  console.error('bench/smalltree.mjs: needs GNU time at /usr/bin/time (apt install time)');
  process.exit(1);
}
const runs = Number(val('--runs') ?? 3);
const only = new Set((val('--only') ?? 'cpio,gz,ext4,fat').split(','));
const json = args.includes('--json');
const trees = (val('--small') ?? '.cache/small-20k,.cache/small-200k').split(',').map((t) => resolve(repo, t));
const scratch = val('--out') ? resolve(val('--out')) : mkdtempSync(join(tmpdir(), 'tinyimage-bench-smalltree-'));
mkdirSync(scratch, { recursive: true });
const q = (s) => `'${s.replaceAll("'", "'\\''")}'`;

/** Make a missing small tree with the shared generator (N from the directory's name: small-20k = 20,000). */
function ensureTree(t) {
  if (existsSync(t)) return true;
  const mk = resolve(repo, '../shared/bench/mksmalltree.mjs');
  const m = /small-(\d+)k$/.exec(t);
  if (!existsSync(mk) || !m) {
    console.error(`bench/smalltree.mjs: ${t} is missing and ${mk} is not there to make it; skipped`);
    return false;
  }
  console.error(`bench/smalltree.mjs: making ${t}`);
  return (
    spawnSync(process.execPath, [mk, t, '--files', String(Number(m[1]) * 1000)], { stdio: 'inherit' }).status === 0
  );
}

/** Run a shell command under /usr/bin/time: wall s, CPU s (user + sys, children included), peak RSS KiB. */
function timed(cmd) {
  const tf = join(scratch, 'time.txt');
  const r = spawnSync('/usr/bin/time', ['-f', '%e %U %S %M', '-o', tf, 'sh', '-c', cmd], {
    stdio: ['ignore', 'ignore', 'pipe'],
    encoding: 'utf8',
  });
  if (r.status !== 0) throw new Error(`failed (${r.status}): ${cmd}\n${r.stderr}`);
  const [e, u, s, m] = readFileSync(tf, 'utf8').trim().split('\n').pop().split(/\s+/).map(Number);
  return { wall: e, cpu: +(u + s).toFixed(2), rssKiB: m };
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const count = (cmd) => Number(spawnSync('sh', ['-c', cmd], { encoding: 'utf8' }).stdout.trim());

function report(r) {
  if (json) return console.log(JSON.stringify(r, null, 2));
  console.log(`tree: ${r.tree} (${r.entries} entries), median of ${r.runs} interleaved runs, load ${r.load}`);
  const w = Math.max(...Object.keys(r.rows).map((k) => k.length));
  console.log(`${'run'.padEnd(w)}  ${'wall s'.padStart(7)}  ${'CPU s'.padStart(6)}  ${'RSS MiB'.padStart(7)}  x floor`);
  const floor = r.rows.floor.wall;
  for (const [k, v] of Object.entries(r.rows))
    console.log(
      `${k.padEnd(w)}  ${v.wall.toFixed(2).padStart(7)}  ${v.cpu.toFixed(2).padStart(6)}  ${(v.rssKiB / 1024).toFixed(0).padStart(7)}  ${(v.wall / floor).toFixed(1).padStart(7)}`,
    );
  const show = (label, x, target) =>
    x.wall === undefined
      ? undefined
      : `${label}: ${x.wall}x wall, ${x.cpu}x CPU${target ? (x.wall <= target ? ` (target ${target}x met)` : ` (target ${target}x missed)`) : ''}`;
  for (const line of [
    show('ours cpio vs GNU cpio', r.cpioVsGnu, 1.0),
    show('ours cpio.gz vs cpio | gzip -6', r.gzVsGzip6),
    show('ours ext4 vs mke2fs -d', r.ext4VsMke2fs, 0.8),
    show('ours fat32 vs mkfs.fat + mcopy', r.fatVsMcopy),
  ])
    if (line) console.log(line);
  for (const [k, why] of Object.entries(r.failed)) console.log(`${k}: FAILED: ${why}`);
  console.log(
    `checks: ${Object.entries(r.checks)
      .map(([k, ok]) => `${k} ${ok ? 'ok' : 'FAILED'}`)
      .join(', ')}\n`,
  );
}

const results = [];
let treeFailed = false;
for (const t of trees) {
  if (!ensureTree(t)) continue;
  try {
    results.push(benchTree(t));
    report(results[results.length - 1]);
  } catch (e) {
    console.error(`bench/smalltree.mjs: ${t}: ${e.message}`);
    treeFailed = true;
  } finally {
    for (const f of readdirSync(scratch)) rmSync(join(scratch, f), { force: true });
  }
}
if (!args.includes('--keep') && !val('--out')) rmSync(scratch, { recursive: true, force: true });
if (treeFailed || results.some((r) => Object.values(r.checks).includes(false))) process.exit(1);

/** Every row on tree `t`, interleaved runs; throws when a sizing run fails. */
function benchTree(t) {
  const o = (n) => join(scratch, n);
  const ours = (sub, out, extra = '') => `node ${q(bin)} ${sub} --root ${q(t)} -o ${q(out)} -q ${extra}`;
  const inT = (pipeline, out) => `cd ${q(t)} && ${pipeline} > ${q(out)}`;
  const entries = count(`cd ${q(t)} && find . | wc -l`);
  // warm the page cache, and let the first runs of ours pick the image sizes
  spawnSync('sh', ['-c', `cd ${q(t)} && find . -type f -print0 | xargs -0 cat > /dev/null`]);
  const once = {};
  // every timed run starts with its output removed (outside the timing), as in bench/fat.mjs:
  // replacing an existing image is not the same work for every tool (our rename frees the old
  // file in the kernel, 33-56 ms for an 87 MB image; mke2fs -F reuses it in place; `>` truncates)
  const outs = {};
  const rows = { floor: inT('find . -type f -print0 | xargs -0 cat', o('floor')) };
  outs.floor = o('floor');
  if (only.has('cpio')) {
    rows['ours cpio'] = ours('cpio', (outs['ours cpio'] = o('ours.cpio')));
    rows['GNU cpio'] = inT('find . | cpio -o -H newc --quiet', (outs['GNU cpio'] = o('gnu.cpio')));
  }
  if (only.has('gz')) {
    rows['ours cpio.gz'] = ours('cpio', (outs['ours cpio.gz'] = o('ours.cpio.gz')));
    rows['cpio | gzip -6'] = inT(
      'find . | cpio -o -H newc --quiet | gzip -6',
      (outs['cpio | gzip -6'] = o('gnu.cpio.gz')),
    );
    if (have('pigz'))
      rows['cpio | pigz -6'] = inT(
        'find . | cpio -o -H newc --quiet | pigz -6',
        (outs['cpio | pigz -6'] = o('pigz.cpio.gz')),
      );
  }
  let extSize, fatSize;
  if (only.has('ext4')) {
    timed(ours('mkfs ext4', o('ours.ext4')));
    extSize = statSync(o('ours.ext4')).size;
    rows['ours ext4'] = ours('mkfs ext4', o('ours.ext4'), `--size ${extSize}`);
    outs['ours ext4'] = o('ours.ext4');
    outs['mke2fs -d'] = o('mke2fs.ext4');
    rows['mke2fs -d'] =
      `mke2fs -q -F -t ext4 -N ${entries + 1024} -d ${q(t)} ${q(o('mke2fs.ext4'))} ${Math.floor(extSize / 1024)}k`;
  }
  if (only.has('fat') && have('mkfs.fat') && have('mcopy')) {
    timed(ours('mkfs fat32', o('ours.fat')));
    fatSize = statSync(o('ours.fat')).size;
    rows['ours fat32'] = ours('mkfs fat32', o('ours.fat'), `--size ${fatSize}`);
    outs['ours fat32'] = o('ours.fat');
    const top = readdirSync(t)
      .map((n) => q(join(t, n)))
      .join(' ');
    // mcopy takes minutes on 20,000 files (each name is looked up in its directory from the start):
    // one run, and none on larger trees unless --mcopy
    if (entries <= 30000 || args.includes('--mcopy'))
      once['mkfs.fat + mcopy'] =
        `rm -f ${q(o('classic.fat'))} && mkfs.fat -F 32 -C ${q(o('classic.fat'))} ${Math.floor(fatSize / 1024)} >/dev/null && mcopy -s -i ${q(o('classic.fat'))} ${top} ::/`;
  }
  const times = Object.fromEntries([...Object.keys(rows), ...Object.keys(once)].map((k) => [k, []]));
  const failed = {};
  const attempt = (k, cmd) => {
    if (failed[k]) return;
    if (outs[k]) rmSync(outs[k], { force: true });
    try {
      times[k].push(timed(cmd));
    } catch (e) {
      failed[k] = String(e.message).split('\n').slice(0, 3).join(' ');
    }
  };
  for (let r = 0; r < runs; r++) for (const [k, cmd] of Object.entries(rows)) attempt(k, cmd);
  for (const [k, cmd] of Object.entries(once)) attempt(k, cmd);
  for (const k of Object.keys(failed)) delete times[k];
  const med = Object.fromEntries(
    Object.entries(times).map(([k, v]) => [
      k,
      { wall: median(v.map((x) => x.wall)), cpu: median(v.map((x) => x.cpu)), rssKiB: median(v.map((x) => x.rssKiB)) },
    ]),
  );
  const checks = {};
  for (const k of Object.keys(failed)) checks[`${k} ran`] = false;
  if (med['ours cpio'])
    checks.cpioNames = count(`cpio -it --quiet < ${q(o('ours.cpio'))} 2>/dev/null | wc -l`) === entries;
  if (med['ours cpio.gz'])
    checks.cpioGzNames = count(`gzip -dc ${q(o('ours.cpio.gz'))} | cpio -it --quiet 2>/dev/null | wc -l`) === entries;
  if (med['ours ext4']) checks.e2fsck = spawnSync('e2fsck', ['-fn', o('ours.ext4')], { stdio: 'ignore' }).status === 0;
  if (med['ours fat32'])
    checks.fsckFat = spawnSync('fsck.fat', ['-n', o('ours.fat')], { stdio: 'ignore' }).status === 0;
  const ratio = (a, b, f) => (med[a] && med[b] ? +(med[a][f] / med[b][f]).toFixed(2) : undefined);
  return {
    tree: t,
    entries,
    runs,
    load: +loadavg()[0].toFixed(1),
    extSize,
    fatSize,
    rows: med,
    failed,
    checks,
    cpioVsGnu: { wall: ratio('ours cpio', 'GNU cpio', 'wall'), cpu: ratio('ours cpio', 'GNU cpio', 'cpu') },
    gzVsGzip6: {
      wall: ratio('ours cpio.gz', 'cpio | gzip -6', 'wall'),
      cpu: ratio('ours cpio.gz', 'cpio | gzip -6', 'cpu'),
    },
    ext4VsMke2fs: { wall: ratio('ours ext4', 'mke2fs -d', 'wall'), cpu: ratio('ours ext4', 'mke2fs -d', 'cpu') },
    fatVsMcopy: {
      wall: ratio('ours fat32', 'mkfs.fat + mcopy', 'wall'),
      cpu: ratio('ours fat32', 'mkfs.fat + mcopy', 'cpu'),
    },
  };
}
