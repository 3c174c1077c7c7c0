#!/usr/bin/env node
// Boot-area benchmark: the tiny initramfs made by tinyimage (in-process: read
// the applet tables, build the tree, newc + parallel gzip) against the
// classic way (busybox --install -s into a directory, mknod, then
// find | cpio -o -H newc | gzip -6), same busybox, one run each; plus, with
// --boot, the TCG/KVM boot of Debian's kernel to "Welcome to Tiny Linux!".
// usage: node bench/boot.mjs [--busybox BIN] [--boot] [--json]   (--tree is accepted and ignored)
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { tinyInitramfsTree, initramfsChunks, DEFAULT_INIT } from '../dist/core/initramfs/tiny.js';
import { writeChunksToFile } from '../dist/node/host/stream.js';
import { bootQemu } from '../dist/node/qemu/index.js';

const { values } = parseArgs({
  options: {
    busybox: { type: 'string' },
    boot: { type: 'boolean' },
    json: { type: 'boolean' },
    tree: { type: 'string' },
  },
});
const repo = resolve(import.meta.dirname, '..');
const busybox = values.busybox ?? '/bin/busybox';
const work = mkdtempSync(join(tmpdir(), 'tinyimage-bench-boot-'));
const rows = [];
try {
  // Ours.
  const ourOut = join(work, 'ours.cpio.gz');
  let t0 = performance.now();
  const tree = tinyInitramfsTree({ busybox: new Uint8Array(readFileSync(busybox)) });
  await writeChunksToFile(ourOut, initramfsChunks(tree));
  const ours = (performance.now() - t0) / 1000;
  // Classic.
  const root = join(work, 'root');
  const theirOut = join(work, 'theirs.cpio.gz');
  t0 = performance.now();
  for (const d of ['bin', 'sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'var', 'usr/bin', 'usr/sbin', 'root'])
    mkdirSync(join(root, d), { recursive: true });
  execFileSync('cp', [busybox, join(root, 'bin/busybox')]);
  execFileSync(join(root, 'bin/busybox'), ['--install', '-s', root + '/bin'], { stdio: 'ignore' }); // links into one dir: closest plain equivalent
  writeFileSync(join(root, 'init'), DEFAULT_INIT, { mode: 0o755 });
  execFileSync(
    'sh',
    [
      '-c',
      'mknod -m 600 dev/console c 5 1 && mknod -m 666 dev/null c 1 3; find . | cpio -o -H newc --quiet | gzip -6 > "$0"',
      theirOut,
    ],
    { cwd: root },
  );
  const theirs = (performance.now() - t0) / 1000;
  rows.push({
    what: 'tiny initramfs (.cpio.gz)',
    ours,
    tool: 'busybox --install -s; find|cpio|gzip -6',
    theirs,
    ratio: ours / theirs,
    notes: `${statSync(ourOut).size} vs ${statSync(theirOut).size} bytes`,
  });
  if (values.boot) {
    const k = join(repo, '.cache/debian-kernel/vmlinuz');
    const r = await bootQemu({ kernel: k, initrd: ourOut, expect: /Welcome to Tiny Linux!/, timeoutMs: 300_000 });
    rows.push({
      what: `boot to welcome (${r.accel})`,
      ours: r.elapsedMs / 1000,
      notes: 'Debian kernel + tiny initramfs',
    });
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
if (values.json) console.log(JSON.stringify(rows));
else
  for (const r of rows)
    console.log(
      `${r.what.padEnd(30)} ours ${r.ours.toFixed(2)} s${r.theirs !== undefined ? `  classic ${r.theirs.toFixed(2)} s  ratio ${r.ratio.toFixed(2)}x` : ''}  ${r.notes ?? ''}`,
    );
