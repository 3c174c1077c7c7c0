/**
 * Hostile tar archives and OCI layouts, written byte by byte here so they
 * can hold what no honest writer would: truncations, bad checksums, sizes
 * past the end, '..' and absolute names, links escaping the root, hard
 * links to nothing, huge pax records and sparse maps, forged digests. Each
 * must give a typed one-line error naming the member and its offset (or the
 * documented safe handling); nothing may crash, hang, allocate what the
 * input cannot back, or be written outside the extraction directory.
 */
import { describe, expect, test } from 'vitest';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { looksLikeTar, readTar } from '../../src/core/archive/tar/index.js';
import { setChecksum } from '../../src/core/archive/tar/numbers.js';
import { isZero } from '../../src/core/io/device.js';
import { openSource } from '../../src/node/host/source.js';
import { extractTree } from '../../src/node/host/extract.js';
import { readContent } from '../../src/core/tree/content.js';
import { TinyImageError } from '../../src/core/errors.js';
import { treeArb } from '../helpers/arbitrary.js';
import { mem, tarBytes, tmp } from './helpers.js';

const enc = new TextEncoder();

interface H {
  name: string;
  type?: string;
  size?: number | Uint8Array;
  mode?: number;
  link?: string;
  data?: Uint8Array | string;
  chksum?: number;
  magic?: 'ustar' | 'gnu';
}

/** One member, header written by hand (POSIX field places), data padded to 512. */
function member(h: H): Uint8Array {
  const data = typeof h.data === 'string' ? enc.encode(h.data) : (h.data ?? new Uint8Array(0));
  const b = new Uint8Array(512);
  const put = (off: number, s: string | Uint8Array) => b.set(typeof s === 'string' ? enc.encode(s) : s, off);
  const oct = (v: number, w: number) => v.toString(8).padStart(w - 1, '0');
  put(0, enc.encode(h.name).subarray(0, 100));
  put(100, oct(h.mode ?? 0o644, 8));
  put(108, oct(0, 8));
  put(116, oct(0, 8));
  put(124, h.size instanceof Uint8Array ? h.size : oct(h.size ?? data.length, 12));
  put(136, oct(1700000000, 12));
  put(156, h.type ?? '0');
  if (h.link) put(157, h.link);
  put(257, h.magic === 'gnu' ? 'ustar  \0' : 'ustar\x0000');
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 32 : b[i]!;
  put(148, oct(h.chksum ?? sum, 7) + '\0');
  const out = new Uint8Array(512 + Math.ceil(data.length / 512) * 512);
  out.set(b);
  out.set(data, 512);
  return out;
}
const pax = (records: Record<string, string>) =>
  Object.entries(records)
    .map(([k, v]) => {
      const body = ` ${k}=${v}\n`;
      let n = body.length + 1;
      while (String(n).length + body.length !== n) n++;
      return `${n}${body}`;
    })
    .join('');
function tar(...members: Uint8Array[]): Uint8Array {
  const total = members.reduce((s, m) => s + m.length, 0) + 1024;
  const out = new Uint8Array(total);
  let o = 0;
  for (const m of members) {
    out.set(m, o);
    o += m.length;
  }
  return out;
}

function fails(bytes: Uint8Array, code: string, opts: Parameters<typeof readTar>[1] = {}): TinyImageError {
  let err: unknown;
  try {
    readTar(mem(bytes), opts);
  } catch (e) {
    err = e;
  }
  expect(err, `expected ${code}`).toBeInstanceOf(TinyImageError);
  const e = err as TinyImageError;
  expect(e.code).toBe(code);
  expect(e.message).not.toContain('\n');
  expect(typeof e.data.offset).toBe('number');
  return e;
}

