/**
 * Start-up cost (issue 16): a command loads only the modules its inputs and
 * outputs need. Each case runs the built CLI (dist/, as `npm test` builds it)
 * in a child Node whose module resolve hook (module.register) logs every URL
 * it loads, then checks the list: writing a cpio from a directory must not
 * load an image reader, a container, an OCI/tar reader or a codec it does not
 * use; mkfs ext4 only ext4's writer; convert of a raw file only the writer of
 * its output container.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { REPO } from '../helpers/prereq.js';
import { tmpDir, type TmpDir } from '../helpers/tmp.js';

const BIN = join(REPO, 'bin/tinyimage.js');

let t: TmpDir;
let root: string;
beforeAll(() => {
  t = tmpDir('tinyimage-startup-');
  root = t.path('root');
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/motd'), 'hello\n');
  writeFileSync(t.path('raw.img'), new Uint8Array(256 << 10).fill(7));
  writeFileSync(
    t.path('hooks.mjs'),
    "import { appendFileSync } from 'node:fs';\n" +
      'export async function resolve(spec, ctx, next) {\n' +
      '  const r = await next(spec, ctx);\n' +
      "  if (r.url.startsWith('file:')) appendFileSync(process.env.TINYIMAGE_TRACE, r.url + '\\n');\n" +
      '  return r;\n' +
      '}\n',
  );
  writeFileSync(
    t.path('register.mjs'),
    `import { register } from 'node:module';\nregister(${JSON.stringify(pathToFileURL(t.path('hooks.mjs')).href)});\n`,
  );
});
afterAll(() => t.cleanup());

/** The modules (paths under the repository) that `tinyimage ...args` loads. */
function modulesLoaded(name: string, args: string[]): string[] {
  const trace = t.path(`${name}.trace`);
  writeFileSync(trace, '');
  const r = spawnSync(process.execPath, ['--import', pathToFileURL(t.path('register.mjs')).href, BIN, ...args, '-q'], {
    encoding: 'utf8',
    env: { ...process.env, TINYIMAGE_TRACE: trace },
  });
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const repo = pathToFileURL(REPO).href + '/';
  return [...new Set(readFileSync(trace, 'utf8').split('\n').filter(Boolean))].map((u) => u.replace(repo, ''));
}

/** What no command on a directory or raw file needs unless its output is of that kind. */
const READERS = [
  /dist\/core\/open\/index\.js$/,
  /dist\/core\/fs\/\w+\/(read|reader)\.js$/,
  /dist\/core\/fs\/(fat|iso9660|squashfs|erofs)\//,
  /dist\/core\/container\/\w+\/read\.js$/,
  /dist\/core\/archive\/(oci\/|tar\/(tree|write|acl|content)\.js$)/, // tar/read.js only sniffs a file's first header
  /dist\/node\/host\/spool\.js$/,
  /node_modules\/(fflate|fzstd|@bokuweb\/zstd-wasm|unbzip2-stream|xz-decompress|@noble)\//,
  /dist\/node\/compress\/(libdeflate|libdeflate-wasm|gzip-pool|gzip-worker)\.js$/, // gzip's libdeflate: for binary runs only
];
const CONTAINER_WRITERS = /dist\/(core|node)\/container\/(\w+\/)?(write|file)\.js$/;

function expectNone(mods: string[], patterns: RegExp[]): void {
  expect(mods.filter((m) => patterns.some((p) => p.test(m)))).toEqual([]);
}

describe('a command loads only the modules its inputs and outputs need', () => {
  it('cpio --root DIR: no image, container, archive reader, codec or uuid', () => {
    const mods = modulesLoaded('cpio', ['cpio', '--root', root, '-o', t.path('out.cpio')]);
    expect(mods).toContain('dist/core/archive/cpio/writer.js'); // the trace sees the command's own modules
    expectNone(mods, [...READERS, /dist\/core\/fs\/ext4\//, CONTAINER_WRITERS, /node_modules\/uuid\//]);
  });

  it('cpio --root DIR -o X.cpio.gz of small text files: node:zlib only, no libdeflate, worker, reader or fflate', () => {
    const mods = modulesLoaded('cpio-gz', ['cpio', '--root', root, '-o', t.path('out.cpio.gz')]);
    expect(mods).toContain('dist/node/compress/gzip.js');
    expectNone(mods, [...READERS, /dist\/core\/fs\/ext4\//, CONTAINER_WRITERS]);
  });

  it('mkfs ext4 --root DIR: ext4 writer only, no ext4 reader, other filesystem, container or codec', () => {
    const mods = modulesLoaded('ext4', ['mkfs', 'ext4', '--root', root, '-o', t.path('out.ext4')]);
    expect(mods).toContain('dist/core/fs/ext4/write.js');
    expectNone(mods, [...READERS, CONTAINER_WRITERS]);
  });

  it('convert RAW -o X.qcow2: no container reader, filesystem or codec', () => {
    const mods = modulesLoaded('convert', ['convert', t.path('raw.img'), '-o', t.path('out.qcow2')]);
    expect(mods).toContain('dist/core/container/qcow2/write.js');
    expectNone(mods, [...READERS, /dist\/core\/fs\//, /dist\/core\/archive\//]);
  });
});
