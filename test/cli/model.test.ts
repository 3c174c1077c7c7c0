/**
 * The CLI option model: declarations give typed values, one parser per
 * type, --help for every command and subcommand generated from the same
 * declarations, and usage errors that name the option and suggest a fix.
 */
import { describe, expect, it } from 'vitest';
import { allCommands } from '../../src/node/cli/main.js';
import type { Command, CommandGroup } from '../../src/node/cli/command.js';
import { closest, distance, parseCommandLine, type OptionTable } from '../../src/node/cli/options.js';
import { UsageError } from '../../src/core/errors.js';
import { runCli } from '../helpers/cli.js';

/** Every command reachable from `tinyimage`, subcommands of groups included, with the argv that names it. */
async function everyCommand(): Promise<Array<{ argv: string[]; command: Command }>> {
  const out: Array<{ argv: string[]; command: Command }> = [];
  const visit = async (e: Command | CommandGroup, argv: string[]) => {
    if (e.kind === 'command') out.push({ argv, command: e });
    else for (const [name, load] of Object.entries(e.subcommands)) await visit(await load(), [...argv, name]);
  };
  for (const e of await allCommands()) await visit(e, [e.name]);
  return out;
}

describe('--help', () => {
  it('tinyimage --help lists every command with its Command.summary', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    const entries = await allCommands();
    expect(entries.length).toBe(15);
    for (const e of entries) {
      const first = e.summary.split(' ').slice(0, 4).join(' ');
      expect(r.stdout).toMatch(new RegExp(`^  ${e.name} +${first.replace(/[()[\]|.]/g, '\\$&')}`, 'm'));
    }
  });

  it('every command and subcommand has a generated --help that lists every option it accepts', async () => {
    const all = await everyCommand();
    expect(all.map((c) => c.argv.join(' '))).toEqual(
      expect.arrayContaining(['mkfs ext4', 'mkfs fat', 'kernel build', 'busybox build', 'busybox applets', 'cpio']),
    );
    for (const { argv, command } of all) {
      for (const flag of ['--help', '-h']) {
        const r = await runCli([...argv, flag]);
        expect(r.code, argv.join(' ')).toBe(0);
        expect(r.stdout).toBe(command.help() + '\n');
      }
      const help = command.help();
      expect(help.startsWith(`usage: tinyimage ${argv.join(' ')} `), help).toBe(true);
      for (const opt of command.optionNames()) expect(help, `${argv.join(' ')} ${opt}`).toMatch(` ${opt}`);
      expect(command.optionNames()).toEqual(expect.arrayContaining(['--quiet', '--verbose', '--help']));
      // every line of text fits a terminal (command lines to copy are not wrapped)
      for (const line of help.split('\n'))
        if (!/^(usage: | {2}tinyimage )/.test(line)) expect(line.length, line).toBeLessThanOrEqual(80);
    }
  });

  it('a group lists its subcommands; mkfs ext4 --help shows ext4 options, mkfs fat32 --help FAT ones', async () => {
    const g = await runCli(['mkfs', '--help']);
    expect(g.code).toBe(0);
    for (const t of ['ext4', 'ext3', 'ext2', 'fat32', 'fat16', 'fat12', 'fat']) expect(g.stdout).toMatch(`\n  ${t} `);
    const ext = await runCli(['mkfs', 'ext4', '--help']);
    expect(ext.stdout).toMatch(/^usage: tinyimage mkfs ext4 \(--root SRC \| --list FILE\) -o OUT \[options\]$/m);
    expect(ext.stdout).toMatch(/--inode-size N/);
    expect(ext.stdout).toMatch(/--hash-alg half_md4\|tea\|legacy/);
    expect(ext.stdout).not.toMatch(/--volume-id/);
    const fat = await runCli(['mkfs', 'vfat', '--help']);
    expect(fat.stdout).toMatch(/--volume-id HEX/);
    expect(fat.stdout).toMatch(/--symlinks follow\|skip\|error\s[^-]*\(default follow\)/);
    expect(fat.stdout).not.toMatch(/--inode-size/);
  });
});

describe('usage errors: exit 2, one message naming the option, a hint', () => {
  const cases: Array<[string[], RegExp]> = [
    [['mkfs', 'ext4', '--root', '.', '-o', 'x.img', '--lable', 'x'], /unknown option --lable; did you mean --label\?/],
    [['cpio', '--root', '.', '-o', 'x', '--ownr', '0:0'], /unknown option --ownr; did you mean --owner\?/],
    [['cpio', '--root', '.', '-o', 'x', '--level', '12'], /--level must be an integer from 1 to 9, got '12'/],
    [['cpio', '--root', '.', '-o', 'x', '--threads', 'many'], /--threads must be an integer from 1 to 256/],
    [['mkfs', 'ext4', '--root', '.', '-o', 'x', '--size', '12Q'], /--size: cannot parse size '12Q'/],
    [['mkfs', 'ext4', '--root', '.', '-o', 'x', '--block-size', '4k'], /--block-size must be an integer/],
    [['mkfs', 'ext4', '--root', '.', '-o', 'x', '--reserved', '60'], /--reserved must be a number from 0 to 50/],
    [['cpio', '--root', '.', '-o', 'x', '--owner', 'root'], /--owner must be UID:GID/],
    [
      ['cpio', '--root', '.', '-o', 'x', '--compress', 'gzipp'],
      /--compress must be one of gzip, none, got 'gzipp' \(did you mean gzip\?\)/,
    ],
    [['boot', '--kernel', 'k', '--firmware', 'coreboot'], /--firmware must be one of bios, uefi, got 'coreboot'/],
    [['cpio', '--root', '.'], /--output OUT is required/],
    [['cpio', '-o', 'x'], /give exactly one of --root SRC or --list FILE/],
    [['cpio', '--root', '.', '--list', 'l', '-o', 'x'], /give exactly one of --root SRC or --list FILE/],
    [['cpio', '--root', '.', '-o'], /option --output needs a value/],
    [['cpio', '--root', '.', '-o', 'x', 'extra'], /unexpected argument 'extra'/],
    [['cat', 'disk.img'], /missing PATH/],
    [['mkfs', 'ext5'], /unknown type 'ext5'; did you mean ext4\?/],
    [['kernel', 'biuld'], /unknown command 'biuld'; did you mean build\?/],
  ];
  it.each(cases)('%j', async (argv, message) => {
    const r = await runCli(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/\n\s+at /);
    const name = r.stderr.match(/^tinyimage ([a-z0-9 ]+?):/)![1]!;
    expect(argv.join(' ').startsWith(name), r.stderr).toBe(true);
    expect(r.stderr).toMatch(new RegExp(`Try 'tinyimage ${name} --help'\\.\\n$`));
  });

  it('an unknown command gets a suggestion; no command prints the help on stderr', async () => {
    const r = await runCli(['mkfz']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unknown command 'mkfz'; did you mean 'mkfs'\?/);
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toBe('');
    expect(none.stderr).toMatch(/^usage: tinyimage COMMAND/);
  });
});

