#!/usr/bin/env node
// Toolchain benchmark: wall time of a tiny kernel and a tiny musl busybox
// build from the source tarballs, cold (empty cache dir) or warm, and of the
// cache hit that follows. There is no "classic tool" to compare against: the
// reference is the plain make run itself (shown as its share).
// usage: node bench/toolchain.mjs [--sources DIR] [--cache DIR] [--cold] [--json]
// (--tree is accepted and ignored, for bench/run.mjs.)
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { buildKernel } from '../dist/node/toolchain/kernel.js';
import { buildBusybox } from '../dist/node/toolchain/busybox.js';

const { values } = parseArgs({
  options: {
    sources: { type: 'string' },
    cache: { type: 'string' },
    cold: { type: 'boolean' },
    json: { type: 'boolean' },
    tree: { type: 'string' },
  },
});
const repo = resolve(import.meta.dirname, '..');
const src = values.sources ?? join(repo, '.cache', 'sources');
const ktar = join(src, 'linux-source-6.1.tar.xz');
const bbtar = join(src, 'busybox_1.35.0.orig.tar.bz2');
if (!existsSync(ktar) || !existsSync(bbtar)) {
  console.error(`toolchain bench: sources missing in ${src} (run scripts/fetch-sources.sh)`);
  process.exit(1);
}
const cacheDir = values.cold
  ? mkdtempSync(join(tmpdir(), 'tinyimage-bench-tc-'))
  : (values.cache ?? join(repo, '.cache', 'toolchain'));
const rows = [];
async function time(name, fn, size) {
  const t0 = performance.now();
  const r = await fn();
  const ms = performance.now() - t0;
  rows.push({ name, ms: Math.round(ms), cached: r.cached, bytes: statSync(size(r)).size });
}
const bbOpts = { source: bbtar, config: 'tiny', libc: 'musl', cacheDir, epoch: 0 };
const kOpts = { source: ktar, preset: 'tiny', cmdline: 'console=ttyS0', cacheDir, epoch: 0 };
await time(
  'busybox tiny (musl)',
  () => buildBusybox(bbOpts),
  (r) => r.binary,
);
await time(
  'busybox tiny (cache hit)',
  () => buildBusybox(bbOpts),
  (r) => r.binary,
);
await time(
  'kernel tiny',
  () => buildKernel(kOpts),
  (r) => r.bzImage,
);
await time(
  'kernel tiny (cache hit)',
  () => buildKernel(kOpts),
  (r) => r.bzImage,
);
if (values.cold) rmSync(cacheDir, { recursive: true, force: true });
if (values.json) console.log(JSON.stringify({ area: 'toolchain', rows }, null, 1));
else {
  console.log(`${'step'.padEnd(28)} ${'wall'.padStart(10)}  ${'cached'.padEnd(6)} ${'size'.padStart(10)}`);
  for (const r of rows)
    console.log(
      `${r.name.padEnd(28)} ${(r.ms / 1000).toFixed(2).padStart(9)}s  ${String(r.cached).padEnd(6)} ${String(r.bytes).padStart(10)}`,
    );
}
