#!/usr/bin/env node
// ext4 reader benchmark: reading a mke2fs -d image of DIR through openExt4
// against reading DIR itself from the host with node:fs, one run each (after
// one warm-up pass of both so the page cache is equally warm).
//
//   node bench/ext4-read.mjs --tree DIR [--image IMG] [--json]
//
// Rows (wall-clock):
//   metadata walk   openExt4 + walk every entry   vs  readdir + lstat of every entry
//   read all files  openExt4 + stream() every file vs  walk + readFileSync of every file
// Target (issue 6): read all files <= 1.5x host, metadata walk faster than host.
// Needs `npm run build` first (imports ../dist).
import { execFileSync } from 'node:child_process';
import { lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchArgs, imp } from './lib.mjs';

const { val, tree: dir, json } = benchArgs('ext4-read', '--tree DIR [--image IMG] [--json]', 'node/index.js');
const { openExt4 } = await imp('node/index.js');
const { FileDevice } = await imp('node/index.js');
let image = val('--image');
let tmp;
if (!image) {
  tmp = mkdtempSync(join(tmpdir(), 'tinyimage-bench-ext4read-'));
  image = join(tmp, 'img');
  const kb =
    Math.ceil(Number(execFileSync('du', ['-sk', '--apparent-size', dir], { encoding: 'utf8' }).split('\t')[0]) * 1.3) +
    65536;
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', dir, image, `${kb}k`], { stdio: 'ignore' });
}

function hostWalk(read) {
  let files = 0,
    bytes = 0;
  const visit = (d) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      const st = lstatSync(p);
      if (st.isDirectory()) visit(p);
      else if (st.isFile()) {
        files++;
        bytes += read ? readFileSync(p).length : st.size;
      }
    }
  };
  visit(dir);
  return { files, bytes };
}

async function oursWalk(read) {
  const dev = FileDevice.open(image);
  try {
    const { tree: t } = openExt4(dev);
    let files = 0,
      bytes = 0;
    for (const e of t.walk()) {
      if (e.node.type !== 'file') continue;
      files++;
      if (!read) {
        bytes += e.node.content.size;
        continue;
      }
      for await (const chunk of e.node.content.stream()) bytes += chunk.length;
    }
    return { files, bytes };
  } finally {
    dev.close();
  }
}

async function time(fn) {
  const t0 = process.hrtime.bigint();
  const r = await fn();
  return { ...r, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

// warm-up (page cache) for both sides
hostWalk(true);
await oursWalk(true);

const hm = await time(() => hostWalk(false));
const om = await time(() => oursWalk(false));
const hr = await time(() => hostWalk(true));
const or = await time(() => oursWalk(true));
if (om.files !== hm.files || or.bytes !== hr.bytes)
  console.error(`warning: counts differ (ours ${or.files} files / ${or.bytes} bytes, host ${hr.files} / ${hr.bytes})`);
if (tmp) rmSync(tmp, { recursive: true, force: true });

const rows = [
  {
    what: `metadata walk (${om.files} files)`,
    ours: om.seconds,
    tool: 'node:fs readdir+lstat',
    theirs: hm.seconds,
    ratio: om.seconds / hm.seconds,
    notes: 'target < 1x',
  },
  {
    what: `read all files (${(or.bytes / 2 ** 20).toFixed(0)} MiB)`,
    ours: or.seconds,
    tool: 'node:fs readFileSync',
    theirs: hr.seconds,
    ratio: or.seconds / hr.seconds,
    notes: 'target <= 1.5x',
  },
];
if (json) {
  console.log(JSON.stringify(rows));
} else {
  for (const r of rows)
    console.log(
      `${r.what.padEnd(34)} ours ${r.ours.toFixed(3)} s   ${r.tool} ${r.theirs.toFixed(3)} s   ${r.ratio.toFixed(2)}x (${r.notes})`,
    );
}
