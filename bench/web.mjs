#!/usr/bin/env node
// web benchmark: an ext4 image from a rootfs .tar.gz built in the page
// (web/dist in headless Chromium, the worker reading the File through
// FileReaderSync) against the same build in Node, same tarball, same image
// size, and the size of the page's bundle.
//
//   node bench/web.mjs --tree DIR [--runs N] [--json] [--out DIR] [--keep]
//
// The tarball is made once from DIR with GNU tar (--format=posix) and gzip -6.
// Rows (wall-clock):
//   page .tar.gz -> ext4   click on #build until #download has its blob: URL (inflate with DecompressionStream into a
//                          Blob spool, index, writeExt4 into 4 MiB pieces, hand over as a Blob);
//                          the page's own split (source / write) is reported too
//   node .tar.gz -> ext4   openSource (fflate into a spool) + writeExt4 into a sparse file, in a fresh
//                          process, with the split (source / write)
//   cli mkfs ext4 --root .tar.gz
//                          `tinyimage mkfs ext4 --root rootfs.tar.gz -o OUT --size N`, the whole command
// Each row is the fastest of --runs (default 2) interleaved runs. The page's image passes e2fsck -fn.
// Needs `npm run build` (dist/), Debian's chromium and playwright-core; builds web/dist itself.
import { execFileSync, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { benchArgs, dist, repo } from './lib.mjs';

const {
  val,
  tree: dir,
  json,
  outDir: mkOut,
  done,
} = benchArgs('web', '--tree DIR [--runs N] [--json] [--out DIR] [--keep]', 'node/host/source.js');
const outDir = mkOut();
const runs = Math.max(1, Number(val('--runs') ?? 2));
const tarball = join(outDir, 'rootfs.tar.gz');
execFileSync('sh', ['-c', `tar --format=posix -C "$0" -cf - . | gzip -6 > "$1"`, dir, tarball]);
execFileSync(process.execPath, [join(repo, 'web/build.mjs')], { stdio: 'ignore' });

const site = join(repo, 'web/dist');
const bundle = Object.fromEntries(
  ['app.js', 'worker.js', 'index.html', 'style.css'].map((f) => {
    const b = readFileSync(join(site, f));
    return [f, { bytes: b.length, gzip: gzipSync(b).length }];
  }),
);

const TYPES = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css' };
const server = createServer((req, res) => {
  const file = normalize(join(site, new URL(req.url, 'http://x').pathname.replace(/\/$/, '/index.html')));
  if (!file.startsWith(site + sep)) return res.writeHead(403).end();
  try {
    const body = readFileSync(file);
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' }).end(body);
  } catch {
    res.writeHead(404).end();
  }
});
await new Promise((r) => server.listen(0, '127.0.0.1', r));
const url = `http://127.0.0.1:${server.address().port}/`;

const { chromium } = await import('playwright-core');
const profile = mkdtempSync(join(tmpdir(), 'tinyimage-bench-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: '/usr/bin/chromium',
  headless: true,
  acceptDownloads: true,
  args: [
    '--headless',
    '--no-sandbox',
    '--disable-gpu',
    '--disable-quic',
    '--no-first-run',
    '--disable-background-networking',
    '--disable-component-update',
    '--disable-sync',
  ],
});

async function page() {
  const p = await context.newPage();
  await p.goto(url);
  await p.waitForSelector('body[data-ready="true"]');
  await p.setInputFiles('#source', tarball);
  await p.selectOption('#format', 'ext4');
  const t0 = process.hrtime.bigint();
  await p.click('#build');
  await p.waitForSelector('#download[href^="blob:"], #status.error', { timeout: 30 * 60_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if ((await p.getAttribute('#status', 'class')) === 'error') throw new Error(await p.textContent('#status'));
  const attr = async (n) => Number(await p.getAttribute('#download', `data-${n}`));
  const row = {
    name: 'page .tar.gz -> ext4',
    seconds: +seconds.toFixed(3),
    sourceSeconds: (await attr('read-ms')) / 1000,
    writeSeconds: (await attr('write-ms')) / 1000,
    size: await attr('bytes'),
    heldMiB: +((await attr('held')) / 1048576).toFixed(1),
  };
  const [download] = await Promise.all([p.waitForEvent('download'), p.click('#download')]);
  row.e2fsck = spawnSync('e2fsck', ['-fn', await download.path()], { stdio: 'ignore' }).status === 0;
  await download.delete();
  await p.close();
  return row;
}

const child = `
const { openSource } = await import(${JSON.stringify(pathToFileURL(join(dist, 'node/host/source.js')).href)});
const { writeExt4 } = await import(${JSON.stringify(pathToFileURL(join(dist, 'core/fs/ext4/index.js')).href)});
const { FileDevice } = await import(${JSON.stringify(pathToFileURL(join(dist, 'node/io/file.js')).href)});
const [input, out, size] = process.argv.slice(1);
const t0 = performance.now();
const src = await openSource(input, { tmpDir: ${JSON.stringify(outDir)} });
const t1 = performance.now();
const dev = FileDevice.create(out, Number(size));
await writeExt4(src.tree, dev, { size: Number(size) });
dev.close(); src.close();
process.stdout.write(JSON.stringify({ source: (t1 - t0) / 1000, total: (performance.now() - t0) / 1000, rssMiB: process.resourceUsage().maxRSS / 1024 }));
`;

function node(size) {
  const out = join(outDir, 'node.ext4');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, tarball, out, String(size)], {
    encoding: 'utf8',
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`node row failed: ${r.stderr}`);
  const j = JSON.parse(r.stdout);
  rmSync(out, { force: true });
  return {
    name: 'node .tar.gz -> ext4',
    seconds: +seconds.toFixed(3),
    sourceSeconds: +j.source.toFixed(3),
    writeSeconds: +(j.total - j.source).toFixed(3),
    peakRssMiB: +j.rssMiB.toFixed(1),
  };
}

function cli(size) {
  const out = join(outDir, 'cli.ext4');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(
    process.execPath,
    [join(repo, 'bin/tinyimage.js'), 'mkfs', 'ext4', '--root', tarball, '-o', out, '--size', String(size)],
    { encoding: 'utf8' },
  );
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`cli row failed: ${r.stderr}`);
  rmSync(out, { force: true });
  return { name: 'cli mkfs ext4 --root .tar.gz', seconds: +seconds.toFixed(3) };
}

const all = { page: [], node: [], cli: [] };
for (let i = 0; i < runs; i++) {
  all.page.push(await page());
  all.node.push(node(all.page[0].size));
  all.cli.push(cli(all.page[0].size));
}
await context.close();
rmSync(profile, { recursive: true, force: true });
server.close();

const best = (l) => [...l].sort((a, b) => a.seconds - b.seconds)[0];
const rows = [best(all.page), best(all.node), best(all.cli)];
const summary = {
  tree: dir,
  tarGzBytes: statSync(tarball).size,
  imageSize: rows[0].size,
  rows,
  pageVsNode: +(rows[0].seconds / rows[1].seconds).toFixed(2),
  pageVsCli: +(rows[0].seconds / rows[2].seconds).toFixed(2),
  bundle,
  loadAverage: loadavg().map((x) => +x.toFixed(2)),
};
done();
if (json) console.log(JSON.stringify(summary, null, 2));
else {
  console.log(
    `tree ${dir}: rootfs.tar.gz ${(summary.tarGzBytes / 1048576).toFixed(1)} MiB, image ${(summary.imageSize / 1048576).toFixed(1)} MiB`,
  );
  for (const r of rows)
    console.log(
      `${r.name.padEnd(28)} ${r.seconds.toFixed(2).padStart(7)} s` +
        (r.sourceSeconds !== undefined
          ? `  (source ${r.sourceSeconds.toFixed(2)} s, write ${r.writeSeconds.toFixed(2)} s)`
          : '') +
        (r.heldMiB !== undefined ? `  held ${r.heldMiB} MiB  e2fsck ${r.e2fsck ? 'ok' : 'FAILED'}` : '') +
        (r.peakRssMiB !== undefined ? `  peak RSS ${r.peakRssMiB} MiB` : ''),
    );
  console.log(
    `page / node: ${summary.pageVsNode}x   page / cli: ${summary.pageVsCli}x   load average ${summary.loadAverage.join(' ')}`,
  );
  for (const [f, s] of Object.entries(bundle)) console.log(`${f.padEnd(11)} ${s.bytes} bytes, ${s.gzip} gzipped`);
}
