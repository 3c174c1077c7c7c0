/**
 * CLI entry. Thin: finds the command and runs it through command.ts, which
 * parses, validates and writes from the command's declarations. Commands
 * live in ./commands/NAME.ts and are loaded when used.
 * Exit codes: 0 ok, 1 failure, 2 bad usage. Errors from bad input are
 * printed as one message, never a stack trace.
 */
import { isTinyImageError } from '../../core/errors.js';
import '../setup.js';
import { dispatch, type Command, type CommandGroup, type CommandIO } from './command.js';
import { columns, wrap } from './help.js';
import { closest } from './options.js';

type Entry = Command | CommandGroup;
const COMMANDS: Record<string, () => Promise<Entry>> = {
  build: async () => (await import('./commands/build.js')).command,
  cpio: async () => (await import('./commands/cpio.js')).command,
  initramfs: async () => (await import('./commands/initramfs.js')).command,
  mkfs: async () => (await import('./commands/mkfs.js')).command,
  repack: async () => (await import('./commands/repack.js')).command,
  convert: async () => (await import('./commands/convert.js')).command,
  ls: async () => (await import('./commands/ls.js')).command,
  cat: async () => (await import('./commands/cat.js')).command,
  extract: async () => (await import('./commands/extract.js')).command,
  inspect: async () => (await import('./commands/inspect.js')).command,
  diff: async () => (await import('./commands/diff.js')).command,
  boot: async () => (await import('./commands/boot.js')).command,
  kernel: async () => (await import('./commands/kernel.js')).command,
  busybox: async () => (await import('./commands/busybox.js')).command,
  schema: async () => (await import('./commands/schema.js')).command,
};

/** Every command (and group), loaded: for `tinyimage --help` and the tests of the help texts. */
export async function allCommands(): Promise<Entry[]> {
  return Promise.all(Object.values(COMMANDS).map((load) => load()));
}

async function globalHelp(): Promise<string> {
  const entries = await allCommands();
  return [
    'usage: tinyimage COMMAND [OPTIONS]',
    '',
    'Assemble bootable minimal Linux systems byte by byte, without root.',
    '',
    'Commands:',
    ...columns(entries.map((e) => [e.name, e.summary])),
    '',
    wrap(
      "Run 'tinyimage COMMAND --help' for a command's options. Every command takes -q (quiet), -v (verbose) " +
        'and -h; writers take -o OUT (- for standard output where the format streams) and --json. Exit ' +
        'status: 0 ok, 1 failure, 2 bad usage. See docs/cli.md.',
      80,
      0,
    ),
  ].join('\n');
}

function report(e: unknown, name: string, stderr: NodeJS.WritableStream, env: NodeJS.ProcessEnv): number {
  if (isTinyImageError(e)) {
    // messages that already name the command ("kernel build: ...") are not prefixed twice
    const named = e.message.startsWith(`${name} `) || e.message.startsWith(`${name}:`);
    stderr.write(named ? `tinyimage ${e.message}\n` : `tinyimage ${name}: ${e.message}\n`);
    if (env.TINYIMAGE_DEBUG) stderr.write(`${e.stack}\n`);
    return e.exitCode;
  }
  const err = e as NodeJS.ErrnoException;
  if (err && typeof err.code === 'string' && err.syscall) {
    stderr.write(`tinyimage ${name}: ${err.message}\n`);
    return 1;
  }
  throw e;
}

export async function main(argv: string[], io: Partial<CommandIO> = {}): Promise<number> {
  const cio: CommandIO = {
    stdout: io.stdout ?? process.stdout,
    stderr: io.stderr ?? process.stderr,
    env: io.env ?? process.env,
    stdin: io.stdin ?? (process.stdin as AsyncIterable<Uint8Array>),
  };
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    (name ? cio.stdout : cio.stderr).write((await globalHelp()) + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    cio.stdout.write(`tinyimage ${pkg.version}\n`);
    return 0;
  }
  const load = COMMANDS[name];
  if (!load) {
    const guess = closest(name, Object.keys(COMMANDS));
    cio.stderr.write(
      `tinyimage: unknown command '${name}'${guess ? `; did you mean '${guess}'?` : ''}\n` +
        "Run 'tinyimage --help' for the list of commands.\n",
    );
    return 2;
  }
  let entry: Entry;
  try {
    entry = await load();
  } catch (e) {
    cio.stderr.write(`tinyimage: command '${name}' is not available in this build: ${(e as Error).message}\n`);
    return 1;
  }
  const at = { name };
  try {
    return await dispatch(entry, rest, cio, at);
  } catch (e) {
    return report(e, at.name, cio.stderr, cio.env);
  }
}
