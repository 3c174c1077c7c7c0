/**
 * Commands and command groups, declared as data (options.ts) and run
 * through one pipeline: --help, parsing and validation, -q/-v, the context
 * a command gets, and its outputs (output.ts). main.ts only dispatches.
 */
import { UsageError } from '../../core/errors.js';
import { silentProgress, type Progress } from '../../core/progress.js';
import { commandHelp, groupHelp } from './help.js';
import {
  closest,
  longName,
  parseCommandLine,
  usageError,
  type ArgTable,
  type Args,
  type OptionTable,
  type Values,
} from './options.js';
import { openOutput, type CliOutput, type OutputFormat } from './output.js';
import { ttyProgress } from './progress.js';

/** What main() hands to a command: the process' streams and environment. */
export interface CommandIO {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
  /** What a source named '-' reads (default: the process' standard input). */
  stdin?: AsyncIterable<Uint8Array>;
}

/** What every command gets besides its values. */
export interface CommandContext extends CommandIO {
  /** Progress reporter: draws on stderr when it is a TTY, silent otherwise (or with -q). */
  progress: Progress;
  /** Warnings go here (printed to stderr as "tinyimage: warning: ..."). */
  warn(message: string): void;
  /** Detail (phases, steps) printed on stderr only with -v. */
  log(message: string): void;
  quiet: boolean;
  verbose: boolean;
  /** performance.now() when the command started (for the summary's time). */
  started: number;
}

/**
 * A writer's warnings, at most `max` printed unless -v: `warn` is what the
 * writer gets, `finish(note)` prints "... and N more warnings" once at the
 * end when some were held back (`note` adds a reason, e.g. how many entries
 * were skipped).
 */
export function cappedWarnings(
  ctx: Pick<CommandContext, 'warn' | 'verbose'>,
  max = 10,
): { warn(message: string): void; finish(note?: string): void } {
  let count = 0;
  return {
    warn(message) {
      if (++count <= max || ctx.verbose) ctx.warn(message);
    },
    finish(note) {
      if (count > max && !ctx.verbose)
        ctx.warn(`... and ${count - max} more warnings (${note ? `${note}; ` : ''}-v lists them)`);
    },
  };
}

/** Options every command has, handled here once. */
export const COMMON_OPTIONS = {
  quiet: { type: 'boolean', short: 'q', help: 'no progress line and no summary (warnings and errors still print)' },
  verbose: { type: 'boolean', short: 'v', help: 'more on stderr: the phases of the work, every warning' },
  help: { type: 'boolean', short: 'h', help: 'show this help' },
} as const satisfies OptionTable;

/** -o and --json, for every command that writes an image, archive or build (spread into its options). */
export const OUTPUT_OPTIONS = {
  output: {
    type: 'path',
    short: 'o',
    value: 'OUT',
    required: true,
    help: "the file to write, atomically; '-' is standard output for formats that stream",
  },
  json: { type: 'boolean', help: 'print the summary as one JSON object on standard output' },
} as const satisfies OptionTable;

export interface RunInput<O extends OptionTable, A extends ArgTable> {
  values: Values<O>;
  args: Args<A>;
  ctx: CommandContext;
  /** A UsageError (exit 2) naming the command, with the "Try --help" hint. */
  usage(message: string, data?: Record<string, unknown>): UsageError;
  /** The output named by -o (checked for `-` and a missing directory before any work). */
  output(format: OutputFormat, what?: string): CliOutput;
}

export interface CommandDecl<O extends OptionTable, A extends ArgTable> {
  /** Full name as typed: `mkfs ext4`. */
  name: string;
  /** One line, listed by `tinyimage --help` (or the group's --help). */
  summary: string;
  /** Paragraphs for --help (defaults to the summary). */
  description?: string;
  /** Replaces the generated synopsis after the name. */
  synopsis?: string;
  options: O;
  args?: A;
  /** Option keys of which exactly one must be given. */
  oneOf?: readonly (readonly (keyof O & string)[])[];
  examples?: string[];
  /** Closing text of --help (environment, exit status). */
  notes?: string;
  /** Returns the exit code (0 when nothing is returned). Throw UsageError for bad usage. */
  run(input: RunInput<O, A>): Promise<number | void>;
}

export interface Command {
  kind: 'command';
  name: string;
  summary: string;
  help(): string;
  /** Every option as typed, `--block-size`, the common ones included (for tests and completions). */
  optionNames(): string[];
  execute(argv: string[], io: CommandIO): Promise<number>;
}

