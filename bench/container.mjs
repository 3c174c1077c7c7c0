#!/usr/bin/env node
// Container benchmark (issue 19): a 1 GiB ext4 image of the tree (writeExt4)
// converted to qcow2 by us and by `qemu-img convert -O qcow2`; and the same
// ext4 built straight into a qcow2 (allocate on write) against building it
// raw, through the API and through the CLI (`tinyimage mkfs ext4 -o x.qcow2`
// against `-o x.img`, and `tinyimage convert`). Informational rows: compressed qcow2 (ours on both cores against
// `qemu-img convert -c`) and Android sparse (ours against img2simg).
//
//   node bench/container.mjs --tree DIR [--runs N] [--size BYTES] [--only convert] [--json] [--out DIR] [--keep]
//
// --only convert runs just the three convert rows (ours through the API and
// the CLI, and qemu-img). The API row also reports its in-process time (the
// conversion alone, without Node's start-up and module loading).
//
// Every row is a fresh process (Node's start-up counts, as qemu-img's does),
// timed wall and CPU (user + sys, GNU time). Before each run its output is
// removed, `sync` runs and a scratch file of the image's size is written and
// removed, so every tool finds just-freed pages at hand (docs/benchmarks.md
// explains why that matters on this VM). Runs are interleaved; the median of
// --runs (default 5) counts. Targets: convert <= 1.0x qemu-img, build
// straight to qcow2 <= 1.1x building raw. Needs `npm run build` first.
import { spawnSync } from 'node:child_process';
import { rmSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { benchArgs, dist, have, imp } from './lib.mjs';

const {
  val,
  tree: dir,
  json,
  outDir,
  done,
} = benchArgs(
  'container',
  '--tree DIR [--runs N] [--size BYTES] [--only convert] [--json] [--out DIR] [--keep]',
  'node/container/file.js',
);
const work = outDir();
const size = Number(val('--size') ?? 2 ** 30);
const runs = Math.max(1, Number(val('--runs') ?? 5));
const gnuTime = spawnSync('/usr/bin/time', ['-f', '%U %S', 'true']).status === 0;
const env = { ...process.env, SOURCE_DATE_EPOCH: process.env.SOURCE_DATE_EPOCH ?? '1700000000' };
const raw = join(work, 'ext4.raw');

// the source image, made once by writeExt4 (not timed)
{
  const { treeFromHostDir } = await imp('node/host/tree.js');
  const { writeExt4 } = await imp('core/fs/ext4/index.js');
  const { FileDevice } = await imp('node/io/file.js');
  const dev = FileDevice.create(raw, size);
  await writeExt4(treeFromHostDir(dir), dev, { size });
  dev.close();
}

// children: each row's work in a fresh Node process
const D = JSON.stringify(dist + '/');
const CHILD = {
  convert: `const { convertToContainerFile } = await import(${D} + 'node/container/file.js');
    const [inp, out, fmt, c] = process.argv.slice(1);
    const t0 = performance.now();
    await convertToContainerFile(inp, out, { format: fmt, compress: c === 'c' });
    console.log('IN-PROCESS ' + (performance.now() - t0) / 1000);`,
  build: `const { treeFromHostDir } = await import(${D} + 'node/host/tree.js');
    const { writeExt4 } = await import(${D} + 'core/fs/ext4/index.js');
    const { FileDevice } = await import(${D} + 'node/io/file.js');
    const { createContainerFile } = await import(${D} + 'node/container/file.js');
    const [tree, out, fmt, sz] = process.argv.slice(1);
    const size = Number(sz);
    const t = treeFromHostDir(tree);
    if (fmt === 'raw') { const d = FileDevice.create(out, size); await writeExt4(t, d, { size }); d.close(); }
    else { const f = createContainerFile(out, size, { format: fmt }); await writeExt4(t, f.device, { size }); await f.finish(); }`,
};

function timed(cmd, args) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(gnuTime ? '/usr/bin/time' : cmd, gnuTime ? ['-f', 'CPU %U %S', cmd, ...args] : args, {
    env,
    encoding: 'utf8',
    maxBuffer: 1 << 26,
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${String(r.stderr).slice(-1500)}`);
  const m = /CPU ([\d.]+) ([\d.]+)\s*$/.exec(String(r.stderr));
  const inner = /IN-PROCESS ([\d.]+)/.exec(String(r.stdout));
  return { seconds, cpu: m ? Number(m[1]) + Number(m[2]) : undefined, inProcess: inner ? Number(inner[1]) : undefined };
}
function must(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { encoding: 'utf8', maxBuffer: 1 << 26, ...opts });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${r.stderr}`);
  return r.stdout;
}
function prepare(out) {
  rmSync(out, { force: true });
  must('sync', []);
  must('sh', ['-c', 'find . -type f -print0 | xargs -0 cat > /dev/null'], { cwd: dir });
  must('sh', ['-c', 'cat "$0" > /dev/null', raw]);
  const scratch = join(work, 'scratch');
  must('dd', ['if=/dev/zero', `of=${scratch}`, 'bs=1M', `count=${Math.ceil(size / 2 ** 20)}`, 'status=none']);
  rmSync(scratch);
}
const cli = (...args) => [process.execPath, [join(dist, '..', 'bin', 'tinyimage.js'), ...args]];
const node = (kind, ...args) => [process.execPath, ['--input-type=module', '-e', CHILD[kind], '--', ...args]];

const CONVERT_ROWS = ['ours convert -> qcow2', 'qemu-img convert -O qcow2', 'CLI convert -> qcow2'];
const ROWS = [
  {
    name: 'ours convert -> qcow2',
    out: 'ours.qcow2',
    cmd: () => node('convert', raw, join(work, 'ours.qcow2'), 'qcow2'),
  },
  {
    name: 'qemu-img convert -O qcow2',
    out: 'qemu.qcow2',
    cmd: () => ['qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', raw, join(work, 'qemu.qcow2')]],
    needs: 'qemu-img',
  },
  {
    name: 'ours build ext4 raw',
    out: 'built.raw',
    cmd: () => node('build', dir, join(work, 'built.raw'), 'raw', String(size)),
  },
  {
    name: 'ours build ext4 -> qcow2',
    out: 'built.qcow2',
    cmd: () => node('build', dir, join(work, 'built.qcow2'), 'qcow2', String(size)),
  },
  // the same two rows through the command line users run (issue 19: "building straight to qcow2 vs raw")
  {
    name: 'CLI mkfs ext4 raw',
    out: 'cli.img',
    cmd: () => cli('mkfs', 'ext4', '--root', dir, '--size', String(size), '-q', '-o', join(work, 'cli.img')),
  },
  {
    name: 'CLI mkfs ext4 --format qcow2',
    out: 'cli.qcow2',
    cmd: () => cli('mkfs', 'ext4', '--root', dir, '--size', String(size), '-q', '-o', join(work, 'cli.qcow2')),
  },
  {
    name: 'CLI convert -> qcow2',
    out: 'cli-conv.qcow2',
    cmd: () => cli('convert', raw, '-q', '-o', join(work, 'cli-conv.qcow2')),
  },
  {
    name: 'ours convert -> qcow2 compressed',
    out: 'ours-c.qcow2',
    cmd: () => node('convert', raw, join(work, 'ours-c.qcow2'), 'qcow2', 'c'),
    info: true,
  },
  {
    name: 'qemu-img convert -c -O qcow2',
    out: 'qemu-c.qcow2',
    cmd: () => ['qemu-img', ['convert', '-c', '-f', 'raw', '-O', 'qcow2', raw, join(work, 'qemu-c.qcow2')]],
    needs: 'qemu-img',
    info: true,
  },
  {
    name: 'ours convert -> Android sparse',
    out: 'ours.simg',
    cmd: () => node('convert', raw, join(work, 'ours.simg'), 'sparse'),
    info: true,
  },
  {
    name: 'img2simg',
    out: 'theirs.simg',
    cmd: () => ['img2simg', [raw, join(work, 'theirs.simg')]],
    needs: 'img2simg',
    info: true,
  },
].filter((r) => (!r.needs || have(r.needs)) && (val('--only') !== 'convert' || CONVERT_ROWS.includes(r.name)));

