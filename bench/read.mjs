#!/usr/bin/env node
// Reading an image through the public API (openImage) against reading the
// same files from the host directory with node:fs, in ONE run.
//
//   node bench/read.mjs --tree DIR [--image IMG] [--json] [--warm-only]
//
// Makes an ext4 image of DIR with writeExt4 (what `tinyimage mkfs ext4`
// runs) unless --image names one, then measures
//   (a) host:  walk DIR with readdirSync + lstatSync, readFileSync every file
//   (b) ours:  openImage(IMG), walk, img.readFile() every file
//   (c) ours:  openImage(IMG), walk every entry reading metadata only
//   (d) host:  walk DIR with readdirSync + lstatSync only (for reference)
// cold (page cache dropped before each: `sync; echo 3 > /proc/sys/vm/drop_caches`,
// needs root; skipped with a note otherwise) and warm (after one pass of each).
// Targets (issue 6): (b) <= 1.5x (a); (c) faster than (a).
// Rows: { what, ours, tool, theirs, ratio, notes } (seconds, ratio = ours/theirs);
// with --json the last line of stdout is the JSON array.
// Needs `npm run build` first (imports ../dist).
import { execSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir, loadavg } from 'node:os';
import { join } from 'node:path';
import { benchArgs, imp } from './lib.mjs';

const {
  val,
  has,
  tree: dir,
  json,
} = benchArgs('read', '--tree DIR [--image IMG] [--json] [--warm-only]', 'node/index.js');
const lib = await imp('node/index.js');
const { FileDevice } = await imp('node/index.js');
const log = (m) => {
  if (!json) console.log(m);
  else console.error(m);
};

let image = val('--image');
let tmp;
let buildSeconds;
if (!image) {
  tmp = mkdtempSync(join(tmpdir(), 'tinyimage-bench-read-'));
  image = join(tmp, 'tree.ext4');
  const t0 = performance.now();
  const tree = lib.treeFromHostDir(dir);
  const size = lib.ext4MinimumSize(tree);
  const dev = FileDevice.create(image, size);
  try {
    await lib.writeExt4(tree, dev);
    dev.flush?.();
  } finally {
    dev.close();
  }
  buildSeconds = (performance.now() - t0) / 1000;
  log(`made ${image} (${(size / 2 ** 20).toFixed(0)} MiB) with writeExt4 in ${buildSeconds.toFixed(1)} s`);
}

function hostWalk(read) {
  let files = 0,
    bytes = 0,
    entries = 0;
  const visit = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      entries++;
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) {
        files++;
        bytes += read ? readFileSync(p).length : st.size;
      }
    }
  };
  visit(dir);
  return { files, bytes, entries };
}

async function oursWalk(read) {
  const img = await lib.openImage(image);
  try {
    let files = 0,
      bytes = 0,
      entries = 0,
      sink = 0;
    for (const e of img.walk()) {
      if (e.path === '/') continue;
      entries++;
      const n = e.node;
      sink += n.mode + n.uid + n.mtime.sec;
      if (n.type !== 'file') continue;
      files++;
      if (!read) {
        bytes += n.content.size;
        continue;
      }
      bytes += (await img.readFile(e.path)).length;
    }
    if (sink < 0) console.error(sink);
    return { files, bytes, entries };
  } finally {
    img.close();
  }
}

let canDrop = !has('--warm-only');
function dropCaches() {
  if (!canDrop) return false;
  try {
    execSync('sync');
    writeFileSync('/proc/sys/vm/drop_caches', '3');
    return true;
  } catch {
    canDrop = false;
    return false;
  }
}

async function time(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

const load0 = loadavg()[0];
const results = {};
if (dropCaches()) {
  for (const [k, fn] of [
    ['a', () => hostWalk(true)],
    ['b', () => oursWalk(true)],
    ['c', () => oursWalk(false)],
    ['d', () => hostWalk(false)],
  ]) {
    dropCaches();
    results[`cold-${k}`] = await time(fn);
  }
}
// warm: one pass of each side first, then the measured passes
hostWalk(true);
await oursWalk(true);
results['warm-a'] = await time(() => hostWalk(true));
results['warm-b'] = await time(() => oursWalk(true));
results['warm-c'] = await time(() => oursWalk(false));
results['warm-d'] = await time(() => hostWalk(false));
const load1 = loadavg()[0];
if (tmp) rmSync(tmp, { recursive: true, force: true });

const a = results['warm-a'];
if (results['warm-b'].files !== a.files || results['warm-b'].bytes !== a.bytes) {
  console.error(
    `warning: counts differ (ours ${results['warm-b'].files} files / ${results['warm-b'].bytes} bytes, host ${a.files} / ${a.bytes})`,
  );
}
const mib = (a.bytes / 2 ** 20).toFixed(0);
const loadNote = `load ${load0.toFixed(1)}->${load1.toFixed(1)}`;
const rows = [];
for (const phase of ['cold', 'warm']) {
  const r = (k) => results[`${phase}-${k}`];
  if (!r('a')) continue;
  rows.push({
    what: `${phase}: read all ${a.files} files (${mib} MiB)`,
    ours: r('b').seconds,
    tool: 'node:fs readdir+lstat+readFileSync',
    theirs: r('a').seconds,
    ratio: r('b').seconds / r('a').seconds,
    notes: `(b) openImage+walk+readFile vs (a); target <= 1.5x; ${loadNote}`,
  });
  rows.push({
    what: `${phase}: open + walk all metadata (${r('c').entries} entries)`,
    ours: r('c').seconds,
    tool: 'node:fs readdir+lstat+readFileSync',
    theirs: r('a').seconds,
    ratio: r('c').seconds / r('a').seconds,
    notes: '(c) vs (a); target < 1x',
  });
  rows.push({
    what: `${phase}: open + walk all metadata (${r('c').entries} entries)`,
    ours: r('c').seconds,
    tool: 'node:fs readdir+lstat',
    theirs: r('d').seconds,
    ratio: r('c').seconds / r('d').seconds,
    notes: '(c) vs (d) metadata only on both sides; for reference',
  });
}
if (!results['cold-a'])
  rows.push({
    what: 'cold cache',
    ours: null,
    tool: '',
    theirs: null,
    ratio: null,
    notes: has('--warm-only')
      ? 'not measured (--warm-only)'
      : 'not measured: cannot write /proc/sys/vm/drop_caches (not root?); warm numbers only',
  });
if (buildSeconds !== undefined)
  rows.push({
    what: 'make the image (writeExt4)',
    ours: buildSeconds,
    tool: '',
    theirs: null,
    ratio: null,
    notes: 'setup, for information',
  });

for (const r of rows) {
  const f = (x) => (x == null ? '-' : x.toFixed(3));
  log(
    `${r.what.padEnd(52)} ours ${f(r.ours).padStart(8)} s  ${r.tool ? `${r.tool} ${f(r.theirs)} s` : ''}  ${r.ratio == null ? '' : r.ratio.toFixed(2) + 'x'}  ${r.notes}`,
  );
}
if (json) console.log(JSON.stringify(rows));
