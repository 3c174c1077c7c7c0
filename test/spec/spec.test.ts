import { describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadSpec, presetNames } from '../../src/node/build/load.js';
import { validateSpec } from '../../src/node/build/spec.js';
import { main } from '../../src/node/cli/main.js';
import { capture } from '../helpers/cli.js';

describe('build spec', () => {
  it('ships the three presets, and each validates', () => {
    expect(presetNames()).toEqual(expect.arrayContaining(['bios', 'initramfs', 'uefi']));
    for (const p of presetNames()) expect(loadSpec({ preset: p }).spec.kind).toBe(p);
  });
  it('a spec file starts from its preset, overrides fields, and resolves paths against itself', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-spec-'));
    try {
      const f = join(dir, 'spec.yaml');
      writeFileSync(
        f,
        [
          'preset: uefi',
          'kernel: { build: { source: linux-source-6.1.tar.xz } }',
          'busybox: { build: { source: busybox_1.35.0.orig.tar.bz2, libc: musl } }',
          'cmdline: console=ttyS0 quiet',
        ].join('\n'),
      );
      const { spec } = loadSpec({ file: f });
      expect(spec.kind).toBe('uefi');
      expect(spec.kernel).toEqual({ build: { source: join(dir, 'linux-source-6.1.tar.xz') } });
      expect(spec.busybox).toEqual({ build: { source: join(dir, 'busybox_1.35.0.orig.tar.bz2'), libc: 'musl' } });
      expect(spec.cmdline).toBe('console=ttyS0 quiet');
      expect(spec.uki?.output).toBe('BOOTX64.EFI'); // kept from the preset
      expect(spec.kernelPreset).toBe('tiny');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it('names the field at fault', () => {
    expect(() => validateSpec({ kind: 'uefi', kernel: { build: {} } }, 's.yaml')).toThrow(
      's.yaml: kernel.build.source: expected a path to a kernel source tarball or directory, got nothing',
    );
    expect(() => validateSpec({ kind: 'floppy' }, 's.yaml')).toThrow(
      /kind: expected one of 'initramfs', 'uefi', 'bios', 'disk', 'iso', got string "floppy"/,
    );
    expect(() => validateSpec({ kind: 'bios', rootfs: { hostnme: 'x' } }, 's.yaml')).toThrow(
      /rootfs.hostnme: unknown field/,
    );
    expect(() => validateSpec({ kind: 'bios', busybox: { build: { source: 'x', libc: 'uclibc' } } })).toThrow(
      /busybox.build.libc: expected one of 'glibc', 'musl'/,
    );
    expect(() => validateSpec({ kind: 'bios', disk: { output: '../x.img' } })).toThrow(
      /disk.output: expected a plain file name/,
    );
    // unknown keys with a suggestion, sizes checked for every kind
    expect(() => validateSpec({ kind: 'bios', rootfs: { hostnmae: 'x' } }, 's.yaml')).toThrow(
      /rootfs.hostnmae: unknown field; did you mean 'hostname'\?/,
    );
    expect(() => validateSpec({ kind: 'uefi', disk: { size: 'abc' } }, 's.yaml')).toThrow(
      /s.yaml: disk.size: expected a size/,
    );
    expect(() => validateSpec({ kind: 'uefi', lable: 'x' }, 's.yaml')).toThrow(/lable: unknown field/);
    expect(() => loadSpec({ preset: 'nope' })).toThrow(
      /unknown preset 'nope' \(available: bios, initramfs, iso, uefi\)/,
    );
    expect(() => loadSpec({})).toThrow(/nothing to build/);
  });
  it('reports YAML syntax errors with the file name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-spec-'));
    try {
      const f = join(dir, 'bad.yaml');
      writeFileSync(f, 'preset: [uefi\n');
      expect(() => loadSpec({ file: f })).toThrow(
        expect.objectContaining({
          code: 'E_USAGE_SPEC_SYNTAX',
          message: expect.stringContaining('bad.yaml: not valid YAML'),
        }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('declarative disks: a partition list makes a disk spec, checked field by field', () => {
    const ok = validateSpec({
      disk: {
        table: 'gpt',
        size: '256M',
        partitions: [
          { type: 'esp', size: '64M', fs: 'fat32', root: 'esp/' },
          {
            type: 'root-x86-64',
            size: 'rest',
            fs: 'ext4',
            root: [{ tar: 'rootfs.tar.gz' }, 'overlay/'],
            label: 'root',
          },
          { type: 'swap', size: '10%' },
        ],
      },
    });
    expect(ok.kind).toBe('disk');
    expect(ok.disk?.partitions?.[1]?.label).toBe('root');
    const bad = (disk: unknown) => () => validateSpec({ disk }, 'd.yaml');
    expect(bad({ table: 'gpt', partitions: [{ type: 'linux', size: 'lots' }] })).toThrow(
      /d.yaml: disk.partitions\[0\].size: expected a size/,
    );
    expect(bad({ table: 'gpt', partitions: [{ type: 'linux', size: '1M', fs: 'zfs' }] })).toThrow(
      /disk.partitions\[0\].fs: expected one of 'fat32'/,
    );
    expect(bad({ table: 'gpt', partitions: [{ type: 'linux', size: '1M', root: 'x' }] })).toThrow(
      /disk.partitions\[0\].root: a root needs a filesystem/,
    );
    expect(
      bad({
        table: 'gpt',
        partitions: [
          { type: 'linux', size: 'rest' },
          { type: 'linux', size: 'rest' },
        ],
      }),
    ).toThrow(/at most one partition may take the 'rest'/);
    expect(bad({ table: 'gpt', partitions: [{ type: 'linux', size: '1M', lable: 'x' }] })).toThrow(
      /disk.partitions\[0\].lable: unknown field; did you mean 'label'\?/,
    );
    expect(() => validateSpec({ kind: 'uefi', disk: { partitions: [{ type: 'esp', size: '1M' }] } })).toThrow(
      /partitions are for a disk spec/,
    );
  });
});

describe('tinyimage schema', () => {
  it('prints the JSON Schema of spec files, every field in it', async () => {
    const c = capture();
    expect(await main(['schema'], c)).toBe(0);
    const s = JSON.parse(c.out());
    expect(s.$schema).toMatch(/json-schema.org/);
    expect(Object.keys(s.properties)).toEqual(
      expect.arrayContaining(['preset', 'kind', 'kernel', 'busybox', 'disk', 'rootfs']),
    );
    expect(s.required).not.toContain('kind');
    expect(s.additionalProperties).toBe(false);
    const part = s.properties.disk.properties.partitions.items;
    expect(Object.keys(part.properties)).toEqual(
      expect.arrayContaining(['type', 'size', 'fs', 'root', 'label', 'uuid']),
    );
  });
});
