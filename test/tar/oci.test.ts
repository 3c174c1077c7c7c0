/**
 * Container images without a daemon. umoci builds a two-layer OCI image
 * (layer 2 deletes a directory with a whiteout, replaces a directory's
 * contents with an opaque whiteout, adds a file, changes a mode and hard
 * links to a file of layer 1); skopeo converts it to zstd layers and to a
 * docker-archive. Our stacked tree must equal what `umoci unpack` (as root)
 * puts on disk, read through the kernel, and be the same from all three.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stackSources, openSource } from '../../src/node/host/source.js';
import { TinyImageError } from '../../src/core/errors.js';
import { missing } from '../helpers/prereq.js';
import { expectSameTree, hostTree, IS_ROOT, tmp } from './helpers.js';

const skip = !IS_ROOT
  ? (console.warn('skipping: umoci unpack with owners and devices needs root'), 'not root')
  : missing({ tools: ['umoci', 'skopeo', 'tar', 'python3'] });
const sh = (cmd: string, args: string[], cwd?: string) =>
  execFileSync(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 28 });

describe.skipIf(skip)('OCI layouts and docker-archives, checked against umoci and skopeo', () => {
  const w = tmp('tinyimage-oci-');
  const at = (p: string) => join(w.dir, p);
  beforeAll(() => {
    mkdirSync(at('base'));
    sh('python3', [join(import.meta.dirname, 'mklayers.py'), at('base'), at('l2.tar')]);
    sh('tar', ['--format=posix', '-C', at('base'), '-cf', at('l1.tar'), '.']);
    sh('umoci', ['init', '--layout', at('img')]);
    sh('umoci', ['new', '--image', `${at('img')}:latest`]);
    sh('umoci', ['raw', 'add-layer', '--image', `${at('img')}:latest`, at('l1.tar')]);
    sh('umoci', ['raw', 'add-layer', '--image', `${at('img')}:latest`, at('l2.tar')]);
    sh('umoci', ['unpack', '--image', `${at('img')}:latest`, at('bundle')]);
    sh('skopeo', ['copy', '--dest-compress-format', 'zstd', `oci:${at('img')}:latest`, `oci:${at('imgz')}:latest`]);
    sh('skopeo', ['copy', `oci:${at('img')}:latest`, `docker-archive:${at('d.tar')}:test/img:latest`]);
  }, 120_000);
  afterAll(() => w.cleanup());

  test('oci:DIR:TAG stacks to exactly what umoci unpack extracts (paths, types, modes, owners, ns mtimes, contents, links, devices)', async () => {
    const s = await openSource(`oci:${at('img')}:latest`);
    try {
      expect(s.kind).toBe('oci');
      const t = s.tree;
      // what layer 2 did
      expect(t.get('/del')).toBeUndefined();
      expect([...(t.get('/opq') as { children: Map<string, unknown> }).children.keys()]).toEqual(['c']);
      expect(t.get('/mode/file')!.mode).toBe(0o4750);
      expect(t.get('/new/file')!.uid).toBe(33);
      expect(t.get('/keep/passwd-link')).toBe(t.get('/etc/passwd'));
      expect(t.get('/keep/link')).toBe(t.get('/keep/file'));
      const unpacked = hostTree(at('bundle/rootfs'));
      // umoci gives the rootfs directory its own metadata; everything under it comes from the layers
      unpacked.root.mtime = t.root.mtime;
      unpacked.root.mode = t.root.mode;
      await expectSameTree(unpacked, t);
    } finally {
      s.close();
    }
  });

  test('zstd layers (skopeo) and a docker-archive (skopeo) give the same tree as the gzip layout', async () => {
    const a = await openSource(`oci:${at('img')}:latest`);
    const z = await openSource(`oci:${at('imgz')}`);
    const d = await openSource(`docker-archive:${at('d.tar')}:test/img:latest`);
    try {
      const manifest = JSON.parse(
        readFileSync(
          join(
            at('imgz'),
            'blobs/sha256',
            JSON.parse(readFileSync(at('imgz/index.json'), 'utf8')).manifests[0].digest.slice(7),
          ),
          'utf8',
        ),
      );
      expect(manifest.layers.map((l: { mediaType: string }) => l.mediaType)).toEqual([
        'application/vnd.oci.image.layer.v1.tar+zstd',
        'application/vnd.oci.image.layer.v1.tar+zstd',
      ]);
      await expectSameTree(a.tree, z.tree);
      await expectSameTree(a.tree, d.tree);
      expect(d.spooled).toBe(false); // uncompressed layers are read in place inside the archive
    } finally {
      a.close();
      z.close();
      d.close();
    }
  });

  test('a blob whose bytes do not match its digest is a typed error naming the blob', async () => {
    execFileSync('cp', ['-a', at('img'), at('bad')]);
    const blobs = join(at('bad'), 'blobs/sha256');
    const layer = readdirSync(blobs)
      .map((f) => join(blobs, f))
      .sort((x, y) => readFileSync(y).length - readFileSync(x).length)[0]!;
    const b = readFileSync(layer);
    b[b.length - 20] ^= 0xff;
    writeFileSync(layer, b);
    const err = await openSource(`oci:${at('bad')}:latest`).then(
      () => undefined,
      (e) => e,
    );
    expect(err).toBeInstanceOf(TinyImageError);
    expect(err.code).toMatch(/^E_FORMAT_(OCI_DIGEST|GZIP|ZSTD|XZ|BZIP2)$/);
    expect(err.message).toContain(layer.split('/').pop()!.slice(0, 12));
  });

  test('stackSources: a later directory source wins, and its whiteouts delete from the image', async () => {
    mkdirSync(at('over/etc'), { recursive: true });
    writeFileSync(at('over/etc/passwd'), 'replaced\n');
    writeFileSync(at('over/.wh.bin'), '');
    const s = await stackSources([`oci:${at('img')}:latest`, at('over')]);
    try {
      expect(s.tree.get('/bin')).toBeUndefined();
      expect(s.tree.get('/.wh.bin')).toBeUndefined();
      const n = s.tree.get('/etc/passwd');
      expect(n?.type === 'file' && n.content.size).toBe(9);
      expect(s.tree.get('/new/file')).toBeDefined();
    } finally {
      s.close();
    }
  });
});
