#!/usr/bin/env node
// Compare deflate engines at one level on the same input, single-threaded:
// node:zlib (native zlib) vs fflate (pure JS). Used for docs/gzip.md.
// Usage: node bench/gzip-engines.mjs [--level 6] [--mib 16] [FILE...]
// Without FILEs it concatenates /usr/bin binaries (an initramfs-like mix).
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import * as zlib from 'node:zlib';
import { deflateSync as fflateDeflate } from 'fflate';

const args = process.argv.slice(2);
const opt = (n, d) => {
  const i = args.indexOf(n);
  if (i < 0) return d;
  const v = args[i + 1];
  args.splice(i, 2);
  return Number(v);
};
const level = opt('--level', 6);
const mib = opt('--mib', 16);
const want = mib << 20;
const parts = [];
let have = 0;
const add = (p) => {
  if (have >= want) return;
  try {
    const st = statSync(p);
    if (!st.isFile()) return;
    const b = readFileSync(p);
    parts.push(b.subarray(0, want - have));
    have += Math.min(b.length, want - have);
  } catch {
    // unreadable: skip
  }
};
if (args.length) for (const f of args) add(f);
else for (const n of readdirSync('/usr/bin').sort()) add(join('/usr/bin', n));
const data = Buffer.concat(parts);

const time = (fn) => {
  const t = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
};
const rows = [];
for (const [name, fn] of [
  ['node:zlib deflateRawSync', () => zlib.deflateRawSync(data, { level })],
  ['fflate deflateSync', () => fflateDeflate(data, { level })],
]) {
  fn(); // warm up
  const [ms, out] = time(fn);
  rows.push({
    engine: name,
    level,
    inputMiB: +(data.length / 1048576).toFixed(1),
    ms: Math.round(ms),
    MiBps: +(data.length / 1048576 / (ms / 1000)).toFixed(1),
    ratio: +(out.length / data.length).toFixed(4),
  });
}
if (process.argv.includes('--json')) console.log(JSON.stringify(rows));
else console.table(rows);
