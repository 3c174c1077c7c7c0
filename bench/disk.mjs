#!/usr/bin/env node
// Disk assembly benchmark: a GPT disk with one ext4 partition holding --tree,
// ours (buildDisk, 'fit' size, written straight into the partition window)
// against the classic tools (truncate + sgdisk + mke2fs -d -E offset=), same
// tree, same partition size, one run each. Plus a UKI row: buildUki against
// objcopy --add-section (the pre-ukify recipe), when a kernel is available.
//
//   node bench/disk.mjs --tree DIR [--json] [--out DIR] [--keep] [--kernel FILE]
//
// Needs `npm run build` first (imports dist/).
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchArgs, cacheDir, imp, sec, sh } from './lib.mjs';

const {
  val,
  tree: dir,
  json,
  outDir,
  done,
} = benchArgs('disk', '--tree DIR [--json] [--out DIR] [--keep] [--kernel FILE]', 'node/index.js');
const work = outDir();
const { buildDisk, planDisk } = await imp('node/index.js');
const { FileDevice } = await imp('node/index.js');
const { treeFromHostDir } = await imp('node/index.js');
const { buildUki, DEFAULT_EFI_STUB_PATH } = await imp('node/index.js');
const MiB = 1 << 20;

const rows = [];

// ours: walk + plan + write
{
  const out = join(work, 'ours.img');
  const t0 = process.hrtime.bigint();
  const t = treeFromHostDir(dir);
  const layout = {
    table: 'gpt',
    seed: 'bench',
    partitions: [{ name: 'root', type: 'root-x86-64', fs: 'ext4', size: 'fit', tree: t }],
  };
  const plan = planDisk(layout);
  const dev = FileDevice.create(out, plan.size);
  try {
    await buildDisk(layout, dev);
  } finally {
    dev.close();
  }
  rows.push({
    name: 'ours buildDisk (gpt + ext4)',
    seconds: sec(t0),
    bytes: statSync(out).size,
    size: plan.size,
    partition: plan.partitions[0].size,
  });
}
// classic: same disk and partition size
{
  const out = join(work, 'classic.img');
  const { size, partition } = rows[0];
  const t0 = process.hrtime.bigint();
  sh('truncate', ['-s', String(size), out]);
  sh('sgdisk', ['-n', `1:2048:+${partition / 1024}K`, '-t', '1:8304', '-c', '1:root', out]);
  sh('mke2fs', ['-q', '-F', '-t', 'ext4', '-d', dir, '-E', `offset=${MiB}`, out, `${partition / 1024}k`]);
  rows.push({ name: 'truncate + sgdisk + mke2fs -d', seconds: sec(t0), bytes: statSync(out).size, size, partition });
}
// UKI
const kernel = val('--kernel') ?? join(cacheDir, 'debian-kernel', 'vmlinuz');
if (existsSync(kernel) && existsSync(DEFAULT_EFI_STUB_PATH)) {
  const initrd = new Uint8Array(8 * MiB).map((_, i) => (i * 31) & 0xff);
  writeFileSync(join(work, 'initrd'), initrd);
  writeFileSync(join(work, 'cmdline'), 'console=ttyS0');
  let t0 = process.hrtime.bigint();
  const uki = buildUki({
    stub: new Uint8Array(readFileSync(DEFAULT_EFI_STUB_PATH)),
    linux: new Uint8Array(readFileSync(kernel)),
    initrd,
    cmdline: 'console=ttyS0',
  });
  writeFileSync(join(work, 'ours.efi'), uki);
  rows.push({ name: 'ours buildUki', seconds: sec(t0), bytes: uki.length });
  t0 = process.hrtime.bigint();
  sh('objcopy', [
    '--add-section',
    `.cmdline=${join(work, 'cmdline')}`,
    '--change-section-vma',
    '.cmdline=0x30000',
    '--add-section',
    `.linux=${kernel}`,
    '--change-section-vma',
    '.linux=0x2000000',
    '--add-section',
    `.initrd=${join(work, 'initrd')}`,
    '--change-section-vma',
    '.initrd=0x3000000',
    DEFAULT_EFI_STUB_PATH,
    join(work, 'objcopy.efi'),
  ]);
  rows.push({ name: 'objcopy --add-section', seconds: sec(t0), bytes: statSync(join(work, 'objcopy.efi')).size });
}
const ratio = (a, b) => +(rows[a].seconds / rows[b].seconds).toFixed(3);
const result = { tree: dir, rows, ratios: { disk: ratio(0, 1), ...(rows.length > 3 ? { uki: ratio(2, 3) } : {}) } };
if (json) console.log(JSON.stringify(result, null, 2));
else {
  console.log('| run | seconds | bytes |\n|---|---:|---:|');
  for (const r of rows) console.log(`| ${r.name} | ${r.seconds} | ${r.bytes} |`);
  console.log(
    `\nratio disk (ours / classic): ${result.ratios.disk}${result.ratios.uki !== undefined ? `; uki (ours / objcopy): ${result.ratios.uki}` : ''}`,
  );
}
done();
