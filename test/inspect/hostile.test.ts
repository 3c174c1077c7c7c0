/**
 * Hostile archives, built byte by byte here (the 110-byte newc headers are
 * written by hand so the archive can hold what our writer never would), and
 * by GNU cpio where it can be made to store the trick. Each one goes through
 * `tinyimage extract` (the real command code, in-process) into DIR, which
 * sits four levels deep inside a sandbox; the whole sandbox is snapshotted
 * before and after, so anything written outside DIR — by '..', an absolute
 * name, a symlink, a hard link or a device node — makes the test fail. The
 * outcome must be a safe extraction with warnings or a clean typed error
 * (exit 1, one line, no stack).
 */
import { describe, expect, it, beforeEach, afterEach } from 'vitest';
import { execFileSync, spawnSync } from 'node:child_process';
import {
  existsSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  writeFileSync,
  symlinkSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { gzipSync } from 'node:zlib';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';
import { readCpioTree } from '../../src/core/archive/cpio/index.js';
import { extractTree } from '../../src/node/host/extract.js';
import { have, missing, REPO } from '../helpers/prereq.js';

const enc = new TextEncoder();
const IS_ROOT = typeof process.getuid === 'function' && process.getuid() === 0;

interface Member {
  name: string;
  mode: number;
  data?: string | Uint8Array;
  ino?: number;
  nlink?: number;
  uid?: number;
  gid?: number;
  rdev?: [number, number];
  /** Force the namesize field (for forged sizes). */
  namesize?: number;
}

const hex = (n: number) => (n >>> 0).toString(16).padStart(8, '0');
const pad4 = (n: number) => (4 - (n % 4)) % 4;

/** A newc archive, written by hand. */
function newc(members: Member[], trailer = true): Uint8Array {
  const parts: Uint8Array[] = [];
  let pos = 0;
  const push = (b: Uint8Array) => {
    parts.push(b);
    pos += b.length;
  };
  let ino = 1000;
  for (const m of [...members, ...(trailer ? [{ name: 'TRAILER!!!', mode: 0, nlink: 1 }] : [])]) {
    const data = typeof m.data === 'string' ? enc.encode(m.data) : (m.data ?? new Uint8Array(0));
    const name = enc.encode(m.name + '\0');
    const fields = [
      m.ino ?? ino++,
      m.mode,
      m.uid ?? 0,
      m.gid ?? 0,
      m.nlink ?? ((m.mode & 0o170000) === 0o040000 ? 2 : 1),
      1_700_000_000,
      data.length,
      0,
      0,
      m.rdev?.[0] ?? 0,
      m.rdev?.[1] ?? 0,
      m.namesize ?? name.length,
      0,
    ];
    push(enc.encode('070701' + fields.map(hex).join('')));
    push(name);
    push(new Uint8Array(pad4(pos)));
    push(data);
    push(new Uint8Array(pad4(pos)));
  }
  const out = new Uint8Array(pos);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

const DIR = (name: string): Member => ({ name, mode: 0o040755 });
const FILE = (name: string, data = 'x', more: Partial<Member> = {}): Member => ({
  name,
  mode: 0o100644,
  data,
  ...more,
});
const LINK = (name: string, target: string): Member => ({ name, mode: 0o120777, data: target });

/** Every path under `root` with its type and link target, except those under `except`. */
function snapshot(root: string, except: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const n of readdirSync(d)) {
      const p = join(d, n);
      if (p === except) continue;
      const st = lstatSync(p);
      out.push(`${relative(root, p)} ${st.mode.toString(8)} ${st.isSymbolicLink() ? readlinkSync(p) : st.size}`);
      if (st.isDirectory()) walk(p);
    }
  };
  walk(root);
  return out.sort();
}

let sandbox = '';
let out = '';
let before: string[] = [];
/** A name that must never appear in the real /tmp (or the sandbox's parents). */
let uniq = '';