describe('TINYIMAGE_PARSE_ONLY=1 (for the docs test)', () => {
  const parseOnly = { TINYIMAGE_PARSE_ONLY: '1' };
  it('checks the command line and stops before running: nothing is read or written', async () => {
    const argv = ['mkfs', 'ext4', '--root', '/nonexistent/rootfs', '-o', '/nonexistent/dir/root.img'];
    const r = await runCli(argv, parseOnly);
    expect([r.code, r.stdout, r.stderr]).toEqual([0, '', '']);
    expect((await runCli(argv)).code).toBe(1); // without it the same line runs and fails
  });
  it('still rejects what the parser rejects', async () => {
    expect((await runCli(['mkfs', 'ext4', '--root', 'r', '-o', 'x', '--lable', 'x'], parseOnly)).code).toBe(2);
    expect((await runCli(['mkfs', 'ext5', '--root', 'r', '-o', 'x'], parseOnly)).code).toBe(2);
    expect((await runCli(['ls'], parseOnly)).stderr).toMatch(/IMAGE/);
  });
});

describe('parseCommandLine', () => {
  const spec = {
    name: 'demo',
    options: {
      count: { type: 'integer', short: 'n', min: 1, help: '' },
      size: { type: 'size', default: 4096, help: '' },
      owner: { type: 'owner', help: '' },
      mode: { type: 'enum', choices: ['a', 'b'], default: 'a', help: '' },
      tag: { type: 'string', repeatable: true, help: '' },
      ratio: { type: 'number', help: '' },
      dryRun: { type: 'boolean', help: '' },
      out: { type: 'path', required: true, help: '' },
    },
    args: { image: { value: 'IMAGE' }, path: { value: 'PATH', optional: true } },
  } as const satisfies { name: string; options: OptionTable; args: object };

  it('gives typed values, defaults and named positionals', () => {
    const argv = ['-n', '3', '--size=64M', '--owner', '0:5', '--tag', 'x', '--tag', 'y', '--dry-run', '--out', '-'];
    const { values, args } = parseCommandLine(spec, [...argv, '--ratio', '2.5', 'disk.img']);
    expect(values).toEqual({
      count: 3,
      size: 64 << 20,
      owner: { uid: 0, gid: 5 },
      mode: 'a',
      tag: ['x', 'y'],
      ratio: 2.5,
      dryRun: true,
      out: '-',
    });
    expect(args).toEqual({ image: 'disk.img', path: undefined });
    // the types follow the declarations (a compile-time check: these lines must type-check)
    const n: number | undefined = values.count;
    const s: number = values.size;
    const m: 'a' | 'b' = values.mode;
    const t: string[] = values.tag;
    const o: string = values.out;
    const i: string = args.image;
    expect([n, s, m, t, o, i]).toHaveLength(6);
    const empty = parseCommandLine(spec, ['--out', 'o', 'img']).values;
    expect(empty).toMatchObject({ count: undefined, tag: [], dryRun: false, size: 4096 });
  });

  it('throws UsageError with the option in data.field', () => {
    const fail = (argv: string[]) => {
      try {
        parseCommandLine(spec, argv);
      } catch (e) {
        expect(e).toBeInstanceOf(UsageError);
        return e as UsageError;
      }
      throw new Error(`no error for ${argv.join(' ')}`);
    };
    expect(fail(['--out', 'o', 'i', '-n', '0']).data.field).toBe('--count');
    expect(fail(['--out', 'o', 'i', '--mode', 'c']).data).toMatchObject({ field: '--mode', expected: ['a', 'b'] });
    expect(fail(['--out', 'o', 'i', '--ratio', '1e3']).data.field).toBe('--ratio');
    expect(fail(['i', '--dryrun']).data).toMatchObject({ field: '--dryrun', suggestion: 'dry-run' });
    expect(fail(['i']).data.field).toBe('--out');
    expect(fail(['--out', 'o']).message).toMatch(/missing IMAGE/);
  });

  it('suggests only close names', () => {
    expect(distance('lable', 'label')).toBe(1);
    expect(distance('kitten', 'sitting')).toBe(3);
    expect(closest('lable', ['label', 'list'])).toBe('label');
    expect(closest('compres', ['compress', 'level'])).toBe('compress');
    expect(closest('xyz', ['label', 'list'])).toBeUndefined();
  });
});
