/**
 * The CLI's option model: every command declares its options once, as data
 * (like a struct table). Tokenizing is node:util parseArgs (strict); types,
 * defaults, required options, one-of groups and typed values come from here,
 * and help.ts renders --help from the same declarations.
 */
import { parseArgs } from 'node:util';
import { UsageError } from '../../core/errors.js';
import { parseDecimal, parseInteger, parseOwner, parseSize } from '../../core/units.js';

interface Base {
  /** One-letter alias: `o` for `-o`. */
  short?: string;
  /** One line (or a few) for --help. */
  help: string;
  /** Name of the value in --help (`DIR`, `SIZE`); derived from the type when absent. */
  value?: string;
  /** The option may be given several times; the value is then an array (in order). */
  repeatable?: boolean;
  /** The command cannot run without it (checked before run()). */
  required?: boolean;
}
export interface StringOption extends Base {
  /** `path` is a host path (printed as PATH in help); both give strings. */
  type: 'string' | 'path';
  default?: string;
}
export interface BooleanOption extends Omit<Base, 'value' | 'required'> {
  type: 'boolean';
}
export interface IntegerOption extends Base {
  type: 'integer';
  min?: number;
  max?: number;
  default?: number;
}
export interface NumberOption extends Base {
  /** A decimal number with an optional fraction (percentages, seconds). */
  type: 'number';
  min?: number;
  max?: number;
  default?: number;
}
export interface SizeOption extends Base {
  /** Bytes, written as 4096, 512K, 64M, 2G (src/core/units.ts). */
  type: 'size';
  default?: number;
}
export interface OwnerOption extends Base {
  /** UID:GID */
  type: 'owner';
  default?: Owner;
}
export interface EnumOption<C extends string = string> extends Base {
  type: 'enum';
  choices: readonly C[];
  default?: C;
}
export type OptionDecl =
  StringOption | BooleanOption | IntegerOption | NumberOption | SizeOption | OwnerOption | EnumOption;
/** Options by camelCase key; the long name is the key in kebab-case (`blockSize` is `--block-size`). */
export type OptionTable = Record<string, OptionDecl>;

/** A positional argument; positionals come in declaration order. */
export interface ArgDecl {
  /** As shown in help: `IMAGE[:PART]`. */
  value: string;
  help?: string;
  optional?: boolean;
  /** The last argument only: takes every remaining positional (at least one unless optional); a string[]. */
  variadic?: boolean;
}
export type ArgTable = Record<string, ArgDecl>;

export interface Owner {
  uid: number;
  gid: number;
}
type Scalar<D> = D extends { type: 'boolean' }
  ? boolean
  : D extends { type: 'integer' | 'number' | 'size' }
    ? number
    : D extends { type: 'owner' }
      ? Owner
      : D extends { type: 'enum'; choices: readonly (infer C)[] }
        ? C
        : string;
type Value<D> = D extends { type: 'boolean' }
  ? boolean
  : D extends { repeatable: true }
    ? Scalar<D>[]
    : D extends { default: unknown } | { required: true }
      ? Scalar<D>
      : Scalar<D> | undefined;
/** The typed values run() gets for an option table. */
export type Values<T extends OptionTable> = { -readonly [K in keyof T]: Value<T[K]> };
export type Args<T extends ArgTable> = {
  -readonly [K in keyof T]: T[K] extends { variadic: true }
    ? string[]
    : T[K] extends { optional: true }
      ? string | undefined
      : string;
};

export function longName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** What a command's parse step needs to know about it. */
export interface ParseSpec {
  /** `mkfs ext4`: used in messages and in the "Try 'tinyimage NAME --help'" hint. */
  name: string;
  options: OptionTable;
  args: ArgTable;
  /** Groups of option keys of which exactly one must be given. */
  oneOf?: readonly (readonly string[])[];
}

/** A UsageError (exit 2) naming the command, with the hint "Try 'tinyimage NAME --help'." */
export function usageError(
  spec: { name: string },
  message: string,
  data: Record<string, unknown> = {},
  code = 'E_USAGE_ARGS',
): UsageError {
  return new UsageError(code, `${spec.name}: ${message}\nTry 'tinyimage ${spec.name} --help'.`, data);
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment), for "did you mean". */
export function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++)
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let v = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) v = Math.min(v, d[i - 2]![j - 2]! + 1);
      d[i]![j] = v;
    }
  return d[a.length]![b.length]!;
}

/** The closest candidate when it is close enough to be a typo (or a prefix of it), else undefined. */
export function closest(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = c.startsWith(word) && word.length >= 3 ? 1 : distance(word, c);
    if (d < bestD) [best, bestD] = [c, d];
  }
  return bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

function tokenize(spec: ParseSpec, argv: string[]) {
  const config: Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }> = {};
  for (const [key, d] of Object.entries(spec.options))
    config[longName(key)] = {
      type: d.type === 'boolean' ? 'boolean' : 'string',
      ...(d.short ? { short: d.short } : {}),
      ...(d.repeatable ? { multiple: true } : {}),
    };
  try {
    return parseArgs({ args: argv, options: config, allowPositionals: true, strict: true });
  } catch (e) {
    throw tokenError(spec, e as Error & { code?: string });
  }
}