beforeEach(() => {
  sandbox = mkdtempSync(join(tmpdir(), 'ti-hostile-'));
  uniq = `ti-evil-${process.pid}-${Math.random().toString(36).slice(2)}`;
  mkdirSync(join(sandbox, 's1/s2/s3'), { recursive: true });
  writeFileSync(join(sandbox, 's1/victim'), 'precious');
  out = join(sandbox, 's1/s2/s3/out');
  before = snapshot(sandbox, out);
});

afterEach(() => {
  try {
    // nothing escaped DIR: the sandbox outside DIR is unchanged, and nothing landed in /tmp or next to the sandbox
    expect(snapshot(sandbox, out)).toEqual(before);
    expect(readFileSync(join(sandbox, 's1/victim'), 'utf8')).toBe('precious');
    for (const d of ['/tmp', tmpdir(), join(sandbox, '..'), '/'])
      expect(existsSync(join(d, uniq)), `${d}/${uniq}`).toBe(false);
  } finally {
    rmSync(sandbox, { recursive: true, force: true });
  }
});

/** Run `tinyimage extract ARCHIVE DIR` and check the outcome is clean either way. */
async function extract(archive: Uint8Array | string): Promise<{ code: number; warnings: string[]; err: string }> {
  let path = archive as string;
  if (typeof archive !== 'string') {
    path = join(sandbox, 'archive.cpio');
    writeFileSync(path, archive);
    before = snapshot(sandbox, out);
  }
  const c = capture();
  const code = await main(['extract', path, out], c);
  const lines = c.err().split('\n').filter(Boolean);
  const warnings = lines.filter((l) => l.startsWith('tinyimage: warning: '));
  const errors = lines.filter((l) => !l.startsWith('tinyimage: warning: '));
  if (code === 0)
    expect(errors, 'success prints warnings and the summary').toEqual([
      expect.stringMatching(/^tinyimage: extracted .* into .*: \d+ entries, (skipped \d+, )?\d+\.\d\d s$/),
    ]);
  else {
    expect(code).toBe(1);
    expect(errors.length, c.err()).toBe(1);
    expect(errors[0]).toMatch(/^tinyimage extract: /);
    expect(c.err()).not.toMatch(/\n\s+at /);
  }
  return { code, warnings, err: errors.join('\n') };
}

