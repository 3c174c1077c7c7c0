import { beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'fflate';
import { layoutProblems } from '../../src/core/binary/struct.js';
import { treeFromHostDir } from '../../src/node/host/tree.js';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import {
  DEFAULT_ROOT_MODULES,
  Elf64Header,
  Elf64SectionHeader,
  globMatch,
  moduleClosure,
  modulesAlias,
  modulesDep,
  modulesDepBb,
  modulesInitramfsTree,
  readModuleInfoBytes,
  resolveModule,
  scanModules,
  type ModuleIndex,
} from '../../src/core/initramfs/modules.js';
import { debianKernel, missing, run } from '../helpers/prereq.js';

describe('ELF structs and patterns', () => {
  it('declares ELF64 header and section header with their sizes', () => {
    expect(layoutProblems(Elf64Header)).toEqual([]);
    expect(Elf64Header.size).toBe(64);
    expect(layoutProblems(Elf64SectionHeader)).toEqual([]);
    expect(Elf64SectionHeader.size).toBe(64);
  });
  it('matches aliases like fnmatch', () => {
    expect(
      globMatch('pci:v00008086d0000100Esv*sd*bc*sc*i*', 'pci:v00008086d0000100Esv00001AF4sd00001100bc02sc00i00'),
    ).toBe(true);
    expect(
      globMatch('pci:v00008086d0000100Esv*sd*bc*sc*i*', 'pci:v00008086d0000100Fsv00001AF4sd00001100bc02sc00i00'),
    ).toBe(false);
    expect(globMatch('acpi*:PNP0A0[38]:*', 'acpi:PNP0A03:')).toBe(true);
    expect(globMatch('a.b', 'axb')).toBe(false);
  });
  it('rejects forged ELF headers and xz modules with clear errors', () => {
    const h = Elf64Header.encode({
      ident: new Uint8Array([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]),
      shoff: 1 << 30,
      shnum: 50,
      shentsize: 64,
      shstrndx: 1,
    });
    expect(() => readModuleInfoBytes('x.ko', h)).toThrow(expect.objectContaining({ code: 'E_FORMAT_ELF' }));
    expect(() => readModuleInfoBytes('x.ko', new Uint8Array(10))).toThrow(
      expect.objectContaining({ code: 'E_FORMAT_ELF' }),
    );
    expect(() => readModuleInfoBytes('x.ko.xz', new Uint8Array(100))).toThrow(
      expect.objectContaining({ code: 'E_USAGE_MODULE_COMPRESSED' }),
    );
  });
});

const k = debianKernel();
const skip = missing({ tools: ['depmod', 'modinfo'], files: [k.modules] });

describe.skipIf(skip)("Debian's kernel modules (no depmod output needed)", () => {
  let index: ModuleIndex;
  let depmodOut = '';
  beforeAll(async () => {
    const tree = treeFromHostDir(k.modules);
    // the fetched package has no modules.dep; make sure we do not rely on one
    for (const f of ['modules.dep', 'modules.alias', 'modules.dep.bin']) tree.remove(`/${f}`);
    index = await scanModules(tree);
    depmodOut = run('depmod', ['-b', join(k.modules, '../../..'), '-n', k.version]).stdout;
  }, 120_000);

  it('reads depends/softdep/alias from .modinfo as modinfo(8) does', async () => {
    const ext4 = index.modules.get('ext4')!;
    const mi = (f: string) =>
      run('modinfo', ['-F', f, join(k.modules, ext4.path)])
        .stdout.trim()
        .split('\n')
        .filter(Boolean);
    expect(ext4.depends.slice().sort()).toEqual(mi('depends').join(',').split(',').sort());
    expect(ext4.aliases.slice().sort()).toEqual(mi('alias').sort());
    expect(ext4.softdepPre).toEqual(['crypto-crc32c']);
    // gzip-compressed module: same facts
    const raw = new Uint8Array(readFileSync(join(k.modules, ext4.path)));
    const gz = readModuleInfoBytes('kernel/fs/ext4/ext4.ko.gz', gzipSync(raw));
    expect(gz.name).toBe('ext4');
    expect(gz.depends).toEqual(ext4.depends);
    expect(index.builtin.size).toBeGreaterThan(0);
  });

  it('resolves the softdep crypto-crc32c by alias and orders the closure for loading', () => {
    expect(
      resolveModule(index, 'crypto-crc32c')
        .map((m) => m.name)
        .sort(),
    ).toEqual(['crc32c_generic', 'crc32c_intel']);
    const order = moduleClosure(index, DEFAULT_ROOT_MODULES, { optional: DEFAULT_ROOT_MODULES });
    const pos = new Map(order.map((m, i) => [m.name, i]));
    for (const m of order)
      for (const d of m.depends) expect(pos.get(d), `${d} before ${m.name}`).toBeLessThan(pos.get(m.name)!);
    expect(pos.get('crc32c_generic')!).toBeLessThan(pos.get('ext4')!);
    for (const n of [
      'ata_piix',
      'ahci',
      'sd_mod',
      'virtio_blk',
      'virtio_pci',
      'nvme',
      'ext4',
      'jbd2',
      'mbcache',
      'libata',
      'scsi_mod',
    ])
      expect(pos.has(n), n).toBe(true);
    expect(() => moduleClosure(index, ['no_such_module'])).toThrow(expect.objectContaining({ code: 'E_USAGE_MODULE' }));
  });

  it('writes modules.dep and modules.alias with the same content as depmod -n', () => {
    const order = moduleClosure(index, DEFAULT_ROOT_MODULES, { optional: DEFAULT_ROOT_MODULES });
    const theirs = new Map<string, string[]>();
    for (const line of depmodOut.split('\n')) {
      const m = /^(kernel\/\S+\.ko): ?(.*)$/.exec(line);
      if (m) theirs.set(m[1]!, m[2]!.split(' ').filter(Boolean));
    }
    const ours = modulesDep(index, order).trim().split('\n');
    expect(ours.length).toBe(order.length);
    const byPath = new Map([...index.modules.values()].map((m) => [m.path, m]));
    for (const line of ours) {
      const [path, rest] = line.split(':') as [string, string];
      const deps = rest.split(' ').filter(Boolean);
      expect(deps.slice().sort(), path).toEqual(theirs.get(path)!.slice().sort());
      // loaded from the end: every module's own deps come after it in the list
      deps.forEach((d, i) => {
        for (const dd of byPath.get(d)!.depends) {
          const j = deps.indexOf(index.modules.get(dd)!.path);
          expect(j, `${dd} after ${d} in ${path}`).toBeGreaterThan(i);
        }
      });
    }
    const aliasLines = (s: string) => new Set(s.split('\n').filter((l) => l.startsWith('alias ')));
    const theirAliases = aliasLines(depmodOut);
    const ourAliases = aliasLines(modulesAlias(index));
    for (const a of ourAliases) expect(theirAliases.has(a), a).toBe(true);
    // depmod also lists aliases of built-in modules' symbols etc.; every module alias of ours is there
    expect(ourAliases.size).toBeGreaterThan(5000);
  });

  it('writes busybox modprobe-small index lines', () => {
    const e1000 = index.modules.get('e1000')!;
    const bb = modulesDepBb(index, [e1000, index.modules.get('ext4')!]);
    expect(bb).toMatch(
      /^kernel\/drivers\/net\/ethernet\/intel\/e1000\/e1000\.ko (\S+ )*pci:v00008086d0000100Esv\*sd\*bc\*sc\*i\*( \S+)*\n\n/m,
    );
    expect(bb).toMatch(/^kernel\/fs\/ext4\/ext4\.ko fs_ext4 ext3 fs_ext3 ext2 fs_ext2\njbd2 mbcache crc16\n\n/m);
  });

  it('builds an initramfs tree with busybox, modules and an /init that loads them in order', async () => {
    const { tree, modules } = modulesInitramfsTree({
      busybox: new Uint8Array([1, 2, 3]),
      index,
      version: k.version,
      epoch: 5,
    });
    const init = tree.get('/init');
    if (init?.type !== 'file') throw new Error('no /init');
    expect(init.mode).toBe(0o755);
    const text = new TextDecoder().decode(await readContent(init.content));
    const loads = [...text.matchAll(/^(?:load|try) (\S+)$/gm)].map((m) => m[1]);
    expect(text).toMatch(/^try kernel\/arch\/x86\/crypto\/crc32c-intel\.ko$/m);
    expect(text).toMatch(/^load kernel\/fs\/ext4\/ext4\.ko$/m);
    expect(loads).toEqual(modules.map((m) => m.path));
    expect(text).toContain('switch_root /newroot');
    for (const m of modules) expect(tree.get(`/lib/modules/${k.version}/${m.path}`)?.type).toBe('file');
    expect(tree.get(`/lib/modules/${k.version}/modules.dep`)?.type).toBe('file');
    expect(tree.get('/bin/sh')).toMatchObject({ type: 'symlink', target: 'busybox' });
    expect(tree.get('/dev/console')).toMatchObject({ type: 'chardev', major: 5, minor: 1 });
    // the /init script parses as POSIX sh
    expect(run('sh', ['-n', '-c', text]).code).toBe(0);
    void FileTree;
  });
});
