import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addBusybox,
  findAppletNames,
  INSTALL_DIRS,
  parseListFull,
  readBusyboxApplets,
  type Applet,
} from '../../src/core/busybox/applets.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { CACHE, missing } from '../helpers/prereq.js';

const BUSYBOX = '/bin/busybox';
const skip = missing({ tools: ['busybox'], files: [BUSYBOX] });

const asLines = (a: Applet[]) => a.map((x) => (x.dir === '/' ? x.name : `${x.dir.slice(1)}/${x.name}`)).sort();

/** Build a fake binary: random bytes, the generated tables at random places, as busybox's build lays them out. */
function fabricate(
  names: string[],
  locs: number[],
  rnd: () => number,
  opts: { locFirst?: boolean; adjacent?: boolean } = {},
): Uint8Array {
  const enc = new TextEncoder();
  const namesBlob = enc.encode(names.join('\0') + '\0\0');
  const loc = new Uint8Array(Math.ceil(names.length / 2));
  for (let k = 0; k < names.length; k++) loc[k >> 1]! |= locs[k]! << (k & 1 ? 4 : 0);
  const noise = (n: number) => {
    const b = new Uint8Array(n);
    // Bytes with high bits set cannot form names or valid nibble windows by accident too often;
    // mix in real-looking text and zeros too.
    for (let i = 0; i < n; i++)
      b[i] = rnd() < 0.2 ? 0 : rnd() < 0.3 ? 0x61 + Math.floor(rnd() * 26) : Math.floor(rnd() * 256);
    return b;
  };
  const parts = opts.adjacent
    ? [noise(2000), loc, namesBlob, noise(3000)] // as in a musl build: the names start right after the table, no NUL between
    : opts.locFirst
      ? [noise(3000), loc, noise(77), new Uint8Array([0]), namesBlob, noise(5000)]
      : [noise(4096), new Uint8Array([0]), namesBlob, noise(300), loc, noise(4000)];
  const total = parts.reduce((s, p) => s + p.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function mulberry(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe.skipIf(skip)("Debian's busybox-static", () => {
  const bin = new Uint8Array(readFileSync(BUSYBOX));
  const listFull = execFileSync(BUSYBOX, ['--list-full'], { encoding: 'utf8' });

  it('applets and install locations equal `busybox --list-full` exactly', () => {
    const ours = readBusyboxApplets(bin);
    const theirs = listFull.split('\n').filter(Boolean).sort();
    expect(ours.length).toBeGreaterThan(200);
    expect(asLines(ours)).toEqual(theirs);
    // Also in the same order as the binary's sorted table.
    expect(ours.map((a) => a.name)).toEqual(
      [...ours.map((a) => a.name)].sort((x, y) => (Buffer.from(x) < Buffer.from(y) ? -1 : 1)),
    );
  });

  it('does not depend on the architecture in the ELF header', () => {
    const arm = bin.slice();
    arm[18] = 183; // e_machine = EM_AARCH64
    arm[19] = 0;
    expect(asLines(readBusyboxApplets(arm))).toEqual(asLines(readBusyboxApplets(bin)));
  });

  it('addBusybox makes /bin/busybox 0755 and one absolute symlink per applet, like --install -s', () => {
    const tree = new FileTree();
    tree.addFile('/bin/sh', '#!/custom\n', { mode: 0o755 }); // existing names are kept
    const added = addBusybox(tree, bin);
    const bb = tree.get('/bin/busybox');
    expect(bb?.type).toBe('file');
    expect(bb?.mode).toBe(0o755);
    expect(bb?.type === 'file' && bb.content.size).toBe(bin.length);
    expect(tree.get('/bin/sh')?.type).toBe('file');
    expect(added.find((a) => a.name === 'sh')).toBeUndefined();
    const links: string[] = [];
    for (const e of tree.walk()) {
      if (e.node.type === 'symlink') {
        expect(e.node.target).toBe('/bin/busybox');
        links.push(e.path.slice(1));
      }
    }
    const expected = listFull
      .split('\n')
      .filter((l) => l && l !== 'bin/sh' && l !== 'bin/busybox' /* Debian lists the binary itself */)
      .sort();
    expect(links.sort()).toEqual(expected);
    expect(added.length).toBe(expected.length);
  });
});

// Other real builds (musl, the 'tiny' and 'disk' configs) when the toolchain cache has them; not required.
const cached = (() => {
  const dir = join(CACHE, 'toolchain', 'busybox');
  try {
    return readdirSync(dir).map((h) => join(dir, h, 'busybox'));
  } catch {
    return [];
  }
})();
const OTHER = [...(process.env.TINYIMAGE_TEST_BUSYBOX ?? '').split(':'), ...cached].filter((p) => p && existsSync(p));
describe.skipIf(OTHER.length === 0)('other busybox builds (toolchain cache, $TINYIMAGE_TEST_BUSYBOX)', () => {
  it.each(OTHER)('%s equals its --list-full', (p) => {
    const theirs = execFileSync(p, ['--list-full'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort();
    expect(asLines(readBusyboxApplets(new Uint8Array(readFileSync(p))))).toEqual(theirs);
  });
});

describe('applet table parser on fabricated binaries', () => {
  it('finds names and packed install locations (odd and even counts, tables in either order)', () => {
    const base = [
      '[',
      '[[',
      'ash',
      'awk',
      'cat',
      'chroot',
      'ifconfig',
      'init',
      'linuxrc',
      'ls',
      'mkfs.ext2',
      'mount',
      'run-parts',
      'sh',
      'ssl_client',
      'wc',
    ];
    const loc = [3, 3, 1, 3, 1, 4, 2, 2, 0, 1, 2, 1, 1, 1, 3, 3];
    for (const drop of [0, 1]) {
      const names = base.slice(0, base.length - drop);
      const locs = loc.slice(0, names.length);
      for (const layout of ['namesFirst', 'locFirst', 'adjacent'] as const) {
        const bin = fabricate(names, locs, mulberry(names.length * 7 + layout.length), {
          locFirst: layout === 'locFirst',
          adjacent: layout === 'adjacent',
        });
        const got = readBusyboxApplets(bin);
        expect(got).toEqual(names.map((name, k) => ({ name, dir: INSTALL_DIRS[locs[k]!] })));
      }
    }
  });

  it('cuts install-location bytes that read as part of the first name ("3[" -> "[")', () => {
    const names = ['[', '[[', 'ash', 'awk', 'cat', 'chroot', 'ifconfig', 'init', 'ls', 'mount', 'sh', 'wc'];
    const locs = [3, 3, 1, 3, 1, 4, 2, 2, 1, 1, 1, 3];
    locs[10] = 3;
    locs[11] = 3; // last table byte 0x33 = '3', glued to "["
    names[10] = 'sha1sum';
    const bin = fabricate(names, locs, mulberry(99), { adjacent: true });
    expect(findAppletNames(bin)?.names[0]).toBe('3[');
    expect(readBusyboxApplets(bin)).toEqual(names.map((name, k) => ({ name, dir: INSTALL_DIRS[locs[k]!] })));
  });

  it('property: random applet sets with real anchor names round-trip', () => {
    const pool = [
      'ls',
      'cat',
      'mount',
      'sh',
      'ifconfig',
      'init',
      'awk',
      'wc',
      'chroot',
      'sed',
      'grep',
      'halt',
      'head',
      'tail',
      'crond',
    ];
    const anchorLoc: Record<string, number> = {
      ls: 1,
      cat: 1,
      mount: 1,
      sh: 1,
      ifconfig: 2,
      init: 2,
      awk: 3,
      wc: 3,
      chroot: 4,
      sed: 1,
      grep: 1,
      halt: 2,
      head: 3,
      tail: 3,
      crond: 4,
    };
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.stringMatching(/^[a-z][a-z0-9_.-]{0,11}$/), { minLength: 0, maxLength: 80 }),
        fc.integer(),
        fc.constantFrom('namesFirst', 'locFirst', 'adjacent'),
        (extra, seed, layout) => {
          const rnd = mulberry(seed);
          const names = [...new Set([...pool, ...extra])].sort((a, b) => Buffer.from(a).compare(Buffer.from(b)));
          const locs = names.map((n) => anchorLoc[n] ?? 1 + Math.floor(rnd() * 4));
          const bin = fabricate(names, locs, rnd, { locFirst: layout === 'locFirst', adjacent: layout === 'adjacent' });
          const got = readBusyboxApplets(bin);
          expect(got.map((a) => a.name)).toEqual(names);
          expect(got.map((a) => INSTALL_DIRS.indexOf(a.dir))).toEqual(locs);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('rejects data without tables, and uses the fallback only then', () => {
    const rnd = mulberry(5);
    const junk = new Uint8Array(20000).map(() => 0x80 + Math.floor(rnd() * 128));
    expect(() => readBusyboxApplets(junk)).toThrow(expect.objectContaining({ code: 'E_FORMAT_BUSYBOX' }));
    let called = 0;
    const got = readBusyboxApplets(junk, {
      fallback: () => {
        called++;
        return 'bin/ls\nusr/sbin/chroot\nlinuxrc\n';
      },
    });
    expect(called).toBe(1);
    expect(got).toEqual([
      { name: 'ls', dir: '/bin' },
      { name: 'chroot', dir: '/usr/sbin' },
      { name: 'linuxrc', dir: '/' },
    ]);
    // Names without an install-location table (FEATURE_INSTALLER off) -> error names the structure.
    const names = new TextEncoder().encode('\0ash\0cat\0ls\0mount\0sh\0\0');
    const noLoc = new Uint8Array(junk.length + names.length);
    noLoc.set(junk);
    noLoc.set(names, junk.length);
    expect(findAppletNames(noLoc)?.names).toEqual(['ash', 'cat', 'ls', 'mount', 'sh']);
    expect(() => readBusyboxApplets(noLoc)).toThrow(
      expect.objectContaining({ data: expect.objectContaining({ structure: 'applet_install_loc' }) }),
    );
  });

  it('parseListFull rejects garbage', () => {
    expect(() => parseListFull('')).toThrow(expect.objectContaining({ code: 'E_FORMAT_BUSYBOX_LIST' }));
    expect(() => parseListFull('opt/foo/bar\n')).toThrow(expect.objectContaining({ code: 'E_FORMAT_BUSYBOX_LIST' }));
  });
});