export interface CommandGroup {
  kind: 'group';
  name: string;
  summary: string;
  description: string;
  /** What the subcommand is called in help: TYPE, COMMAND. */
  label: string;
  subcommands: Record<string, () => Promise<Command | CommandGroup>>;
  /** Other names for subcommands: { vfat: 'fat' }. */
  aliases?: Record<string, string>;
}

function isHelp(argv: string[]): boolean {
  const end = argv.indexOf('--');
  return (end < 0 ? argv : argv.slice(0, end)).some((a) => a === '--help' || a === '-h');
}

function context(io: CommandIO, quiet: boolean, verbose: boolean): CommandContext {
  const stderr = io.stderr as NodeJS.WriteStream;
  return {
    ...io,
    progress: stderr.isTTY === true && !quiet ? ttyProgress(stderr) : silentProgress,
    warn: (m) => void io.stderr.write(`tinyimage: warning: ${m}\n`),
    log: (m) => void (verbose ? io.stderr.write(`tinyimage: ${m}\n`) : undefined),
    quiet,
    verbose,
    started: performance.now(),
  };
}

/** Declare a command; its values reach run() typed from the declarations. */
export function defineCommand<const O extends OptionTable, const A extends ArgTable = Record<never, never>>(
  decl: CommandDecl<O, A>,
): Command {
  const args = (decl.args ?? {}) as A;
  const options = { ...decl.options, ...COMMON_OPTIONS };
  const help = () => commandHelp({ ...decl, args, common: COMMON_OPTIONS });
  return {
    kind: 'command',
    name: decl.name,
    summary: decl.summary,
    help,
    optionNames: () => Object.keys(options).map((k) => `--${longName(k)}`),
    async execute(argv, io) {
      if (isHelp(argv)) {
        io.stdout.write(help() + '\n');
        return 0;
      }
      const spec = { name: decl.name, options, args, ...(decl.oneOf ? { oneOf: decl.oneOf } : {}) };
      const { values, args: parsed } = parseCommandLine(spec, argv);
      // for the docs test: the command line is checked (options, arguments, values) but nothing runs
      if (io.env.TINYIMAGE_PARSE_ONLY === '1') return 0;
      const ctx = context(io, values.quiet, values.verbose);
      const usage = (m: string, data?: Record<string, unknown>) => usageError(decl, m, data);
      const v = values as { output?: string; json?: boolean };
      const output = (format: OutputFormat, what?: string) => {
        if (v.output === undefined) throw new Error(`internal: ${decl.name} declares no --output`);
        const oio = { ...io, quiet: ctx.quiet, json: v.json === true, started: ctx.started };
        return openOutput(decl.name, v.output, format, oio, what);
      };
      return (await decl.run({ values: values as Values<O>, args: parsed, ctx, usage, output })) ?? 0;
    },
  };
}

/**
 * Run a command or a group (which picks its subcommand from argv[0]).
 * `at.name` follows the descent (`mkfs`, then `mkfs ext4`) so errors name the command that failed.
 */
export async function dispatch(
  entry: Command | CommandGroup,
  argv: string[],
  io: CommandIO,
  at: { name: string } = { name: entry.name },
): Promise<number> {
  at.name = entry.name;
  if (entry.kind === 'command') return entry.execute(argv, io);
  const [sub, ...rest] = argv;
  const names = Object.keys(entry.subcommands);
  if (sub === undefined || sub.startsWith('-')) {
    if (sub !== '--help' && sub !== '-h')
      throw usageError(entry, `missing ${entry.label} (${names.join(', ')})`, { expected: names });
    const entries = await Promise.all(
      Object.entries(entry.subcommands).map(async ([k, load]): Promise<[string, string]> => [
        k,
        (await load()).summary,
      ]),
    );
    io.stdout.write(groupHelp({ ...entry, entries }) + '\n');
    return 0;
  }
  const load = entry.subcommands[entry.aliases?.[sub] ?? sub];
  if (!load) {
    const guess = closest(sub, [...names, ...Object.keys(entry.aliases ?? {})]);
    throw usageError(
      entry,
      `unknown ${entry.label.toLowerCase()} '${sub}'${guess ? `; did you mean ${guess}?` : ''} (expected ${names.join(', ')})`,
      { actual: sub, expected: names },
    );
  }
  return dispatch(await load(), rest, io, at);
}
