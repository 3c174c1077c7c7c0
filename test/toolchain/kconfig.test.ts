import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  applyToDotConfig,
  describeSymbol,
  explainUnsatisfied,
  parseDisable,
  parseDotConfig,
  parseEnable,
  scriptsConfigArgs,
  unsatisfied,
  unmetSymbols,
} from '../../src/node/toolchain/kconfig.js';
import { kernelRequests } from '../../src/node/toolchain/kernel.js';
import { KERNEL_PRESETS } from '../../src/node/toolchain/presets.js';
import { UsageError } from '../../src/core/errors.js';

describe('option parsing', () => {
  it('parses enable forms', () => {
    expect(parseEnable('EXT4_FS')).toMatchObject({ name: 'EXT4_FS', value: 'y', string: false });
    expect(parseEnable('CONFIG_E1000=m')).toMatchObject({ name: 'E1000', value: 'm', string: false });
    expect(parseEnable('NR_CPUS=4')).toMatchObject({ value: '4', string: false });
    expect(parseEnable('PHYSICAL_START=0x1000000')).toMatchObject({ value: '0x1000000', string: false });
    expect(parseEnable('CMDLINE="console=ttyS0 quiet"')).toMatchObject({
      name: 'CMDLINE',
      value: 'console=ttyS0 quiet',
      string: true,
    });
    expect(parseEnable('LOCALVERSION=-tiny')).toMatchObject({ value: '-tiny', string: true });
    expect(() => parseEnable('BAD NAME')).toThrow(UsageError);
    expect(() => parseDisable('X=y')).toThrow(UsageError);
  });

  it('builds scripts/config arguments in order', () => {
    const reqs = [parseEnable('A'), parseEnable('B=m'), parseDisable('C'), parseEnable('D=5'), parseEnable('E="x y"')];
    expect(scriptsConfigArgs(reqs)).toEqual([
      '-e',
      'A',
      '-m',
      'B',
      '-d',
      'C',
      '--set-val',
      'D',
      '5',
      '--set-str',
      'E',
      'x y',
    ]);
  });

  it('reads and edits a .config', () => {
    const text = 'CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="q\\"x"\nCONFIG_N=3\n';
    const m = parseDotConfig(text);
    expect(m.get('A')).toBe('y');
    expect(m.get('B')).toBe('n');
    expect(m.get('S')).toBe('q"x');
    expect(m.get('N')).toBe('3');
    const edited = applyToDotConfig(text, [
      parseDisable('A'),
      parseEnable('B'),
      parseEnable('NEW'),
      { name: 'S', value: 'a"b', string: true, origin: 't' },
    ]);
    const e = parseDotConfig(edited);
    expect(e.get('A')).toBe('n');
    expect(e.get('B')).toBe('y');
    expect(e.get('NEW')).toBe('y');
    expect(e.get('S')).toBe('a"b');
    expect(edited.split('\n').filter((l) => l.includes('CONFIG_B')).length).toBe(1);
  });

  it('finds unsatisfied requests; the last request for a symbol wins', () => {
    const cfg = parseDotConfig('CONFIG_A=y\n# CONFIG_B is not set\nCONFIG_S="x"\n');
    const bad = unsatisfied(
      [
        parseEnable('A'),
        parseEnable('B'),
        parseDisable('C'),
        parseEnable('S="y"'),
        parseEnable('D'),
        parseDisable('D'),
      ],
      cfg,
    );
    expect(bad.map((b) => b.name).sort()).toEqual(['B', 'S']);
    expect(unsatisfied([{ name: 'B', value: 'y', string: false, origin: 't', soft: true }], cfg)).toEqual([]);
  });
});