const samples = new Map(ROWS.map((r) => [r.name, []]));
for (let i = 0; i < runs; i++) {
  // interleave, and rotate the order every run
  for (let k = 0; k < ROWS.length; k++) {
    const row = ROWS[(k + i) % ROWS.length];
    const out = join(work, row.out);
    prepare(out);
    const [cmd, args] = row.cmd();
    samples.get(row.name).push({ ...timed(cmd, args), bytes: statSync(out).blocks * 512 });
  }
}
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
};
const rows = ROWS.map((r) => {
  const s = samples.get(r.name);
  return {
    name: r.name,
    seconds: +median(s.map((x) => x.seconds)).toFixed(3),
    best: +Math.min(...s.map((x) => x.seconds)).toFixed(3),
    cpu: s[0].cpu === undefined ? undefined : +median(s.map((x) => x.cpu)).toFixed(2),
    allocatedMiB: +(s[0].bytes / 2 ** 20).toFixed(1),
    ...(s[0].inProcess !== undefined ? { inProcess: +median(s.map((x) => x.inProcess)).toFixed(3) } : {}),
    info: !!r.info,
  };
});
const by = Object.fromEntries(rows.map((r) => [r.name, r]));
const ratio = (a, b, f = 'seconds') => (by[a] && by[b] ? +(by[a][f] / by[b][f]).toFixed(3) : undefined);
const checks = {};
if (have('qemu-img')) {
  const same = (f) => spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, join(work, f)]).status === 0;
  const clean = (f) => spawnSync('qemu-img', ['check', join(work, f)]).status === 0;
  checks.convertIdentical = same('ours.qcow2');
  checks.cliConvertIdentical = same('cli-conv.qcow2');
  checks.qcow2CheckClean = clean('ours.qcow2') && clean('cli-conv.qcow2');
}
if (have('qemu-img') && val('--only') !== 'convert') {
  const same = (f) => spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', raw, join(work, f)]).status === 0;
  checks.compressedIdentical = same('ours-c.qcow2');
  checks.qcow2CheckClean &&= spawnSync('qemu-img', ['check', join(work, 'built.qcow2')]).status === 0;
  checks.cliBuildIdentical =
    spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', join(work, 'cli.img'), join(work, 'cli.qcow2')])
      .status === 0;
  checks.buildIdentical =
    spawnSync('qemu-img', ['compare', '-f', 'raw', '-F', 'qcow2', join(work, 'built.raw'), join(work, 'built.qcow2')])
      .status === 0;
}
const summary = {
  tree: dir,
  size,
  runs,
  rows,
  convertVsQemuImg: ratio('ours convert -> qcow2', 'qemu-img convert -O qcow2'),
  convertVsQemuImgBest: ratio('ours convert -> qcow2', 'qemu-img convert -O qcow2', 'best'),
  convertCpuVsQemuImg: ratio('ours convert -> qcow2', 'qemu-img convert -O qcow2', 'cpu'),
  buildQcow2VsRaw: ratio('ours build ext4 -> qcow2', 'ours build ext4 raw'),
  buildQcow2VsRawCpu: ratio('ours build ext4 -> qcow2', 'ours build ext4 raw', 'cpu'),
  cliBuildQcow2VsRaw: ratio('CLI mkfs ext4 --format qcow2', 'CLI mkfs ext4 raw'),
  cliBuildQcow2VsRawCpu: ratio('CLI mkfs ext4 --format qcow2', 'CLI mkfs ext4 raw', 'cpu'),
  cliConvertVsQemuImg: ratio('CLI convert -> qcow2', 'qemu-img convert -O qcow2'),
  cliConvertCpuVsQemuImg: ratio('CLI convert -> qcow2', 'qemu-img convert -O qcow2', 'cpu'),
  // the conversion alone (no start-up) against qemu-img's whole run
  convertInProcessVsQemuImg:
    by['ours convert -> qcow2']?.inProcess !== undefined && by['qemu-img convert -O qcow2']
      ? +(by['ours convert -> qcow2'].inProcess / by['qemu-img convert -O qcow2'].seconds).toFixed(3)
      : undefined,
  compressedVsQemuImg: ratio('ours convert -> qcow2 compressed', 'qemu-img convert -c -O qcow2'),
  sparseVsImg2simg: ratio('ours convert -> Android sparse', 'img2simg'),
  checks,
  loadAverage: loadavg().map((x) => +x.toFixed(2)),
  targets: { convertVsQemuImg: 1.0, buildQcow2VsRaw: 1.1 },
};
done();

