/**
 * The package as users get it: `npm pack` of this checkout (prepack builds
 * dist/), installed into a new project (test/helpers/packed.ts, shared with
 * the docs test), every public entry point imported and type-checked there,
 * and the CLI run from node_modules/.bin.
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, run } from '../helpers/prereq.js';
import { packedProject, type PackedProject } from '../helpers/packed.js';
import type { TmpDir } from '../helpers/tmp.js';

const skip = missing({ tools: ['npm', 'e2fsck'] });
let packed: PackedProject;
let work: TmpDir;
afterAll(() => work?.cleanup());

const ENTRY_SCRIPT = `
import * as node from 'tinyimage';
import * as core from 'tinyimage/core';
import * as testing from 'tinyimage/testing';
import * as internal from 'tinyimage/internal';
const tree = new core.FileTree({ defaultTime: 1700000000 });
tree.addFile('/hello', 'hi\\n');
const dev = new core.MemoryDevice(core.ext4MinimumSize(tree) + (1 << 20));
await core.writeExt4(tree, dev);
const img = await node.openImage(dev);
console.log(JSON.stringify({
  node: typeof node.treeFromHostDir, core: typeof core.writeFat, testing: typeof testing.tinyimageMatchers,
  internal: typeof internal.defineStruct, kind: img.kind, hello: new TextDecoder().decode(await img.readFile('/hello')),
  noHostInCore: 'treeFromHostDir' in core,
}));
`;

const TYPES_CHECK = `
import { FileTree, writeExt4, FileDevice, openImage, type BlockDevice, type Ext4Options } from 'tinyimage';
import { writeFat, type FatOptions } from 'tinyimage/core';
import { tinyimageMatchers } from 'tinyimage/testing';
import { defineStruct } from 'tinyimage/internal';
const tree: FileTree = new FileTree();
const opts: Ext4Options = { label: 'x' };
const fat: FatOptions = { type: 'fat32' };
export const all = [tree, opts, fat, writeExt4, writeFat, FileDevice, openImage, tinyimageMatchers, defineStruct];
export type Dev = BlockDevice;
`;

describe.skipIf(skip)('the packed package in a new project', () => {
  beforeAll(() => {
    packed = packedProject();
    work = packed.workDir('pack-');
  }, 600_000);

  it('ships what it needs and no source maps', () => {
    const pkg = packed.pkg;
    for (const f of [
      'LICENSE',
      'THIRD-PARTY-NOTICES.md',
      'README.md',
      'dist/node/index.js',
      'dist/core/index.d.ts',
      'dist/node/compress/libdeflate-wasm.js',
      'presets/uefi.yaml',
    ]) {
      expect(existsSync(join(pkg, f)), f).toBe(true);
    }
    const list = execFileSync('find', [pkg, '-name', '*.map', '-o', '-name', '*.tsbuildinfo*'], { encoding: 'utf8' });
    expect(list.trim()).toBe('');
  });

  it('every public entry point imports and works', () => {
    writeFileSync(work.path('entries.mjs'), ENTRY_SCRIPT);
    const r = run('node', ['entries.mjs'], { cwd: work.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      node: 'function',
      core: 'function',
      testing: 'object',
      internal: 'function',
      kind: 'ext4',
      hello: 'hi\n',
      noHostInCore: false,
    });
  });

  it('the declarations type-check in a strict TypeScript project', () => {
    writeFileSync(work.path('check.ts'), TYPES_CHECK);
    const tsconfig = {
      compilerOptions: {
        strict: true,
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        target: 'ES2022',
        noEmit: true,
        types: ['node'],
      },
      files: ['check.ts'],
    };
    writeFileSync(work.path('tsconfig.json'), JSON.stringify(tsconfig));
    const r = run(packed.tsc, ['-p', work.dir]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  });

  it('the CLI runs from node_modules/.bin and writes an image e2fsck accepts', () => {
    const bin = packed.bin;
    expect(run(bin, ['--version']).stdout).toMatch(/^tinyimage \d+\.\d+\.\d+/);
    mkdirSync(work.path('root/etc'), { recursive: true });
    writeFileSync(work.path('root/etc/hostname'), 'packed\n');
    const r = run(bin, ['mkfs', 'ext4', '--root', 'root', '-o', 'root.img'], { cwd: work.dir });
    expect(r.code, r.stderr).toBe(0);
    expect(run('e2fsck', ['-fn', work.path('root.img')]).code).toBe(0);
  });
});