describe('hostile tar archives: typed errors naming member and offset', () => {
  const ok = member({ name: 'ok', data: 'fine\n' });

  test('truncated inside data and inside a header', () => {
    const whole = tar(ok, member({ name: 'big', data: new Uint8Array(5000).fill(7) }));
    const e = fails(whole.subarray(0, 512 * 4), 'E_FORMAT_TAR_TRUNCATED');
    expect(e.message).toContain('"big" at offset 1024');
    fails(whole.subarray(0, 1024 + 100), 'E_FORMAT_TAR_TRUNCATED');
  });

  test('a bad header checksum', () => {
    const e = fails(tar(ok, member({ name: 'x', chksum: 1234 })), 'E_FORMAT_TAR_CHECKSUM');
    expect(e.data.offset).toBe(1024);
  });

  test('sizes past the end, octal and base-256, allocate nothing', () => {
    fails(tar(member({ name: 'huge', size: 0o77777777777 })), 'E_FORMAT_TAR_TRUNCATED');
    const b256 = new Uint8Array(12);
    b256[0] = 0x80;
    b256.fill(0xff, 1);
    fails(tar(member({ name: 'b256', size: b256 })), 'E_FORMAT_TAR_NUMBER');
    fails(
      tar(member({ name: 'PaxHeaders/x', type: 'x', data: pax({ size: '99999999999999' }) }), member({ name: 'x' })),
      'E_FORMAT_TAR_TRUNCATED',
    );
  });

  test("'..' names are refused, or skipped with a warning on request; leading '/' is stripped and said", () => {
    const evil = tar(ok, member({ name: 'a/../../etc/passwd', data: 'pwned' }));
    expect(fails(evil, 'E_FORMAT_TAR_UNSAFE_NAME').message).toContain('a/../../etc/passwd');
    const skipped = readTar(mem(evil), { unsafe: 'skip' });
    expect([...skipped.tree.root.children.keys()]).toEqual(['ok']);
    expect(skipped.warnings.join()).toContain("'..'");
    const abs = readTar(mem(tar(member({ name: '/etc/passwd', data: 'root' }))));
    expect(abs.tree.get('/etc/passwd')?.type).toBe('file');
    expect(abs.warnings[0]).toContain("removing leading '/'");
  });

  test('links: a member under a symlink, hard links to nothing, to a directory, or out of the root', () => {
    const viaLink = tar(
      member({ name: 'a', type: '2', link: '../../../etc' }),
      member({ name: 'a/passwd', data: 'x' }),
    );
    fails(viaLink, 'E_FORMAT_TAR_NOT_DIR');
    const kept = readTar(mem(tar(member({ name: 'a', type: '2', link: '../../../etc' }))));
    expect(kept.tree.get('/a')).toMatchObject({ type: 'symlink', target: '../../../etc' }); // data of the image, never followed
    fails(tar(member({ name: 'h', type: '1', link: 'missing' })), 'E_FORMAT_TAR_LINK');
    fails(
      tar(member({ name: 'd', type: '5', mode: 0o755 }), member({ name: 'h', type: '1', link: 'd' })),
      'E_FORMAT_TAR_LINK',
    );
    fails(tar(ok, member({ name: 'h', type: '1', link: '../ok' })), 'E_FORMAT_TAR_UNSAFE_NAME');
    const collected = readTar(mem(tar(member({ name: 'h', type: '1', link: 'lower/file' }))), {
      danglingLinks: 'collect',
    });
    expect(collected.links).toEqual([{ path: '/h', target: '/lower/file', offset: 0 }]);
  });

  test('huge or malformed extended headers', () => {
    // a source that claims 1 GiB: the limits must refuse before reading (or allocating) the claimed sizes
    for (const [h, code] of [
      [member({ name: 'p', type: 'x', size: 64 << 20 }), 'E_FORMAT_TAR_EXTENDED'],
      [member({ name: 'L', type: 'L', size: 32 << 20, magic: 'gnu' }), 'E_FORMAT_TAR_EXTENDED'],
    ] as const) {
      let read = 0;
      const virtual = {
        size: 1 << 30,
        readAt: (o: number, n: number) => {
          read += n;
          const b = new Uint8Array(n);
          if (o < 512) b.set(h.subarray(o, Math.min(512, o + n)));
          return b;
        },
      };
      let err: unknown;
      try {
        readTar(virtual);
      } catch (e) {
        err = e;
      }
      expect((err as TinyImageError).code).toBe(code);
      expect(read).toBeLessThanOrEqual(128 * 1024); // the 64 KiB read-ahead window at most
    }
    fails(tar(member({ name: 'p', type: 'x', data: '99999 path=x\n' }), ok), 'E_FORMAT_TAR_PAX');
    fails(tar(member({ name: 'p', type: 'x', data: '6 abc\n' }), ok), 'E_FORMAT_TAR_PAX');
    fails(tar(member({ name: 'p', type: 'x', data: pax({ mtime: 'yesterday' }) }), ok), 'E_FORMAT_TAR_PAX');
    fails(tar(member({ name: 'p', type: 'x', data: pax({ path: 'x' }) })), 'E_FORMAT_TAR_TRUNCATED');
    fails(
      tar(member({ name: 'p', type: 'x', data: pax({ 'LIBARCHIVE.xattr.user.%E0%A4%A': 'AAAA' }) }), ok),
      'E_FORMAT_TAR_PAX',
    );
    fails(tar(member({ name: 'p', type: 'x', data: pax({ 'LIBARCHIVE.xattr.user.x': 'A' }) }), ok), 'E_FORMAT_TAR_PAX');
    fails(tar(member({ name: 'p', type: 'x', data: pax({ uid: '99999999999' }) }), ok), 'E_FORMAT_TAR_OWNER');
    const lib = readTar(
      mem(tar(member({ name: 'p', type: 'x', data: pax({ 'LIBARCHIVE.xattr.user.a%20b': 'aGk=' }) }), ok)),
    );
    expect(new TextDecoder().decode(lib.tree.get('/ok')!.xattrs.get('user.a b'))).toBe('hi');
  });

  test('hostile sparse maps', () => {
    const sp10 = (map: string, stored: string) =>
      tar(
        member({
          name: 'p',
          type: 'x',
          data: pax({
            'GNU.sparse.major': '1',
            'GNU.sparse.minor': '0',
            'GNU.sparse.name': 'f',
            'GNU.sparse.realsize': '100000',
          }),
        }),
        member({ name: 'GNUSparseFile.0/f', data: enc.encode(map.padEnd(512, '\0') + stored) }),
      );
    expect(readTar(mem(sp10('1\n10\n3\n', 'abc'))).tree.get('/f')).toMatchObject({ type: 'file' });
    fails(sp10('999999999999\n', ''), 'E_FORMAT_TAR_SPARSE');
    fails(sp10('2\n10\n3\n11\n0\n', 'abc'), 'E_FORMAT_TAR_SPARSE'); // overlapping
    fails(sp10('1\n99999\n3\n', 'abc'), 'E_FORMAT_TAR_SPARSE'); // past the real size
    fails(sp10('1\n10\n5\n', 'abc'), 'E_FORMAT_TAR_SPARSE'); // more than stored
    fails(
      tar(member({ name: 'p', type: 'x', data: pax({ 'GNU.sparse.map': '1,2,3', 'GNU.sparse.size': '9' }) }), ok),
      'E_FORMAT_TAR_SPARSE',
    );
  });

  test('fuzz: flipped bytes and truncations give a tree or a TinyImageError, never anything else', async () => {
    const base = await tarBytes(fc.sample(treeArb({ maxEntries: 25 }), { seed: 7, numRuns: 1 })[0]!);
    // header blocks of the base archive: half the runs fix their checksums after flipping, to reach the parsers behind them
    const headers: number[] = [];
    for (let o = 0; o + 512 <= base.length; o += 512)
      if (!isZero(base.subarray(o, o + 512)) && looksLikeTar(base.subarray(o, o + 512))) headers.push(o);
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(fc.nat(base.length - 1), fc.integer({ min: 1, max: 255 })), { maxLength: 6 }),
        fc.nat(base.length),
        fc.boolean(),
        async (flips, cut, fix) => {
          const b = base.slice(0, Math.max(cut, 1024));
          for (const [i, x] of flips) if (i < b.length) b[i]! ^= x;
          if (fix) for (const o of headers) if (o + 512 <= b.length) setChecksum(b, o);
          try {
            const r = readTar(mem(b));
            for (const e of r.tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
          } catch (e) {
            if (!(e instanceof TinyImageError)) throw e;
          }
        },
      ),
      { numRuns: 600 },
    );
  });

  test('fuzz: random pax records of every keyword the reader knows give a tree or a TinyImageError', async () => {
    const keys = [
      'path',
      'linkpath',
      'size',
      'uid',
      'gid',
      'mtime',
      'atime',
      'ctime',
      'SCHILY.xattr.user.x',
      'LIBARCHIVE.xattr.user.y',
      'SCHILY.acl.access',
      'SCHILY.acl.default',
      'SCHILY.devmajor',
      'SCHILY.devminor',
      'GNU.sparse.major',
      'GNU.sparse.minor',
      'GNU.sparse.name',
      'GNU.sparse.realsize',
      'GNU.sparse.size',
      'GNU.sparse.map',
      'GNU.sparse.numblocks',
      'GNU.sparse.offset',
      'GNU.sparse.numbytes',
    ];
    const value = fc.oneof(
      fc.string({ maxLength: 30 }),
      fc.nat().map(String),
      fc.integer({ min: -5, max: 5 }).map(String),
      fc.constantFrom('0', '1', '-1.5', '0,1,2,3', 'user::rw-,group::r--,other::r--', '../x', '/abs', 'a%zz'),
    );
    const recs = fc.array(fc.tuple(fc.constantFrom(...keys), value), { maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(recs, recs, fc.constantFrom('0', '2', '3', '5', '1', 'S'), async (g, x, type) => {
        const enc2 = (r: Array<[string, string]>) => r.map(([k, v]) => pax({ [k]: v })).join('');
        const b = tar(
          member({ name: 'g', type: 'g', data: enc2(g) }),
          member({ name: 'p', type: 'x', data: enc2(x) }),
          member({ name: 'm', type, data: '1\n0\n1\n'.padEnd(600, 'z'), link: 'm0' }),
        );
        try {
          const r = readTar(mem(b));
          for (const e of r.tree.walk()) if (e.node.type === 'file') await readContent(e.node.content);
        } catch (e) {
          if (!(e instanceof TinyImageError)) throw e;
        }
      }),
      { numRuns: 800 },
    );
  });

  test('extracting a hostile archive writes nothing outside the directory', async () => {
    const w = tmp();
    try {
      const evil = tar(
        member({ name: '/abs', data: 'stripped' }),
        member({ name: 'link', type: '2', link: '/tmp' }),
        member({ name: 'dot/./x', data: 'fine' }),
      );
      const { tree } = readTar(mem(evil));
      mkdirSync(join(w.dir, 'sandbox/a/b'), { recursive: true });
      await extractTree(tree, join(w.dir, 'sandbox/a/b/out'));
      expect(readdirSync(join(w.dir, 'sandbox/a/b/out')).sort()).toEqual(['abs', 'dot', 'link']);
      expect(readdirSync(join(w.dir, 'sandbox'))).toEqual(['a']);
    } finally {
      w.cleanup();
    }
  });
});