describe('hostile newc archives written by hand', () => {
  it('names with .. components are left out with a warning; the rest is extracted', async () => {
    const r = await extract(
      newc([
        DIR('.'),
        FILE('ok', 'fine'),
        FILE(`../../${uniq}`),
        FILE(`a/../../${uniq}`),
        FILE(`./../${uniq}`),
        FILE(`../../../../../../../../../../../tmp/${uniq}`),
        DIR(`../${uniq}`),
        LINK(`../../${uniq}`, '/etc/passwd'),
        FILE(`sub/../../../../${uniq}/x`),
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.warnings).toHaveLength(7);
    for (const w of r.warnings) expect(w).toMatch(/skipped member ".*" at offset \d+: .*'\.\.'/);
    expect(readdirSync(out)).toEqual(['ok']);
    expect(readFileSync(join(out, 'ok'), 'utf8')).toBe('fine');
    // the same inside gzip, after a clean first archive (the early-microcode layout)
    rmSync(out, { recursive: true });
    const gz = await extract(
      new Uint8Array([...newc([FILE('first', '1')]), ...gzipSync(newc([FILE(`../../${uniq}`), FILE('second', '2')]))]),
    );
    expect(gz.code).toBe(0);
    expect(gz.warnings).toEqual([expect.stringMatching(/skipped member "..\/..\/.*" at offset 0: /)]);
    expect(readdirSync(out).sort()).toEqual(['first', 'second']);
  });

  it('absolute names land inside DIR', async () => {
    const r = await extract(newc([FILE(`/tmp/${uniq}/evil`, 'abs'), FILE(`//${uniq}`, 'abs2'), DIR('/')]));
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, 'tmp', uniq, 'evil'), 'utf8')).toBe('abs');
    expect(readFileSync(join(out, uniq), 'utf8')).toBe('abs2');
  });

  it('a symlink pointing out, then entries under it: the link is kept (never followed), the entries are left out', async () => {
    const outside = join(sandbox, 's1');
    const r = await extract(
      newc([
        LINK('link', `/tmp/${uniq}`),
        FILE('link/evil', 'through'),
        DIR('link/d'),
        LINK('link/l', '/'),
        LINK('up', '../..'),
        FILE('up/victim', 'overwritten'),
        FILE(`up/${uniq}`),
        LINK('abs', outside),
        FILE('abs/victim', 'overwritten'),
        LINK('self', '.'),
        FILE('self/ok', 'hmm'),
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.warnings).toHaveLength(7);
    for (const w of r.warnings) expect(w).toMatch(/a symlink exists there/);
    expect(readlinkSync(join(out, 'link'))).toBe(`/tmp/${uniq}`);
    expect(readlinkSync(join(out, 'up'))).toBe('../..');
    expect(readlinkSync(join(out, 'abs'))).toBe(outside);
    expect(readdirSync(out).sort()).toEqual(['abs', 'link', 'self', 'up']);
  });

  it('duplicate names: the later member wins, never through the earlier one', async () => {
    const r = await extract(
      newc([
        FILE('d', 'file first'),
        DIR('d'),
        FILE('d/f', 'in dir'),
        DIR('e'),
        FILE('e/f', 'lost'),
        FILE('e', 'file last'),
        FILE('f', 'one'),
        FILE('f', 'two'),
        LINK('g', `/tmp/${uniq}`),
        FILE('g', 'replaces the link'),
        FILE('h', 'replaced by a link'),
        LINK('h', `/tmp/${uniq}`),
        DIR('i'),
        LINK('i', '/tmp'),
        FILE('i/evil', 'under the new link'),
      ]),
    );
    expect(r.code).toBe(0);
    expect(readFileSync(join(out, 'd/f'), 'utf8')).toBe('in dir');
    expect(readFileSync(join(out, 'e'), 'utf8')).toBe('file last');
    expect(readFileSync(join(out, 'f'), 'utf8')).toBe('two');
    expect(readFileSync(join(out, 'g'), 'utf8')).toBe('replaces the link');
    expect(readlinkSync(join(out, 'h'))).toBe(`/tmp/${uniq}`);
    expect(readlinkSync(join(out, 'i'))).toBe('/tmp');
    expect(r.warnings).toEqual([expect.stringMatching(/"i\/evil".*a symlink exists there/)]);
    expect(existsSync('/tmp/evil')).toBe(false);
  });

  const devices = (): Member[] => [
    { name: 'dev/null', mode: 0o020666, rdev: [1, 3] as [number, number] },
    { name: 'dev/sda', mode: 0o060660, rdev: [8, 0] as [number, number] },
    { name: 'dev/fifo', mode: 0o010644 },
    { name: 'dev/sock', mode: 0o140755 },
    { name: `../../${uniq}-node`, mode: 0o020666, rdev: [1, 5] as [number, number] },
  ];

  it('device nodes without root (library, no mknod callback): skipped with warnings', async () => {
    const warnings: string[] = [];
    const tree = await readCpioTree(
      newc(devices().map((d) => ({ ...d, name: d.name.replace(`../../${uniq}`, 'dev/x') }))),
    );
    const res = await extractTree(tree, out, { warn: (m) => warnings.push(m) });
    expect(res.skipped.sort()).toEqual(['/dev/fifo', '/dev/null', '/dev/sda', '/dev/sock', '/dev/x-node']);
    expect(warnings).toHaveLength(5);
    expect(readdirSync(join(out, 'dev'))).toEqual([]);
  });

  it.skipIf(!IS_ROOT || !have('mknod'))('device nodes as root: created, only inside DIR', async () => {
    const r = await extract(newc(devices()));
    expect(r.code).toBe(0);
    expect(r.warnings.some((w) => /skipped member "..\/..\/.*-node"/.test(w))).toBe(true);
    expect(r.warnings.some((w) => /skipped socket \/dev\/sock/.test(w))).toBe(true);
    const nul = lstatSync(join(out, 'dev/null'));
    expect(nul.isCharacterDevice()).toBe(true);
    expect([Math.floor(nul.rdev / 256), nul.rdev % 256]).toEqual([1, 3]);
    expect(nul.mode & 0o7777).toBe(0o666);
    expect(lstatSync(join(out, 'dev/sda')).isBlockDevice()).toBe(true);
    expect(lstatSync(join(out, 'dev/fifo')).isFIFO()).toBe(true);
    expect(readdirSync(join(out, 'dev')).sort()).toEqual(['fifo', 'null', 'sda']);
  });

  it('hard links: a name outside is left out, the group keeps its data and its inode', async () => {
    const r = await extract(
      newc([
        FILE('h1', '', { ino: 42, nlink: 3 }),
        FILE(`../../${uniq}`, '', { ino: 42, nlink: 3 }),
        FILE('h2', 'linked data', { ino: 42, nlink: 3 }),
        // the data travels with the hostile name (GNU cpio puts it on the last one)
        FILE('g1', '', { ino: 43, nlink: 2 }),
        FILE(`../${uniq}`, 'carried by the bad name', { ino: 43, nlink: 2 }),
        // a "hard link" to a path: newc has none, links are by inode number; the same inode as a device node stays separate by mode
        FILE('k', 'k', { ino: 44, nlink: 2 }),
        { name: 'kdev', mode: 0o020600, rdev: [1, 3], ino: 44, nlink: 2 },
      ]),
    );
    expect(r.code).toBe(0);
    expect(r.warnings).toHaveLength(2);
    expect(readFileSync(join(out, 'h1'), 'utf8')).toBe('linked data');
    expect(lstatSync(join(out, 'h1')).ino).toBe(lstatSync(join(out, 'h2')).ino);
    expect(lstatSync(join(out, 'h1')).nlink).toBe(2);
    expect(readFileSync(join(out, 'g1'), 'utf8')).toBe('carried by the bad name');
    expect(readFileSync(join(out, 'k'), 'utf8')).toBe('k');
  });

  it('very long names: a component over 255 bytes is left out, a forged namesize is a clean error, a deep path fits or fails cleanly', async () => {
    const long = 'n'.repeat(300);
    const r = await extract(newc([FILE(long), FILE(`ok/${long}/x`), FILE('ok/y', 'y')]));
    expect(r.code).toBe(0);
    expect(r.warnings).toHaveLength(2);
    for (const w of r.warnings) expect(w).toMatch(/300 bytes, the limit is 255/);
    expect(readdirSync(out)).toEqual(['ok']);
    rmSync(out, { recursive: true });

    const huge = await extract(newc([FILE('a'.repeat(5000))]));
    expect(huge.code).toBe(1);
    expect(huge.err).toMatch(/namesize 5001 .* outside 1\.\.4096/);
    const forged = await extract(newc([{ ...FILE('short'), namesize: 0x7fffffff }]));
    expect(forged.code).toBe(1);
    expect(forged.err).toMatch(/namesize/);
    expect(existsSync(out)).toBe(false);

    // 17 components of 250 bytes: valid in the tree (and in the archive: namesize 4267 is over 4096, so
    // build it as a tree), longer than PATH_MAX once joined to DIR on the host: a clean error, inside DIR
    const deep = Array.from({ length: 17 }, (_, i) => String.fromCharCode(97 + i).repeat(250));
    const d = await extract(
      newc([...deep.slice(0, 16).map((_, i) => DIR(deep.slice(0, i + 1).join('/'))), FILE('z', 'z')]),
    );
    expect(d.code).toBe(0); // 16 levels: about 4050 bytes with DIR, still fits
    rmSync(out, { recursive: true });
    const tree = await readCpioTree(newc([FILE('z', 'z')]));
    tree.addFile(deep.join('/'), 'too deep');
    await expect(extractTree(tree, out)).rejects.toThrow(expect.objectContaining({ code: 'E_IO_ENAMETOOLONG' }));
  });

  it('truncated and garbage archives fail with one clean line and write nothing', async () => {
    const full = newc([FILE('a', 'hello world')]);
    for (const bad of [full.subarray(0, 60), full.subarray(0, full.length - 130), newc([FILE('a', 'x')], false)]) {
      const r = await extract(bad);
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/E_FORMAT|truncated|TRAILER/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it("a non-directory named '.' (the root) is a clean error", async () => {
    for (const m of [FILE('.', 'x'), LINK('./', '/etc'), FILE('/', 'x')]) {
      const r = await extract(newc([FILE('a'), m]));
      expect(r.code).toBe(1);
      expect(r.err).toMatch(/names the root but is a (file|symlink)/);
      expect(existsSync(out)).toBe(false);
    }
  });

  it('the library default stays strict: readCpioTree throws E_FORMAT_CPIO_ENTRY on a .. name', async () => {
    await expect(readCpioTree(newc([FILE('../evil')]))).rejects.toThrow(
      expect.objectContaining({ code: 'E_FORMAT_CPIO_ENTRY' }),
    );
    const warned: string[] = [];
    const t = await readCpioTree(newc([FILE('../evil'), FILE('ok')]), {
      unsafeNames: 'skip',
      warn: (m) => warned.push(m),
    });
    expect([...t.walk()].map((e) => e.path)).toEqual(['/', '/ok']);
    expect(warned).toHaveLength(1);
  });
});

const BIN = join(REPO, 'bin/tinyimage.js');
describe.skipIf(!existsSync(join(REPO, 'dist/node/cli/main.js')))('the real binary (after npm run build)', () => {
  it('warns on stderr and exits 0 for skipped members; one line and exit 1 for a broken archive', () => {
    const a = join(sandbox, 'a.cpio');
    writeFileSync(a, newc([FILE('ok', 'ok'), FILE(`../../${uniq}`), LINK('l', '/tmp'), FILE('l/x')]));
    before = snapshot(sandbox, out);
    const r = spawnSync(process.execPath, [BIN, 'extract', a, out], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(/^tinyimage: warning: cpio: skipped member "..\/..\//),
      expect.stringMatching(/^tinyimage: warning: cpio: skipped member "l\/x"/),
      expect.stringMatching(new RegExp(`^tinyimage: extracted .*a\\.cpio into ${out}: 2 entries, [\\d.]+ s$`)),
    ]);
    expect(r.stdout).toBe('');
    rmSync(out, { recursive: true });
    writeFileSync(a, newc([FILE('a', 'x')]).subarray(0, 100));
    before = snapshot(sandbox, out);
    const bad = spawnSync(process.execPath, [BIN, 'extract', a, out], { encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^tinyimage extract: cpio: truncated header at offset 0: 100 of 110 bytes\n$/);
    expect(existsSync(out)).toBe(false);
  });
});

describe.skipIf(!IS_ROOT || !have('setpriv') || !existsSync(join(REPO, 'dist/node/cli/main.js')))(
  'the real binary as an unprivileged user',
  () => {
    it('skips device nodes and FIFOs with warnings and restores no owners', () => {
      const a = join(sandbox, 'dev.cpio');
      writeFileSync(
        a,
        newc([
          DIR('dev'),
          { name: 'dev/null', mode: 0o020666, rdev: [1, 3] },
          { name: 'dev/fifo', mode: 0o010644 },
          FILE('owned', 'x', { uid: 1234, gid: 5678 }),
        ]),
      );
      execFileSync('chmod', ['-R', 'a+rwX', sandbox]);
      before = snapshot(sandbox, out);
      const r = spawnSync(
        'setpriv',
        ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath, BIN, 'extract', a, out],
        { encoding: 'utf8' },
      );
      expect(r.status, r.stderr).toBe(0);
      expect(r.stderr.trim().split('\n').sort()).toEqual([
        expect.stringMatching(/^tinyimage: extracted .*dev\.cpio into .*: 2 entries, skipped 2, [\d.]+ s$/),
        'tinyimage: warning: skipped chardev /dev/null (needs root)',
        'tinyimage: warning: skipped fifo /dev/fifo (needs root)',
      ]);
      expect(readdirSync(join(out, 'dev'))).toEqual([]);
      expect(lstatSync(join(out, 'owned')).uid).toBe(65534);
    });
  },
);

describe.skipIf(missing({ tools: ['cpio', 'mknod'] }))('the same tricks in archives made by GNU cpio', () => {
  /** `find`-style name list fed to GNU cpio -o from `cwd`; the archive goes to `dest`. */
  const gnu = (cwd: string, names: string[], dest: string) =>
    execFileSync('sh', ['-c', `cpio -o -H newc --quiet >> "${dest}"`], {
      cwd,
      input: names.join('\n') + '\n',
      stdio: ['pipe', 'pipe', 'pipe'],
    });

  it('.. names, absolute names, a symlink then a dir of the same name, duplicates and devices', async () => {
    const work = join(sandbox, 'gnu');
    const inner = join(work, 'in');
    mkdirSync(inner, { recursive: true });
    writeFileSync(join(work, `${uniq}`), 'dotdot');
    writeFileSync(join(inner, 'ok'), 'ok');
    const dest = join(sandbox, 'gnu.cpio');
    // 1: '..' and absolute names exactly as GNU cpio stores them, and a hard-link group whose
    // last name (the one GNU cpio gives the data) is a '..' name
    writeFileSync(join(inner, 'hl'), 'linked');
    linkSync(join(inner, 'hl'), join(work, `${uniq}-hl`));
    gnu(inner, ['ok', `../${uniq}`, join(work, uniq), 'hl', `../${uniq}-hl`], dest);
    // 2: a symlink 'link' pointing out ...
    symlinkSync(`/tmp/${uniq}`, join(inner, 'link'));
    gnu(inner, ['link'], dest);
    // 3: ... then (next archive) a directory 'link' with a file under it, and 'ok' again
    rmSync(join(inner, 'link'));
    mkdirSync(join(inner, 'link'));
    writeFileSync(join(inner, 'link/evil'), 'evil');
    writeFileSync(join(inner, 'ok'), 'ok again');
    if (IS_ROOT) execFileSync('mknod', [join(inner, 'null'), 'c', '1', '3']);
    gnu(inner, ['link/evil', 'ok', ...(IS_ROOT ? ['null'] : [])], dest);
    rmSync(work, { recursive: true });
    const listed = execFileSync('sh', ['-c', `cpio -t --quiet < "${dest}"`])
      .toString()
      .trim()
      .split('\n');
    expect(listed).toContain(`../${uniq}`);
    expect(listed.some((l) => l.endsWith(`/${uniq}`) && l.includes('gnu'))).toBe(true);
    before = snapshot(sandbox, out);
    const r = await extract(dest);
    expect(r.code).toBe(0);
    expect(r.warnings).toEqual([
      expect.stringMatching(new RegExp(`skipped member "../${uniq}".*'\\.\\.'`)),
      expect.stringMatching(new RegExp(`skipped member "../${uniq}-hl".*'\\.\\.'`)),
      expect.stringMatching(/skipped member "link\/evil".*a symlink exists there/),
    ]);
    expect(readFileSync(join(out, 'ok'), 'utf8')).toBe('ok again');
    expect(readFileSync(join(out, 'hl'), 'utf8')).toBe('linked');
    // the symlink came in an earlier archive; 'link/evil' in the later one cannot go through it
    expect(readlinkSync(join(out, 'link'))).toBe(`/tmp/${uniq}`);
    const abs = join(out, sandbox.slice(1), 'gnu', uniq);
    expect(readFileSync(abs, 'utf8')).toBe('dotdot');
    if (IS_ROOT) expect(lstatSync(join(out, 'null')).isCharacterDevice()).toBe(true);
  });
});

describe.skipIf(missing({ tools: ['mke2fs', 'mkfs.fat', 'mcopy'] }))('forged names inside ext4 and FAT images', () => {
  /** Patch the first occurrence of `from` in the image with `to` (same length). */
  const patch = (img: string, from: Uint8Array, to: Uint8Array) => {
    const b = readFileSync(img);
    const i = b.indexOf(from);
    expect(i, 'name found in the image').toBeGreaterThan(0);
    b.set(to, i);
    writeFileSync(img, b);
  };
  const utf16 = (s: string) => new Uint8Array(Buffer.from(s, 'utf16le'));

  it("ext4: a directory entry named '../../evil' or 'x/y/' is refused cleanly; one named '..' or '.' is not an entry", async () => {
    const src = join(sandbox, 'src');
    mkdirSync(join(src, 'd'), { recursive: true });
    writeFileSync(join(src, 'AAAAAAAAAA'), 'evil');
    writeFileSync(join(src, 'QQ'), 'dotdot');
    writeFileSync(join(src, 'd/Q'), 'dot');
    writeFileSync(join(src, 'okfile'), 'ok');
    const base = join(sandbox, 'base.ext4');
    execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-O', '^metadata_csum', '-d', src, base, '4M'], {
      stdio: 'ignore',
    });
    rmSync(src, { recursive: true });
    const slash = join(sandbox, 'slash.ext4');
    writeFileSync(slash, readFileSync(base));
    patch(slash, enc.encode('AAAAAAAAAA'), enc.encode('../../evil'));
    before = snapshot(sandbox, out);
    const r1 = await extract(slash);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/has '\/' or NUL in its name/);
    const dots = join(sandbox, 'dots.ext4');
    writeFileSync(dots, readFileSync(base));
    patch(dots, enc.encode('AAAAAAAAAA'), enc.encode(uniq.slice(0, 10)));
    patch(dots, new Uint8Array([2, 1, 0x51, 0x51]), new Uint8Array([2, 1, 0x2e, 0x2e])); // name_len 2, file type 1, "QQ" -> ".."
    patch(dots, new Uint8Array([1, 1, 0x51]), new Uint8Array([1, 1, 0x2e])); // "Q" -> "."
    before = snapshot(sandbox, out);
    const r2 = await extract(dots);
    expect(r2.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(['d', 'lost+found', 'okfile', uniq.slice(0, 10)].sort());
    expect(readdirSync(join(out, 'd'))).toEqual([]);
  });

  it("FAT: a long name with '/' is refused cleanly; one named '..' is not an entry", async () => {
    const f = join(sandbox, 'base.fat');
    writeFileSync(join(sandbox, 'longnameQQQQQQ.txt'), 'evil');
    execFileSync('mkfs.fat', ['-C', f, '2048'], { stdio: 'ignore' });
    execFileSync('mcopy', ['-i', f, join(sandbox, 'longnameQQQQQQ.txt'), '::/'], {
      env: { ...process.env, MTOOLS_SKIP_CHECK: '1' },
    });
    rmSync(join(sandbox, 'longnameQQQQQQ.txt'));
    const slash = join(sandbox, 'slash.fat');
    writeFileSync(slash, readFileSync(f));
    patch(slash, utf16('QQQ'), utf16('/..'));
    before = snapshot(sandbox, out);
    const r1 = await extract(slash);
    expect(r1.code).toBe(1);
    expect(r1.err).toMatch(/invalid name "longname\/\.\.QQQ\.txt"/);
    const dots = join(sandbox, 'dots.fat');
    writeFileSync(dots, readFileSync(f));
    patch(dots, utf16('longn'), utf16('..\0\uffff\uffff'));
    before = snapshot(sandbox, out);
    const r2 = await extract(dots);
    expect(r2.code).toBe(0);
    expect(readdirSync(out)).toEqual([]);
  });
});