/** parseArgs' messages, rephrased with a suggestion for a mistyped option. */
function tokenError(spec: ParseSpec, e: Error & { code?: string }): UsageError {
  const m = /^Unknown option '(-{1,2})([^']*)'/.exec(e.message);
  if (m) {
    const names = Object.keys(spec.options).map(longName);
    const guess = m[1] === '--' ? closest(m[2]!, names) : undefined;
    const hint = guess ? `; did you mean --${guess}?` : '';
    return usageError(spec, `unknown option ${m[1]}${m[2]}${hint}`, { field: `${m[1]}${m[2]}`, suggestion: guess });
  }
  const v = /^Option '(?:-(\w), )?--([^ ]+) <value>' argument missing/.exec(e.message);
  if (v) return usageError(spec, `option --${v[2]} needs a value`, { field: `--${v[2]}` });
  const a = /^Option '(-{1,2}[^']+)' argument is ambiguous/.exec(e.message);
  if (a) return usageError(spec, `option ${a[1]} needs a value (one that starts with '-' is written --NAME=VALUE)`);
  const b = /^Option '(?:-(\w), )?--([^ ']+)' does not take an argument/.exec(e.message);
  if (b) return usageError(spec, `option --${b[2]} takes no value`, { field: `--${b[2]}` });
  return usageError(spec, e.message.replace(/\. To specify a positional.*$/s, ''));
}

/** One raw string to its typed value; errors name the option. */
export function convert(d: OptionDecl, raw: string, option: string): unknown {
  switch (d.type) {
    case 'integer':
      return parseInteger(raw, option, d);
    case 'number':
      return parseDecimal(raw, option, d);
    case 'size':
      return parseSize(raw, option);
    case 'owner':
      return parseOwner(raw, option);
    case 'enum': {
      if (d.choices.includes(raw)) return raw;
      const guess = closest(raw, d.choices);
      throw new UsageError(
        'E_USAGE_ENUM',
        `${option} must be one of ${d.choices.join(', ')}, got '${raw}'${guess ? ` (did you mean ${guess}?)` : ''}`,
        { field: option, expected: d.choices, actual: raw },
      );
    }
    default:
      return raw;
  }
}

function withHint(spec: ParseSpec, e: unknown): unknown {
  return e instanceof UsageError ? usageError(spec, e.message, e.data, e.code) : e;
}

/** Parse argv against a command's declarations: typed values and named positionals, or a UsageError. */
export function parseCommandLine<O extends OptionTable, A extends ArgTable>(
  spec: ParseSpec & { options: O; args: A },
  argv: string[],
): { values: Values<O>; args: Args<A> } {
  const { values: raw, positionals } = tokenize(spec, argv);
  const values: Record<string, unknown> = {};
  for (const [key, d] of Object.entries(spec.options)) {
    const option = `--${longName(key)}`;
    const r = raw[longName(key)];
    if (d.type === 'boolean') values[key] = r === true;
    else if (r === undefined) {
      if (d.required) throw usageError(spec, `${option} ${optionValueName(key, d)} is required`, { field: option });
      values[key] = d.repeatable ? [] : d.default;
    } else {
      try {
        values[key] = Array.isArray(r) ? r.map((x) => convert(d, String(x), option)) : convert(d, String(r), option);
      } catch (e) {
        throw withHint(spec, e);
      }
    }
  }
  for (const group of spec.oneOf ?? []) {
    const given = group.filter((k) => raw[longName(k)] !== undefined);
    if (given.length !== 1) {
      const names = group.map((k) => `--${longName(k)} ${optionValueName(k, spec.options[k]!)}`);
      throw usageError(spec, `give exactly one of ${names.join(' or ')}`, { field: names.join('|') });
    }
  }
  return { values: values as Values<O>, args: namedArgs(spec, positionals) as Args<A> };
}

function namedArgs(spec: ParseSpec, positionals: string[]): Record<string, string | string[] | undefined> {
  const decls = Object.entries(spec.args);
  const min = decls.filter(([, a]) => !a.optional).length;
  const last = decls[decls.length - 1];
  if (last?.[1].variadic) {
    const fixed = decls.length - 1;
    if (positionals.length < min) {
      const missing = decls.slice(positionals.length, min).map(([, a]) => a.value);
      throw usageError(spec, `missing ${missing.join(' ')}`, { expected: missing });
    }
    return Object.fromEntries([
      ...decls.slice(0, fixed).map(([k], i) => [k, positionals[i]]),
      [last[0], positionals.slice(fixed)],
    ]);
  }
  if (positionals.length > decls.length)
    throw usageError(spec, `unexpected argument '${positionals[decls.length]}'`, {
      actual: positionals[decls.length],
    });
  if (positionals.length < min) {
    const missing = decls.slice(positionals.length, min).map(([, a]) => a.value);
    throw usageError(spec, `missing ${missing.join(' ')}`, { expected: missing });
  }
  return Object.fromEntries(decls.map(([k], i) => [k, positionals[i]]));
}

/** The value name shown in help and messages: declared, or derived from the type. */
export function optionValueName(key: string, d: OptionDecl): string {
  if (d.type === 'boolean') return '';
  if (d.value) return d.value;
  if (d.type === 'enum') return d.choices.join('|');
  const byType = { integer: 'N', number: 'N', size: 'SIZE', owner: 'UID:GID', path: 'PATH', string: '' };
  return byType[d.type] || longName(key).toUpperCase().replace(/-/g, '_');
}