describe('dependency explanation on a mini Kconfig tree', () => {
  const root = mkdtempSync(join(tmpdir(), 'tinyimage-kconfig-'));
  mkdirSync(join(root, 'fs', 'ext4'), { recursive: true });
  mkdirSync(join(root, 'arch', 'x86'), { recursive: true });
  mkdirSync(join(root, 'arch', 'arm'), { recursive: true });
  writeFileSync(
    join(root, 'Kconfig'),
    'source "fs/ext4/Kconfig"\nmenu "Net"\n\tdepends on NET\nif INET\nsource "net/Kconfig"\nendif\nendmenu\nsource "arch/$(SRCARCH)/Kconfig"\nconfig BLOCK\n\tbool "Enable the block layer"\n\thelp\n\t  config FAKE in help text\n\t  depends on NOTHING\n',
  );
  writeFileSync(
    join(root, 'fs', 'ext4', 'Kconfig'),
    [
      'if BLOCK',
      'config EXT4_FS',
      '\ttristate "The Extended 4 (ext4) filesystem"',
      '\tselect CRC16',
      '\tdepends on MULTIUSER && \\',
      '\t\t!PREEMPT_RT',
      'endif',
      'config CRC16',
      '\ttristate',
      'config VIRTIO',
      '\ttristate',
      'config VIRTIO_PCI',
      '\ttristate "virtio pci"',
      '\tselect VIRTIO',
      'config VIRTIO_BLK',
      '\ttristate "virtio blk"',
      '\tdepends on VIRTIO',
      'choice',
      '\tprompt "compression"',
      'config KERNEL_GZIP',
      '\tbool "gzip"',
      'config KERNEL_XZ',
      '\tbool "xz"',
      'endchoice',
      '',
    ].join('\n'),
  );
  mkdirSync(join(root, 'net'), { recursive: true });
  writeFileSync(join(root, 'net', 'Kconfig'), 'config PACKET\n\ttristate "Packet socket"\n\tdepends on HAS_PACKETS\n');
  writeFileSync(join(root, 'arch', 'x86', 'Kconfig'), 'config X86_THING\n\tbool "x86"\n\tdepends on X86\n');
  writeFileSync(join(root, 'arch', 'arm', 'Kconfig'), 'config EXT4_FS\n\tdepends on ARM_ONLY\n');

  it('collects depends on, enclosing if, prompt and selectors', () => {
    const info = describeSymbol(root, 'EXT4_FS', { arch: 'x86' });
    expect(info.files).toEqual(['fs/ext4/Kconfig']);
    expect(info.dependsOn).toEqual(['BLOCK', 'MULTIUSER && !PREEMPT_RT']);
    expect(info.hasPrompt).toBe(true);
    const crc = describeSymbol(root, 'CRC16');
    expect(crc.hasPrompt).toBe(false);
    expect(crc.selectedBy).toEqual(['EXT4_FS']);
    expect(describeSymbol(root, 'KERNEL_XZ').inChoice).toBe(true);
    expect(describeSymbol(root, 'BLOCK').dependsOn).toEqual([]);
    // Conditions of the sourcing file (menu depends on, if) apply to the sourced entries.
    expect(describeSymbol(root, 'PACKET').dependsOn).toEqual(['NET', 'INET', 'HAS_PACKETS']);
    // $(SRCARCH) expands to the arch; other arches are not read.
    expect(describeSymbol(root, 'X86_THING', { arch: 'x86' }).files).toEqual(['arch/x86/Kconfig']);
  });

  it('names the unmet dependency of a requested option', () => {
    const cfg = parseDotConfig('# CONFIG_BLOCK is not set\nCONFIG_MULTIUSER=y\nCONFIG_PREEMPT_RT=y\n');
    expect(unmetSymbols('MULTIUSER && !PREEMPT_RT', cfg)).toEqual(['!PREEMPT_RT (PREEMPT_RT=y)']);
    const why = explainUnsatisfied(
      root,
      unsatisfied([parseEnable('EXT4_FS'), parseEnable('NOPE_NOT_A_SYMBOL'), parseEnable('CRC16')], cfg),
      cfg,
      { arch: 'x86' },
    );
    const ext4 = why.find((w) => w.name === 'EXT4_FS')!;
    expect(ext4.unmet).toContain('BLOCK (not set)');
    expect(ext4.reason).toMatch(/depends on BLOCK.*unmet: BLOCK \(not set\)/);
    expect(why.find((w) => w.name === 'NOPE_NOT_A_SYMBOL')!.reason).toMatch(/no such symbol/);
    expect(why.find((w) => w.name === 'CRC16')!.reason).toMatch(/no prompt.*selected by EXT4_FS/);
    // An unmet prompt-less dependency names what selects it.
    const vb = explainUnsatisfied(root, unsatisfied([parseEnable('VIRTIO_BLK')], cfg), cfg, { arch: 'x86' });
    expect(vb[0]!.reason).toBe(
      'depends on VIRTIO; unmet: VIRTIO (not set; it has no prompt, enable one of: VIRTIO_PCI)',
    );
  });
});

describe('kernel option requests', () => {
  it('orders preset, compression, initramfs, cmdline, user options', () => {
    const reqs = kernelRequests({
      preset: 'tiny',
      enable: ['EXT4_FS'],
      disable: ['PRINTK'],
      cmdline: 'console=ttyS0',
      compression: 'xz',
      initramfsPath: '/b/initramfs.cpio',
    });
    const names = reqs.map((r) => `${r.name}=${r.value}`);
    expect(names.slice(0, KERNEL_PRESETS.tiny.enable.length)).toEqual(KERNEL_PRESETS.tiny.enable.map((e) => `${e}=y`));
    expect(names).toContain('KERNEL_XZ=y');
    expect(names).toContain('INITRAMFS_COMPRESSION_XZ=y');
    expect(names).toContain('INITRAMFS_SOURCE=/b/initramfs.cpio');
    expect(names).toContain('CMDLINE=console=ttyS0');
    expect(names.slice(-2)).toEqual(['EXT4_FS=y', 'PRINTK=n']);
    const none = kernelRequests({ compression: 'gzip' }).map((r) => `${r.name}=${r.value}`);
    expect(none).toContain('INITRAMFS_SOURCE=');
    expect(none).not.toContain('RD_GZIP=y'); // needs BLK_DEV_INITRD, not requested here
    expect(kernelRequests({ enable: ['BLK_DEV_INITRD'] }).map((r) => `${r.name}=${r.value}`)).toContain('RD_XZ=y');
    expect(none).toContain('CMDLINE_BOOL=n');
    expect(none).toContain('KERNEL_GZIP=y');
    expect(none).not.toContain('INITRAMFS_COMPRESSION_GZIP=y');
    expect(() => kernelRequests({ preset: 'huge' as 'tiny' })).toThrow(UsageError);
  });
});