describe('pax semantics on hand-made archives', () => {
  test('a global header applies to every later member; a member record overrides it; an empty member value deletes it', () => {
    const r = readTar(
      mem(
        tar(
          member({ name: 'g', type: 'g', data: pax({ uid: '7', 'SCHILY.xattr.user.g': 'global' }) }),
          member({ name: 'a', data: 'a' }),
          member({ name: 'p', type: 'x', data: pax({ uid: '9' }) }),
          member({ name: 'b', data: 'b' }),
          member({ name: 'p', type: 'x', data: '7 uid=\n' }),
          member({ name: 'c', data: 'c' }),
        ),
      ),
    );
    expect(['/a', '/b', '/c'].map((p) => r.tree.get(p)!.uid)).toEqual([7, 9, 0]);
    expect(new TextDecoder().decode(r.tree.get('/c')!.xattrs.get('user.g'))).toBe('global');
  });

  test('GNU long name and long link, negative pax times, a hard link carrying data', () => {
    const long = 'd/'.repeat(80) + 'file';
    const r = readTar(
      mem(
        tar(
          member({ name: '././@LongLink', type: 'L', data: long + '\0', magic: 'gnu' }),
          member({ name: long.slice(0, 99), data: 'x', magic: 'gnu' }),
          member({ name: '././@LongLink', type: 'K', data: 'T'.repeat(300) + '\0', magic: 'gnu' }),
          member({ name: 'sym', type: '2', link: 'T', magic: 'gnu' }),
          member({ name: 'p', type: 'x', data: pax({ mtime: '-1.25', atime: '5.000000001' }) }),
          member({ name: 'old', data: 'o' }),
          member({ name: 'h', type: '1', link: 'old', data: 'ignored' }),
        ),
      ),
    );
    expect(r.tree.get('/' + long)?.type).toBe('file');
    expect(r.tree.get('/sym')).toMatchObject({ type: 'symlink', target: 'T'.repeat(300) });
    expect(r.tree.get('/old')).toMatchObject({ mtime: { sec: -2, nsec: 750000000 }, atime: { sec: 5, nsec: 1 } });
    expect(r.tree.get('/h')).toBe(r.tree.get('/old'));
  });
});