if (json) {
  console.log(JSON.stringify(summary, null, 2));
} else {
  const w = Math.max(...rows.map((r) => r.name.length));
  console.log(`tree: ${dir}   ext4 image: ${(size / 2 ** 20).toFixed(0)} MiB   median of ${runs} runs`);
  console.log(
    `${'run'.padEnd(w)}  ${'wall s'.padStart(7)}  ${'best s'.padStart(7)}  ${'cpu s'.padStart(6)}  ${'allocated MiB'.padStart(13)}`,
  );
  for (const r of rows)
    console.log(
      `${r.name.padEnd(w)}  ${r.seconds.toFixed(3).padStart(7)}  ${r.best.toFixed(3).padStart(7)}  ${String(r.cpu ?? 'n/a').padStart(6)}  ${r.allocatedMiB.toFixed(1).padStart(13)}`,
    );
  const t = (x, target) =>
    x === undefined ? 'n/a' : `${x}x ${x <= target ? `(target ${target}x met)` : `(target ${target}x missed)`}`;
  console.log(
    `convert vs qemu-img:        ${t(summary.convertVsQemuImg, 1.0)}  best-of ${summary.convertVsQemuImgBest ?? 'n/a'}x, CPU ${summary.convertCpuVsQemuImg ?? 'n/a'}x`,
  );
  console.log(
    `  in-process:               ${by['ours convert -> qcow2']?.inProcess ?? 'n/a'} s median (${summary.convertInProcessVsQemuImg ?? 'n/a'}x qemu-img's whole run); CLI ${summary.cliConvertVsQemuImg ?? 'n/a'}x, CPU ${summary.cliConvertCpuVsQemuImg ?? 'n/a'}x`,
  );
  console.log(
    `build qcow2 vs build raw:   ${t(summary.buildQcow2VsRaw, 1.1)}  CPU ${summary.buildQcow2VsRawCpu ?? 'n/a'}x`,
  );
  console.log(
    `CLI: mkfs ext4 -o x.qcow2 vs -o x.img: ${t(summary.cliBuildQcow2VsRaw, 1.1)}  CPU ${summary.cliBuildQcow2VsRawCpu ?? 'n/a'}x; convert vs qemu-img ${summary.cliConvertVsQemuImg ?? 'n/a'}x`,
  );
  console.log(`compressed vs qemu-img -c:  ${summary.compressedVsQemuImg ?? 'n/a'}x`);
  console.log(`sparse vs img2simg:         ${summary.sparseVsImg2simg ?? 'n/a'}x`);
  console.log(
    `checks:                     ${
      Object.entries(checks)
        .map(([k, v]) => `${k} ${v ? 'ok' : 'FAILED'}`)
        .join(', ') || 'n/a (no qemu-img)'
    }`,
  );
  console.log(`load average:               ${summary.loadAverage.join(' ')}`);
}
