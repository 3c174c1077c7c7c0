/**
 * The static page (web/dist, made by `npm run build:web`) in real headless
 * Chromium: a root filesystem made by GNU tar (as root: owners, modes,
 * devices, symlinks, a hard link) goes in through #source; ext4 and FAT32
 * come out through #download and pass e2fsck -fn / fsck.fat -n, and their
 * trees match the directory the tarball was made from. The other codecs and
 * formats, the inspect view (a partition of a GPT disk, a preview, a
 * download, a comparison), typed errors and keyboard use are checked too,
 * and the page logs no errors.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  copyFileSync,
  mkdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  linkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { CHROMIUM, launchChromium, serveDir, type Browser } from '../helpers/browser.js';
import { missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { fsck as erofsFsck } from '../erofs/helpers.js';
import { diffTrees, formatDiff, type DiffOptions } from '../../src/core/diff/index.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { openExt4, writeExt4, ext4MinimumSize } from '../../src/core/fs/ext4/index.js';
import { openFat } from '../../src/core/fs/fat/index.js';
import { openSquashfs } from '../../src/core/fs/squashfs/index.js';
import { openErofs } from '../../src/core/fs/erofs/index.js';
import { openIso9660 } from '../../src/core/fs/iso9660/index.js';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { readTar } from '../../src/core/archive/tar/index.js';
import { buildDisk, diskSize } from '../../src/core/image/disk.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { TreeView } from '../../src/core/open/view.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';

const IS_ROOT = process.getuid?.() === 0;
const skip = !IS_ROOT
  ? (console.warn('skipping: the rootfs tarball needs root (owners, device nodes)'), 'not root')
  : missing({
      tools: [
        'tar',
        'gzip',
        'xz',
        'zstd',
        'bzip2',
        'mknod',
        'mkfifo',
        'e2fsck',
        'e2label',
        'fsck.fat',
        'cpio',
        'unsquashfs',
        'fsck.erofs',
        'isoinfo',
      ],
      files: [CHROMIUM],
    });

const t = tmpDir('tinyimage-web-');
const ROOT = t.path('rootfs');
const BUILD_TIMEOUT = 120_000;

/** A small root filesystem with what a tarball must carry: owners, modes, devices, links, a multi-piece file. */
function makeRootfs(dir: string): void {
  for (const d of ['bin', 'sbin', 'etc', 'dev', 'home/user', 'tmp', 'usr/bin', 'usr/share/data', 'var/empty'])
    mkdirSync(join(dir, d), { recursive: true });
  writeFileSync(join(dir, 'etc/hostname'), 'tiny\n');
  writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\nuser:x:1000:100::/home/user:/bin/sh\n');
  writeFileSync(join(dir, 'etc/motd-été.txt'), 'bienvenue\n');
  writeFileSync(join(dir, 'etc/empty'), '');
  writeFileSync(
    join(dir, 'bin/busybox'),
    Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7 + (i >> 9)) & 0xff),
  );
  chmodSync(join(dir, 'bin/busybox'), 0o4755);
  symlinkSync('busybox', join(dir, 'bin/sh'));
  symlinkSync('/bin/busybox', join(dir, 'usr/bin/env'));
  linkSync(join(dir, 'bin/busybox'), join(dir, 'sbin/init'));
  // 5 MiB and a bit: crosses the page's 4 MiB pieces
  writeFileSync(
    join(dir, 'usr/share/data/big.bin'),
    Uint8Array.from({ length: (5 << 20) + 123 }, (_, i) => (i * 31) >> 3),
  );
  writeFileSync(join(dir, 'home/user/notes.txt'), 'mine\n');
  chownSync(join(dir, 'home/user/notes.txt'), 1000, 100);
  chownSync(join(dir, 'home/user'), 1000, 100);
  chmodSync(join(dir, 'home/user'), 0o700);
  chmodSync(join(dir, 'tmp'), 0o1777);
  execFileSync('mknod', ['-m', '600', join(dir, 'dev/console'), 'c', '5', '1']);
  execFileSync('mknod', ['-m', '666', join(dir, 'dev/null'), 'c', '1', '3']);
  execFileSync('mknod', ['-m', '660', join(dir, 'dev/sda'), 'b', '8', '0']);
  execFileSync('mkfifo', ['-m', '600', join(dir, 'dev/initctl')]);
}

