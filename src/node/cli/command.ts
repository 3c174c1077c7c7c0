import { parseArgs, type ParseArgsConfig } from 'node:util';
import { UsageError } from '../../core/errors.js';
import type { Progress } from '../../core/progress.js';

export type OptionSpec = NonNullable<ParseArgsConfig['options']>;

/** What every command gets besides its arguments. */
export interface CommandContext {
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** Progress reporter: draws on stderr when it is a TTY, silent otherwise (or with --quiet). */
  progress: Progress;
  /** Warnings go here (printed to stderr as "tinyimage: warning: ..."). */
  warn(message: string): void;
  /** The environment (SOURCE_DATE_EPOCH etc.). */
  env: NodeJS.ProcessEnv;
}

export interface Command {
  name: string;
  /** One line for `tinyimage --help`. */
  summary: string;
  /** Full usage text printed by `tinyimage NAME --help`. */
  usage: string;
  /** The command prints its own --help (e.g. per subcommand); main() then passes --help through. */
  ownHelp?: boolean;
  /** Runs the command; returns the process exit code (0 ok, 1 failure). Throw UsageError for bad usage (exit 2). */
  run(argv: string[], ctx: CommandContext): Promise<number>;
}

/**
 * node:util parseArgs with our conventions: unknown options and missing
 * values become UsageError (exit 2) naming the command.
 */
export type ParsedArgs<T extends OptionSpec> = ReturnType<
  typeof parseArgs<{ args: string[]; options: T; allowPositionals: true; strict: true }>
>;

export function parseCommandArgs<T extends OptionSpec>(command: string, argv: string[], options: T): ParsedArgs<T> {
  try {
    return parseArgs({ args: argv, options, allowPositionals: true as const, strict: true as const });
  } catch (e) {
    throw new UsageError(
      'E_USAGE_ARGS',
      `${command}: ${(e as Error).message.replace(/\. To specify a positional.*$/s, '')}\nTry 'tinyimage ${command} --help'.`,
    );
  }
}

export { parseOwner, parseSize } from '../../core/units.js';

/** Parse an optional positive integer option (e.g. --jobs); UsageError naming the command and option otherwise. */
export function parsePositiveInt(value: string | undefined, option: string, command: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1 || !Number.isSafeInteger(n))
    throw new UsageError('E_USAGE_JOBS', `${command}: ${option} must be a positive integer, got '${value}'`, {
      field: option,
      actual: value,
    });
  return n;
}