describe('hostile OCI layouts and docker-archives', () => {
  const sha = (b: Uint8Array | string) => createHash('sha256').update(b).digest('hex');
  /** An OCI layout written by hand; `edit` may change the JSON before it is stored. */
  function layout(
    dir: string,
    layers: Uint8Array[],
    edit: (m: { manifest: Record<string, unknown>; index: Record<string, unknown> }) => void = () => {},
    diffIds?: string[],
  ) {
    mkdirSync(join(dir, 'blobs/sha256'), { recursive: true });
    const blob = (b: Uint8Array | string) => {
      const h = sha(b);
      writeFileSync(join(dir, 'blobs/sha256', h), b);
      return `sha256:${h}`;
    };
    const config = JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: diffIds ?? layers.map((l) => `sha256:${sha(l)}`) },
    });
    const cd = blob(config);
    const manifest: Record<string, unknown> = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: cd, size: config.length },
      layers: layers.map((l) => ({
        mediaType: 'application/vnd.oci.image.layer.v1.tar',
        digest: blob(l),
        size: l.length,
      })),
    };
    const index: Record<string, unknown> = { schemaVersion: 2, manifests: [] };
    edit({ manifest, index });
    const mj = JSON.stringify(manifest);
    const md = blob(mj);
    if (!(index.manifests as unknown[]).length)
      index.manifests = [
        {
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          digest: md,
          size: mj.length,
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ];
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  }
  const layer = tar(member({ name: 'etc/hostname', data: 'box\n' }));

  test('a sound hand-made layout reads', async () => {
    const w = tmp();
    try {
      layout(w.dir, [layer]);
      const s = await openSource(`oci:${w.dir}:latest`);
      expect(s.tree.get('/etc/hostname')?.type).toBe('file');
      expect(s.spooled).toBe(false); // an uncompressed layer blob is read in place
      s.close();
    } finally {
      w.cleanup();
    }
  });

  test.each([
    [
      'a digest that is a path',
      ({ index }: { index: Record<string, unknown> }) => {
        index.manifests = [
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: 'sha256:../../../../etc/passwd',
            size: 10,
          },
        ];
      },
      'E_FORMAT_OCI_DIGEST',
    ],
    [
      'a missing blob',
      ({ manifest }: { manifest: Record<string, unknown> }) => {
        (manifest.layers as Array<Record<string, unknown>>)[0]!.digest = `sha256:${'0'.repeat(64)}`;
      },
      'E_FORMAT_OCI_MISSING',
    ],
    [
      'a size that does not match',
      ({ manifest }: { manifest: Record<string, unknown> }) => {
        (manifest.layers as Array<Record<string, unknown>>)[0]!.size = 3;
      },
      'E_FORMAT_OCI_SIZE',
    ],
    [
      'an unknown layer media type',
      ({ manifest }: { manifest: Record<string, unknown> }) => {
        (manifest.layers as Array<Record<string, unknown>>)[0]!.mediaType = 'application/x-evil';
      },
      'E_FORMAT_OCI_MEDIA_TYPE',
    ],
    [
      'layers that are not a list',
      ({ manifest }: { manifest: Record<string, unknown> }) => {
        manifest.layers = 'nope';
      },
      'E_FORMAT_OCI_JSON',
    ],
  ] as const)('%s is a typed error', async (_what, edit, code) => {
    const w = tmp();
    try {
      layout(w.dir, [layer], edit as never);
      const err = await openSource(`oci:${w.dir}:latest`).then(
        () => undefined,
        (e) => e,
      );
      expect(err).toBeInstanceOf(TinyImageError);
      expect(err.code).toBe(code);
    } finally {
      w.cleanup();
    }
  });

  test("a layer with a '..' member, and a diff_id that does not match the uncompressed layer, are refused", async () => {
    const w = tmp();
    try {
      layout(join(w.dir, 'a'), [tar(member({ name: '../escape', data: 'x' }))]);
      expect(
        await openSource(`oci:${join(w.dir, 'a')}`).then(
          () => undefined,
          (e) => e.code,
        ),
      ).toBe('E_FORMAT_TAR_UNSAFE_NAME');
      layout(join(w.dir, 'b'), [layer], undefined, [`sha256:${'1'.repeat(64)}`]);
      const err = await openSource(`oci:${join(w.dir, 'b')}`).then(
        () => undefined,
        (e) => e,
      );
      expect(err.code).toBe('E_FORMAT_OCI_DIGEST');
      expect(err.message).toContain('diff_id');
    } finally {
      w.cleanup();
    }
  });

  test('fuzz: random JSON in index, manifest and config gives layers or a TinyImageError (pure store in memory)', async () => {
    const { ociImageLayers } = await import('../../src/core/archive/oci/index.js');
    const doc = fc.oneof(
      fc.jsonValue({ maxDepth: 3 }),
      fc.record(
        {
          schemaVersion: fc.constantFrom(2, '2', null),
          mediaType: fc.constantFrom(
            'application/vnd.oci.image.manifest.v1+json',
            'application/vnd.oci.image.index.v1+json',
            'x',
          ),
          manifests: fc.array(fc.jsonValue({ maxDepth: 2 }), { maxLength: 3 }),
          config: fc.jsonValue({ maxDepth: 2 }),
          layers: fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant([])),
          rootfs: fc.oneof(
            fc.jsonValue({ maxDepth: 2 }),
            fc.record({ diff_ids: fc.array(fc.string(), { maxLength: 2 }) }),
          ),
        },
        { requiredKeys: [] },
      ),
    );
    await fc.assert(
      fc.asyncProperty(doc, doc, doc, fc.boolean(), async (index, manifest, config, validRefs) => {
        const blobs = new Map<string, Uint8Array>();
        const put = (v: unknown) => {
          const b = enc.encode(JSON.stringify(v));
          const h = sha(b);
          blobs.set(h, b);
          return { digest: `sha256:${h}`, size: b.length };
        };
        const cd = put(config);
        const m =
          validRefs && manifest && typeof manifest === 'object' && !Array.isArray(manifest)
            ? { ...manifest, config: { mediaType: 'x', ...cd } }
            : manifest;
        const md = put(m);
        const idx = validRefs
          ? {
              schemaVersion: 2,
              manifests: [
                {
                  mediaType: 'application/vnd.oci.image.manifest.v1+json',
                  ...md,
                  annotations: { 'org.opencontainers.image.ref.name': index },
                },
              ],
            }
          : index;
        const store = {
          file: async (n: string) =>
            n === 'oci-layout'
              ? enc.encode('{"imageLayoutVersion":"1.0.0"}')
              : n === 'index.json'
                ? enc.encode(JSON.stringify(idx) ?? 'null')
                : undefined,
          blob: (d: { hex: string }) => {
            const b = blobs.get(d.hex);
            return b
              ? {
                  size: b.length,
                  async *stream() {
                    yield b;
                  },
                }
              : undefined;
          },
        };
        for (const opts of [{}, { tag: 'latest', platform: 'linux/arm64' }]) {
          try {
            await ociImageLayers(store, 'mem', opts);
          } catch (e) {
            if (!(e instanceof TinyImageError)) throw e;
          }
        }
      }),
      { numRuns: 500 },
    );
  });

  test('docker-archive: a layer path escaping through a symlink, and a missing manifest, are refused', async () => {
    const w = tmp();
    try {
      const manifest = JSON.stringify([{ Config: 'c.json', RepoTags: ['x:latest'], Layers: ['l/layer.tar'] }]);
      const outer = tar(
        member({ name: 'manifest.json', data: manifest }),
        member({ name: 'c.json', data: '{"rootfs":{"diff_ids":[]}}' }),
        member({ name: 'l/layer.tar', type: '2', link: '../../../../etc/passwd' }),
      );
      writeFileSync(join(w.dir, 'd.tar'), outer);
      expect(
        await openSource(`docker-archive:${join(w.dir, 'd.tar')}`).then(
          () => undefined,
          (e) => e.code,
        ),
      ).toBe('E_FORMAT_DOCKER_ARCHIVE');
      writeFileSync(join(w.dir, 'e.tar'), tar(member({ name: 'x', data: 'no manifest' })));
      expect(
        await openSource(`docker-archive:${join(w.dir, 'e.tar')}`).then(
          () => undefined,
          (e) => e.code,
        ),
      ).toBe('E_FORMAT_DOCKER_ARCHIVE');
    } finally {
      w.cleanup();
    }
  });
});
