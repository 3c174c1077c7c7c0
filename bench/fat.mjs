#!/usr/bin/env node
// FAT32 benchmark: `tinyimage mkfs fat32` against `mkfs.fat -F 32 -C` +
// `mcopy -s` on the same tree and the same image size, one run each.
// Usage: npm run build && node bench/fat.mjs --tree DIR [--json] [--check] [--keep]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { tree: { type: 'string' }, json: { type: 'boolean' }, check: { type: 'boolean' }, keep: { type: 'boolean' } } });
if (!values.tree) { console.error('usage: node bench/fat.mjs --tree DIR [--json] [--check] [--keep]'); process.exit(2); }
const tree = resolve(values.tree);
const repo = resolve(import.meta.dirname, '..');
const work = mkdtempSync(join(tmpdir(), 'bench-fat-'));
const env = { ...process.env, MTOOLS_SKIP_CHECK: '1', LC_ALL: 'C.UTF-8' };

// CPU seconds (user + sys) of the child via GNU time when present: a steadier
// comparison than wall time on a busy machine.
const gnuTime = spawnSync('/usr/bin/time', ['-f', '%U %S', 'true']).status === 0;
function timed(cmd, args, opts = {}) {
  const t0 = process.hrtime.bigint();
  const r = gnuTime
    ? spawnSync('/usr/bin/time', ['-f', 'CPU %U %S', cmd, ...args], { env, maxBuffer: 1 << 30, ...opts })
    : spawnSync(cmd, args, { env, maxBuffer: 1 << 30, ...opts });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.error) throw r.error;
  const err = String(r.stderr ?? '');
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(err);
  return { seconds: s, cpu: m ? Number(m[1]) + Number(m[2]) : undefined, code: r.status, stderr: err };
}

try {
  const ours = join(work, 'ours.img');
  const a = timed(process.execPath, [join(repo, 'bin/tinyimage.js'), 'mkfs', 'fat32', '--root', tree, '-o', ours, '-q']);
  if (a.code !== 0) throw new Error(`tinyimage failed: ${a.stderr}`);
  const size = statSync(ours).size;

  const classic = join(work, 'classic.img');
  const entries = readdirSync(tree).map((n) => join(tree, n));
  const b1 = timed('mkfs.fat', ['-F', '32', '-C', classic, String(Math.floor(size / 1024))]);
  if (b1.code !== 0) throw new Error(`mkfs.fat failed: ${b1.stderr}`);
  const b2 = timed('mcopy', ['-s', '-i', classic, ...entries, '::/']);
  const classicSeconds = b1.seconds + b2.seconds;

  const result = {
    tree, imageBytes: size,
    tinyimage: { seconds: +a.seconds.toFixed(3), cpuSeconds: a.cpu },
    classic: { seconds: +classicSeconds.toFixed(3), cpuSeconds: a.cpu === undefined ? undefined : +(b1.cpu + b2.cpu).toFixed(2), mkfs: +b1.seconds.toFixed(3), mcopy: +b2.seconds.toFixed(3), mcopyExit: b2.code },
    ratio: +(a.seconds / classicSeconds).toFixed(3),
    cpuRatio: a.cpu === undefined ? undefined : +(a.cpu / (b1.cpu + b2.cpu)).toFixed(3),
    loadAverage: (await import('node:os')).loadavg()[0],
    target: 0.5,
  };
  if (values.check) {
    for (const [name, img] of [['tinyimage', ours], ['classic', classic]]) {
      const f = spawnSync('fsck.fat', ['-n', img], { encoding: 'utf8' });
      result[name].fsck = f.status === 0 ? 'clean' : `exit ${f.status}`;
    }
  }
  if (values.json) console.log(JSON.stringify(result, null, 2));
  else {
    console.log(`FAT32 of ${tree} (image ${(size / 1048576).toFixed(1)} MiB, one run)`);
    const cpu = (x) => (x === undefined ? '      -' : x.toFixed(2).padStart(7));
    console.log('tool                              wall s   ratio    cpu s');
    console.log(`tinyimage mkfs fat32           ${result.tinyimage.seconds.toFixed(2).padStart(9)}   ${result.ratio.toFixed(2)}x  ${cpu(result.tinyimage.cpuSeconds)}${result.cpuRatio !== undefined ? ` (${result.cpuRatio.toFixed(2)}x)` : ''}`);
    console.log(`mkfs.fat -F 32 + mcopy -s      ${result.classic.seconds.toFixed(2).padStart(9)}   1.00x  ${cpu(result.classic.cpuSeconds)}  (mkfs ${result.classic.mkfs.toFixed(2)} s, mcopy ${result.classic.mcopy.toFixed(2)} s${b2.code ? `, mcopy exit ${b2.code}` : ''})`);
    console.log(`load average ${result.loadAverage.toFixed(1)}`);
    console.log(`target: <= ${result.target}x -> ${result.ratio <= result.target ? 'met' : 'NOT met'}`);
    if (values.check) console.log(`fsck.fat -n: tinyimage ${result.tinyimage.fsck}, classic ${result.classic.fsck}`);
  }
} finally {
  if (!values.keep) rmSync(work, { recursive: true, force: true });
  else console.error(`images kept in ${work}`);
}
