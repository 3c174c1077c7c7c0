/**
 * CLI entry. Thin: parses arguments and calls the library. Commands live in
 * ./commands/NAME.ts (lazy-loaded, so `tinyimage --help` stays fast).
 * Exit codes: 0 ok, 1 failure, 2 bad usage. Errors from bad input are
 * printed as one message, never a stack trace.
 */
import { isTinyImageError } from '../../core/errors.js';
import { silentProgress } from '../../core/progress.js';
import { ttyProgress } from './progress.js';
import '../setup.js';
import type { Command, CommandContext } from './command.js';

const COMMANDS: Record<string, { summary: string; load: () => Promise<{ command: Command }> }> = {
  build: {
    summary: 'build images from a spec or a preset (initramfs, uefi, bios)',
    load: () => import('./commands/build.js'),
  },
  cpio: {
    summary: 'write a newc cpio archive (optionally gzip) from a directory or a gen_init_cpio list',
    load: () => import('./commands/cpio.js'),
  },
  initramfs: {
    summary: 'write the tiny initramfs (busybox, /init) as a gzip newc archive',
    load: () => import('./commands/initramfs.js'),
  },
  mkfs: {
    summary: 'write an ext2/ext3/ext4 or FAT12/16/32 filesystem image from a directory or list',
    load: () => import('./commands/mkfs.js'),
  },
  ls: { summary: 'list an image, archive or partition (IMAGE[:PART] [PATH])', load: () => import('./commands/ls.js') },
  cat: { summary: 'print a file from an image, archive or partition', load: () => import('./commands/cat.js') },
  extract: {
    summary: 'extract an image, archive or partition into a directory (never outside it)',
    load: () => import('./commands/extract.js'),
  },
  inspect: {
    summary: 'describe an image: partition table, filesystems, usage',
    load: () => import('./commands/inspect.js'),
  },
  diff: {
    summary: 'compare two trees (directories, archives, images, specs)',
    load: () => import('./commands/diff.js'),
  },
  boot: {
    summary: 'boot a kernel/initrd or a disk image in QEMU and watch the serial console',
    load: () => import('./commands/boot.js'),
  },
  kernel: {
    summary: 'build a Linux kernel from source (kernel build ...)',
    load: () => import('./commands/kernel.js'),
  },
  busybox: {
    summary: 'build a static busybox from source (busybox build ...) or list its applets',
    load: () => import('./commands/busybox.js'),
  },
};

function globalHelp(): string {
  const w = Math.max(...Object.keys(COMMANDS).map((k) => k.length));
  return [
    'usage: tinyimage COMMAND [OPTIONS]',
    '',
    'Assemble bootable minimal Linux systems byte by byte, without root.',
    '',
    'Commands:',
    ...Object.entries(COMMANDS).map(([k, v]) => `  ${k.padEnd(w)}  ${v.summary}`),
    '',
    "Run 'tinyimage COMMAND --help' for a command's options.",
  ].join('\n');
}

export async function main(
  argv: string[],
  io: Partial<Pick<CommandContext, 'stdout' | 'stderr'>> = {},
): Promise<number> {
  const stdout = io.stdout ?? process.stdout;
  const stderr = io.stderr ?? process.stderr;
  const [name, ...rest] = argv;
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    stdout.write(globalHelp() + '\n');
    return name ? 0 : 2;
  }
  if (name === '--version' || name === '-V') {
    const { createRequire } = await import('node:module');
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version: string };
    stdout.write(`tinyimage ${pkg.version}\n`);
    return 0;
  }
  const entry = COMMANDS[name];
  if (!entry) {
    stderr.write(`tinyimage: unknown command '${name}'\n\n${globalHelp()}\n`);
    return 2;
  }
  let command: Command;
  try {
    command = (await entry.load()).command;
  } catch (e) {
    stderr.write(`tinyimage: command '${name}' is not available in this build: ${(e as Error).message}\n`);
    return 1;
  }
  if (
    (rest.includes('--help') || rest.includes('-h')) &&
    !(command.ownHelp && rest.length > 1 && !rest[0]!.startsWith('-'))
  ) {
    stdout.write(command.usage.trimEnd() + '\n');
    return 0;
  }
  const quiet = rest.includes('--quiet') || rest.includes('-q');
  const isTTY = (stderr as NodeJS.WriteStream).isTTY === true;
  const ctx: CommandContext = {
    stdout,
    stderr,
    progress: isTTY && !quiet ? ttyProgress(stderr as NodeJS.WriteStream) : silentProgress,
    warn: (m) => {
      stderr.write(`tinyimage: warning: ${m}\n`);
    },
    env: process.env,
  };
  try {
    return await command.run(rest, ctx);
  } catch (e) {
    if (isTinyImageError(e)) {
      // messages that already name the command ("kernel build: ...") are not prefixed twice
      stderr.write(
        e.message.startsWith(`${name} `) || e.message.startsWith(`${name}:`)
          ? `tinyimage ${e.message}\n`
          : `tinyimage ${name}: ${e.message}\n`,
      );
      if (process.env.TINYIMAGE_DEBUG) stderr.write(`${e.stack}\n`);
      return e.exitCode;
    }
    const err = e as NodeJS.ErrnoException;
    if (err && typeof err.code === 'string' && err.syscall) {
      stderr.write(`tinyimage ${name}: ${err.message}\n`);
      return 1;
    }
    throw e;
  }
}