/** What FAT can hold of a tree: directories and files, symlinks to files as copies; no devices or FIFOs. */
function fatView(src: FileTree): FileTree {
  const view = new TreeView(src);
  const out = new FileTree();
  for (const { path, node } of src.walk()) {
    if (path === '/') continue;
    if (node.type === 'dir') out.mkdir(path);
    else if (node.type === 'file') out.addFile(path, node.content);
    else if (node.type === 'symlink') {
      const to = view.stat(path);
      if (to.type === 'file') out.addFile(path, to.content);
    }
  }
  return out;
}

async function expectSame(a: FileTree, b: FileTree, opts: DiffOptions = {}): Promise<void> {
  expect(formatDiff(await diffTrees(a, b, opts))).toBe('');
}

describe.skipIf(skip)('the web page in headless Chromium', () => {
  let browser: Browser;
  let site: Awaited<ReturnType<typeof serveDir>>;
  let page: Page;
  let host: FileTree;
  const errors: string[] = [];
  const tarball = (ext: string) => t.path(`rootfs${ext}`);

  beforeAll(async () => {
    execFileSync('npm', ['run', 'build:web'], { cwd: REPO, stdio: 'pipe' });
    makeRootfs(ROOT);
    host = treeFromHostDir(ROOT);
    execFileSync('tar', ['--format=posix', '--numeric-owner', '-C', ROOT, '-cf', tarball('.tar'), '.']);
    for (const [ext, cmd] of [
      ['.tar.gz', ['gzip', '-6']],
      ['.tar.xz', ['xz', '-6']],
      ['.tar.zst', ['zstd', '-q']],
      ['.tar.bz2', ['bzip2']],
    ] as const)
      writeFileSync(
        tarball(ext),
        execFileSync(cmd[0], [...cmd.slice(1), '-c'], { input: readFileSync(tarball('.tar')) }),
      );
    site = await serveDir(join(REPO, 'web/dist'));
    browser = await launchChromium();
    page = await browser.context.newPage();
    page.on('pageerror', (e) => errors.push(`pageerror: ${e.message}`));
    page.on('console', (m) => {
      if (m.type() === 'error') errors.push(`console: ${m.text()}`);
    });
    await page.goto(site.url);
    await page.waitForSelector('body[data-ready="true"]');
  }, 300_000);

  afterAll(async () => {
    await browser?.close();
    await site?.close();
    t.cleanup();
  });

  /** Record every text #status shows (progress reports included) in window.statuses. */
  const WATCH_STATUS = `(() => {
    const s = document.querySelector('#status');
    window.statuses = [];
    new MutationObserver(() => window.statuses.push(s.textContent)).observe(s, { childList: true, subtree: true, characterData: true });
  })()`;

  /**
   * Build a tarball (a path) or a folder ({ folder: dir }) as `format` in the
   * page; the file behind #download, what the page reported, and the status texts.
   */
  async function build(
    source: string | { folder: string },
    format: string,
    fields: { size?: string; label?: string } = {},
  ) {
    if (typeof source === 'string') await page.setInputFiles('#source', source);
    else await page.setInputFiles('#folder', source.folder);
    await page.selectOption('#format', format);
    if (await page.isEnabled('#size')) await page.fill('#size', fields.size ?? '');
    if (await page.isEnabled('#label')) await page.fill('#label', fields.label ?? '');
    await page.evaluate(WATCH_STATUS);
    await page.click('#build');
    await page.waitForSelector('#download[href^="blob:"], #status.error', { timeout: BUILD_TIMEOUT });
    const status = (await page.textContent('#status')) ?? '';
    if ((await page.getAttribute('#status', 'class')) === 'error') throw new Error(`the page says: ${status}`);
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#download')]);
    const file = await download.path();
    const attr = async (name: string) => Number(await page.getAttribute('#download', `data-${name}`));
    return {
      file,
      name: download.suggestedFilename(),
      size: statSync(file).size,
      held: await attr('held'),
      readMs: await attr('read-ms'),
      writeMs: await attr('write-ms'),
      warnings: await page.$$eval('#warnings li', (li) => li.map((x) => x.textContent ?? '')),
      statuses: (await page.evaluate('window.statuses')) as string[],
      bytes: () => new Uint8Array(readFileSync(file)),
    };
  }

  it('labels every control, and the hooks are where scripts expect them', async () => {
    expect(await page.getByLabel('Output').evaluate((e) => e.id)).toBe('format');
    expect(await page.getByLabel(/^Tarball/).evaluate((e) => e.id)).toBe('source');
    expect(await page.locator('#format option').evaluateAll((o) => o.map((x) => x.getAttribute('value')))).toEqual([
      'ext4',
      'ext2',
      'fat32',
      'cpio.gz',
      'squashfs',
      'erofs',
      'iso9660',
      'tar',
    ]);
    expect(await page.locator('#progress').evaluate((e) => e.tagName)).toBe('PROGRESS');
    expect(await page.getAttribute('#download', 'href')).toBeNull();
  });

  it("builds ext4 from a .tar.gz: e2fsck -fn is clean and the tree is the tarball's (owners, modes, devices, links, times)", async () => {
    const r = await build(tarball('.tar.gz'), 'ext4', { label: 'webroot' });
    expect(r.name).toBe('rootfs.ext4');
    const fsck = run('e2fsck', ['-fn', r.file]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(run('e2label', [r.file]).stdout.trim()).toBe('webroot');
    const img = openExt4(new MemoryDevice(r.bytes()));
    await expectSame(host, img.tree, { mtime: true });
    expect(img.tree.get('/sbin/init')).toBe(img.tree.get('/bin/busybox'));
    // progress reports: bytes, entries and a rate while writing
    expect(r.statuses.join('\n')).toMatch(
      new RegExp(
        `^writing ext4: [\\d.]+ \\S+ of [\\d.]+ \\S+ · ${host.stats().entries} entries · [\\d.]+ \\S+/s$`,
        'm',
      ),
    );
    expect(await page.getAttribute('#progress', 'value')).toBe('1');
    console.log(`page: rootfs.tar.gz -> ext4 of ${r.size} bytes, source ${r.readMs} ms, write ${r.writeMs} ms`);
  });

  it('builds FAT32 of a chosen size from the plain .tar: fsck.fat -n is clean, files and followed symlinks match', async () => {
    const r = await build(tarball('.tar'), 'fat32', { size: '40M', label: 'WEBFAT' });
    expect(r.size).toBe(40 << 20);
    const fsck = run('fsck.fat', ['-n', r.file]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    const img = openFat(new MemoryDevice(r.bytes()));
    expect(img.info.label).toBe('WEBFAT');
    await expectSame(fatView(host), img.tree, { ignoreFields: ['mode', 'uid', 'gid', 'links'] });
    expect(r.warnings.join('\n')).toMatch(/dev\/console/);
  });

  it('reads .tar.xz, .tar.zst and .tar.bz2, and writes cpio.gz, squashfs and tar that the real tools read', async () => {
    const cpio = await build(tarball('.tar.xz'), 'cpio.gz');
    const listed = run('cpio', ['-it', '--quiet'], {
      input: execFileSync('gzip', ['-dc', cpio.file], { maxBuffer: 1 << 28 }),
    });
    expect(listed.stdout.split('\n')).toEqual(
      expect.arrayContaining(['dev/console', 'bin/sh', 'usr/share/data/big.bin']),
    );
    await expectSame(host, await readCpioTree([cpio.bytes()]));

    const sq = await build(tarball('.tar.zst'), 'squashfs');
    const un = run('unsquashfs', ['-lln', sq.file]);
    expect(un.code, un.stderr).toBe(0);
    expect(un.stdout).toMatch(/^crw------- 0\/0\s+5,\s*1 .*\/dev\/console$/m);
    await expectSame(host, openSquashfs(new MemoryDevice(sq.bytes())).tree);

    const tar = await build(tarball('.tar.bz2'), 'tar');
    expect(run('tar', ['-tvf', tar.file]).stdout).toMatch(
      /^hrwsr-xr-x 0\/0 .* (\.\/)?sbin\/init link to (\.\/)?bin\/busybox$/m,
    );
    await expectSame(host, readTar(new MemoryDevice(tar.bytes())).tree, { mtime: true });
  });

  it('writes EROFS and ISO 9660 (Rock Ridge, Joliet) that fsck.erofs and isoinfo accept, with the same tree', async () => {
    const erofs = await build(tarball('.tar.gz'), 'erofs', { label: 'webroot' });
    expect(erofs.name).toBe('rootfs.erofs');
    const fsck = erofsFsck(erofs.file, undefined, [`--extract=${t.path('erofs-x')}`]);
    expect(fsck.code, fsck.out).toBe(0);
    // what fsck.erofs extracts: contents, owners, devices, symlinks (it drops setuid bits and hard links)
    await expectSame(host, treeFromHostDir(t.path('erofs-x')), { ignoreFields: ['mode', 'links'] });
    const ev = openErofs(new MemoryDevice(erofs.bytes()));
    expect(ev.info.label).toBe('webroot');
    await expectSame(host, ev.tree, { mtime: true });

    const iso = await build(tarball('.tar'), 'iso9660', { label: 'WEBROOT' });
    expect(iso.name).toBe('rootfs.iso');
    expect(run('isoinfo', ['-d', '-i', iso.file]).stdout).toMatch(/^Volume id: WEBROOT$/m);
    const listing = run('isoinfo', ['-R', '-l', '-i', iso.file]).stdout;
    // (isoinfo shows no setuid or sticky bits, and owners in octal: 1000:100 is 1750:144; the reader's tree below has it all)
    expect(listing).toMatch(/^-rwxr-xr-x +2 +0 +0 +300000 .* busybox\s*$/m);
    expect(listing).toMatch(/^crw------- +1 +0 +0 .* console\s*$/m);
    expect(listing).toMatch(/^-rw-r--r-- +1 +1750 +144 +5 .* notes\.txt\s*$/m);
    // Joliet names (UCS-2), which this isoinfo prints in Latin-1 at best
    const joliet = execFileSync('isoinfo', ['-J', '-j', 'iso8859-1', '-f', '-i', iso.file], { encoding: 'latin1' });
    expect(joliet).toMatch(/^\/etc\/motd-été\.txt(;1)?$/m);
    await expectSame(host, openIso9660(new MemoryDevice(iso.bytes())).tree);

    // both open in the inspect view
    for (const [r, kind] of [
      [erofs, 'erofs'],
      [iso, 'iso9660'],
    ] as const) {
      await page.setInputFiles('#image', r.file);
      await page.locator('#image-info', { hasText: `: ${kind}, ` }).waitFor();
      await page.waitForSelector('#entries tr[data-path="/etc"]');
      await page.click('#entries tr[data-path="/etc"] button');
      await page.waitForSelector('#entries tr[data-path="/etc/motd-été.txt"]');
    }
  });

  it('builds a 1 GiB ext4 without holding 1 GiB: only the pieces written are in memory', async () => {
    const r = await build(tarball('.tar'), 'ext4', { size: '1G' });
    expect(r.size).toBe(1 << 30);
    expect(r.held).toBeGreaterThan(5 << 20); // the contents and the metadata...
    expect(r.held).toBeLessThan(64 << 20); // ...but not the empty rest
    const fsck = run('e2fsck', ['-fn', r.file]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(run('debugfs', ['-R', 'cat /etc/hostname', r.file]).stdout).toBe('tiny\n');
    console.log(`page: 1 GiB ext4, ${r.held} bytes held in pieces`);
  });

  it('builds from a folder: its contents become the root, files 0644 and directories 0755, owned by 0:0', async () => {
    const dir = t.path('esp');
    mkdirSync(join(dir, 'EFI/BOOT'), { recursive: true });
    writeFileSync(
      join(dir, 'EFI/BOOT/BOOTX64.EFI'),
      Uint8Array.from({ length: 150_000 }, (_, i) => i % 253),
    );
    writeFileSync(join(dir, 'EFI/BOOT/grub.cfg'), 'set timeout=0\n');
    writeFileSync(join(dir, 'README.TXT'), 'from a folder\n');
    const fat = await build({ folder: dir }, 'fat32', { label: 'ESP' });
    expect(fat.name).toBe('esp.fat32.img');
    const fsck = run('fsck.fat', ['-n', fat.file]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    const hostEsp = treeFromHostDir(dir);
    await expectSame(hostEsp, openFat(new MemoryDevice(fat.bytes())).tree, { ignoreFields: ['mode', 'uid', 'gid'] });
    const tar = await build({ folder: dir }, 'tar');
    const listing = run('tar', ['-tvf', tar.file]).stdout;
    expect(listing).toMatch(/^-rw-r--r-- 0\/0 +14 .* (\.\/)?README\.TXT$/m);
    expect(listing).toMatch(/^drwxr-xr-x 0\/0 .* (\.\/)?EFI\/BOOT\/$/m);
    expect(listing).not.toMatch(/esp\//);
    await expectSame(hostEsp, readTar(new MemoryDevice(tar.bytes())).tree, { ignoreFields: ['mode', 'uid', 'gid'] });
  });

  it('reads gzip of several members (the core decides when the browser will not) and names damaged gzip', async () => {
    const tar = readFileSync(tarball('.tar'));
    const half = Math.floor(tar.length / 2);
    const gz = (b: Uint8Array) => execFileSync('gzip', ['-6', '-c'], { input: b, maxBuffer: 1 << 28 });
    writeFileSync(t.path('members.tar.gz'), Buffer.concat([gz(tar.subarray(0, half)), gz(tar.subarray(half))]));
    const r = await build(t.path('members.tar.gz'), 'tar');
    await expectSame(host, readTar(new MemoryDevice(r.bytes())).tree, { mtime: true });

    const whole = readFileSync(tarball('.tar.gz'));
    writeFileSync(t.path('cut.tar.gz'), whole.subarray(0, whole.length - 100));
    await page.setInputFiles('#source', t.path('cut.tar.gz'));
    await page.click('#build');
    await page.waitForSelector('#status.error', { timeout: BUILD_TIMEOUT });
    expect(await page.textContent('#status')).toMatch(/^E_FORMAT_GZIP: gzip: .*(damaged|truncated)/);
  });

  it('says what is wrong with a file that is not a tarball, and builds again after it', async () => {
    const junk = t.path('junk.tar');
    writeFileSync(junk, 'this is not a tar archive'.repeat(100));
    await page.setInputFiles('#source', junk);
    await page.selectOption('#format', 'ext4');
    await page.click('#build');
    await page.waitForSelector('#status.error');
    expect(await page.textContent('#status')).toMatch(/^E_USAGE_SOURCE: junk\.tar: not a tar archive/);
    expect(await page.getAttribute('#download', 'href')).toBeNull();
  });

  it('works from the keyboard: Enter in a field builds', async () => {
    await page.setInputFiles('#source', tarball('.tar'));
    await page.selectOption('#format', 'ext2');
    await page.focus('#label');
    await page.keyboard.type('keys');
    await page.keyboard.press('Enter');
    await page.waitForSelector('#download[href^="blob:"]', { timeout: BUILD_TIMEOUT });
    expect(await page.textContent('#download')).toMatch(/^Download rootfs\.ext2 /);
  });

  it('inspects a partition of a GPT disk, finds a known file, downloads it and compares two images', async () => {
    const tree = treeFromHostDir(ROOT);
    const esp = new FileTree();
    esp.addFile('/EFI/BOOT/README.TXT', 'esp\n');
    const layout = {
      table: 'gpt' as const,
      partitions: [
        { name: 'esp', fs: 'fat32' as const, size: 40 << 20, tree: esp },
        { name: 'root', fs: 'ext4' as const, size: 'fit' as const, tree },
      ],
    };
    const disk = new MemoryDevice(diskSize(layout));
    await buildDisk(layout, disk);
    writeFileSync(t.path('disk.img'), disk.bytes);
    await page.setInputFiles('#image', t.path('disk.img'));
    await page.waitForSelector('#partition-field:not([hidden])');
    await page.selectOption('#partition', '2');
    await page.waitForSelector('#entries tr[data-path="/etc"]');
    await page.click('#entries tr[data-path="/etc"] button');
    await page.waitForSelector('#entries tr[data-path="/etc/hostname"]');
    const row = await page.$$eval(
      '#entries tr[data-path="/dev/console"], #entries tr[data-path="/etc/hostname"]',
      (r) => r.map((x) => x.textContent),
    );
    expect(row.join('|')).toMatch(/hostname-rw-r--r--0:05 B/);
    await page.click('#entries tr[data-path="/etc/hostname"] button');
    await page.waitForSelector('#preview:not([hidden])');
    expect(await page.textContent('#preview-text')).toBe('tiny\n');
    const [dl] = await Promise.all([page.waitForEvent('download'), page.click('#preview-download')]);
    expect(dl.suggestedFilename()).toBe('hostname');
    await dl.saveAs(t.path('hostname'));
    expect(readFileSync(t.path('hostname'), 'utf8')).toBe('tiny\n');
    await page.click('#path button:first-child');
    await page.waitForSelector('#entries tr[data-path="/dev"]');

    // the page's own ext4 against one written here from the same directory: the same tree
    const ours = new MemoryDevice(ext4MinimumSize(tree));
    await writeExt4(tree, ours);
    writeFileSync(t.path('node.ext4'), ours.bytes);
    await page.setInputFiles('#compare', t.path('node.ext4'));
    await page.locator('#diff', { hasText: /added/ }).waitFor();
    expect(await page.textContent('#diff')).toMatch(/0 added, 0 removed, 0 changed: the trees are the same$/);
    copyFileSync(join(REPO, 'web/index.html'), t.path('not-an-image.html'));
    await page.setInputFiles('#compare', t.path('not-an-image.html'));
    await page.waitForSelector('#diff.error');
    expect(await page.textContent('#diff')).toMatch(/^E_FORMAT_UNKNOWN: /);

    const shot = process.env.TINYIMAGE_SCREENSHOT === '1' ? join(REPO, 'docs/web.png') : t.path('web.png');
    await page.setInputFiles('#compare', t.path('node.ext4'));
    await page.locator('#diff', { hasText: 'the trees are the same' }).waitFor();
    await page.click('#entries tr[data-path="/etc"] button');
    await page.waitForSelector('#entries tr[data-path="/etc/hostname"]');
    await page.click('#entries tr[data-path="/etc/hostname"] button');
    await page.screenshot({ path: shot, fullPage: true });
  });

  it('logged no errors in the page or its workers', () => {
    expect(errors).toEqual([]);
  });
});
