#!/usr/bin/env node
// BIOS disk benchmark: the whole `bios` disk (busybox distro + kernel [+ modules
// and initramfs] + GRUB in the MBR gap + ext4 root) with --tree added under
// /srv/bench, ours (planBiosDisk + writeBiosDisk) against the classic tools on
// the same staged root directory (truncate + sfdisk + mke2fs -d -E offset= +
// grub-mkimage + dd of boot.img/core.img), same partition size, one run each.
// Staging the classic input (extracting our root tree to a directory) is not
// timed: the classic flow starts from a staged root.
//
//   node bench/bios.mjs --tree DIR [--kernel FILE] [--busybox BIN] [--modules DIR] [--json] [--out DIR] [--keep]
//
// Defaults: Debian's kernel and modules from .cache/debian-kernel, the busybox
// from --busybox (required unless .cache has a toolchain build). Needs `npm run build`.
import { existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, cacheDir as cache, imp, sec, sh } from './lib.mjs';

const {
  val,
  has,
  tree: benchDir,
  json,
  outDir,
  done,
} = benchArgs(
  'bios',
  '--tree DIR [--kernel FILE] [--busybox BIN] [--modules DIR] [--json] [--out DIR] [--keep]',
  'node/index.js',
);
const { planBiosDisk, writeBiosDisk } = await imp('node/index.js');
const { hostBiosGrub, hostModules } = await imp('node/index.js');
const { FileDevice } = await imp('node/index.js');
const { treeFromHostDir } = await imp('node/index.js');
const { pathContent } = await imp('node/index.js');
const { extractTree } = await imp('node/index.js');

const version = existsSync(join(cache, 'debian-kernel/version'))
  ? readFileSync(join(cache, 'debian-kernel/version'), 'utf8').trim()
  : '';
const kernelPath = val('--kernel') ?? join(cache, 'debian-kernel/vmlinuz');
const modulesDir =
  val('--modules') ??
  (version && existsSync(join(cache, 'debian-kernel/lib/modules', version))
    ? join(cache, 'debian-kernel/lib/modules', version)
    : undefined);
function findBusybox() {
  const base = join(cache, 'toolchain/busybox');
  if (!existsSync(base)) return undefined;
  // a cached toolchain build whose config has the supervision applets
  for (const k of readdirSync(base)) {
    const cfg = join(base, k, 'config');
    if (
      existsSync(join(base, k, 'busybox')) &&
      existsSync(cfg) &&
      /^CONFIG_RUNSVDIR=y/m.test(readFileSync(cfg, 'utf8'))
    )
      return join(base, k, 'busybox');
  }
  return undefined;
}
const busyboxPath = val('--busybox') ?? findBusybox();
if (!busyboxPath || !existsSync(kernelPath)) {
  console.error('bench/bios.mjs: need --kernel FILE and --busybox BIN (a busybox with runsvdir/runsv/sv)');
  process.exit(2);
}
const work = outDir();

const MiB = 1 << 20;
const rows = [];

const grub = await hostBiosGrub();
const options = () => ({
  kernel: pathContent(kernelPath, statSync(kernelPath).size),
  busybox: new Uint8Array(readFileSync(busyboxPath)),
  grub,
  ...(modulesDir ? { modules: hostModules(modulesDir) } : {}),
  epoch: 1_700_000_000,
  overlay: (root) => treeFromHostDir(benchDir, { tree: root, prefix: '/srv/bench' }),
});

// ours
let plan;
{
  const out = join(work, 'ours.img');
  const t0 = process.hrtime.bigint();
  plan = await planBiosDisk(options());
  const dev = FileDevice.create(out, plan.size);
  try {
    await writeBiosDisk(plan, grub, dev);
  } finally {
    dev.close();
  }
  rows.push({
    name: 'ours buildBiosDisk (mbr + grub + ext4 + initramfs)',
    seconds: sec(t0),
    size: plan.size,
    partition: plan.partitionSize,
  });
}
// classic, same root tree staged on the host, same sizes
{
  const stage = join(work, 'stage');
  rmSync(stage, { recursive: true, force: true });
  await extractTree(plan.root, stage);
  const out = join(work, 'classic.img');
  const coreFile = join(work, 'core.img');
  const t0 = process.hrtime.bigint();
  sh('truncate', ['-s', String(plan.size), out]);
  sh(
    'sfdisk',
    ['-q', out],
    `label: dos\nlabel-id: 0x${plan.signature.toString(16).padStart(8, '0')}\nstart=2048, type=83, bootable\n`,
  );
  sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', stage, '-E', `offset=${MiB}`, out, `${plan.partitionSize / 1024}k`]);
  sh('grub-mkimage', [
    '-O',
    'i386-pc',
    '-p',
    '(hd0,msdos1)/boot/grub',
    '-o',
    coreFile,
    'biosdisk',
    'part_msdos',
    'ext2',
  ]);
  sh('dd', ['if=/usr/lib/grub/i386-pc/boot.img', `of=${out}`, 'bs=440', 'count=1', 'conv=notrunc', 'status=none']);
  sh('dd', [`if=${coreFile}`, `of=${out}`, 'bs=512', 'seek=1', 'conv=notrunc', 'status=none']);
  rows.push({
    name: 'classic sfdisk + mke2fs -d + grub-mkimage + dd',
    seconds: sec(t0),
    size: plan.size,
    partition: plan.partitionSize,
  });
  if (!has('--keep')) rmSync(stage, { recursive: true, force: true });
}
const ratio = +(rows[0].seconds / rows[1].seconds).toFixed(2);
if (json) console.log(JSON.stringify({ bench: 'bios', tree: benchDir, rows, ratio }, null, 1));
else {
  console.log(`bios disk, tree ${benchDir} under /srv/bench, disk ${(plan.size / MiB).toFixed(0)} MiB`);
  for (const r of rows) console.log(`${r.name.padEnd(56)} ${r.seconds.toFixed(2).padStart(8)} s`);
  console.log(`ours / classic: ${ratio}`);
}
done();
