/** --help text, generated from the same declarations the parser uses (options.ts). */
import { longName, optionValueName, type ArgTable, type OptionDecl, type OptionTable } from './options.js';

const WIDTH = 80;
const MAX_COLUMN = 26;

/** Word-wrap `text` to `width`, continuing lines with `indent` spaces; blank lines and "\n" breaks are kept. */
export function wrap(text: string, width: number, indent: number): string {
  const out: string[] = [];
  for (const para of text.split('\n')) {
    let line = '';
    for (const word of para.split(/ +/)) {
      if (line && line.length + 1 + word.length > width - indent) {
        out.push(line);
        line = word;
      } else line = line ? `${line} ${word}` : word;
    }
    out.push(line);
  }
  return out.join('\n' + ' '.repeat(indent));
}

/** Rows of "  left  help", the help column aligned and wrapped. */
export function columns(rows: Array<[string, string]>): string[] {
  const col = Math.min(MAX_COLUMN, Math.max(...rows.map(([l]) => l.length)) + 2);
  return rows.map(([left, help]) => {
    const text = wrap(help, WIDTH, col + 2);
    return left.length + 2 > col ? `  ${left}\n${' '.repeat(col + 2)}${text}` : `  ${left.padEnd(col)}${text}`;
  });
}

function optionLeft(key: string, d: OptionDecl): string {
  const value = optionValueName(key, d);
  return `${d.short ? `-${d.short}, ` : '    '}--${longName(key)}${value ? ` ${value}` : ''}`;
}

function optionHelp(d: OptionDecl): string {
  const extra: string[] = [];
  if (d.type !== 'boolean' && d.required) extra.push('required');
  if (d.type !== 'boolean' && d.repeatable) extra.push('repeatable');
  const dflt = d.type === 'boolean' ? undefined : d.default;
  if (dflt !== undefined && !/\(default/.test(d.help))
    extra.push(`default ${typeof dflt === 'object' ? `${dflt.uid}:${dflt.gid}` : dflt}`);
  return extra.length ? `${d.help} (${extra.join('; ')})` : d.help;
}

export interface HelpSource {
  name: string;
  summary: string;
  description?: string;
  synopsis?: string;
  options: OptionTable;
  common: OptionTable;
  args: ArgTable;
  oneOf?: readonly (readonly string[])[];
  examples?: string[];
  notes?: string;
}

/** `tinyimage mkfs ext4 (--root DIR | --list FILE) -o OUT [options]` from the declarations. */
export function synopsis(h: HelpSource): string {
  if (h.synopsis) return `tinyimage ${h.name} ${h.synopsis}`;
  const inGroup = new Set((h.oneOf ?? []).flat());
  const opt = (k: string) => {
    const d = h.options[k]!;
    const v = optionValueName(k, d);
    return `${d.short ? `-${d.short}` : `--${longName(k)}`}${v ? ` ${v}` : ''}`;
  };
  const parts = [
    ...(h.oneOf ?? []).map((g) => `(${g.map(opt).join(' | ')})`),
    ...Object.entries(h.options)
      .filter(([k, d]) => d.type !== 'boolean' && d.required && !inGroup.has(k))
      .map(([k]) => opt(k)),
    '[options]',
    ...Object.values(h.args).map((a) => {
      const v = a.variadic ? `${a.value}...` : a.value;
      return a.optional ? `[${v}]` : v;
    }),
  ];
  return `tinyimage ${h.name} ${parts.join(' ')}`;
}

export function commandHelp(h: HelpSource): string {
  const out = [`usage: ${synopsis(h)}`, '', wrap(h.description ?? h.summary, WIDTH, 0)];
  const args = Object.values(h.args).filter((a) => a.help);
  if (args.length) out.push('', 'Arguments:', ...columns(args.map((a) => [a.value, a.help!])));
  const rows = (t: OptionTable) =>
    Object.entries(t).map(([k, d]): [string, string] => [optionLeft(k, d), optionHelp(d)]);
  if (Object.keys(h.options).length) out.push('', 'Options:', ...columns(rows(h.options)));
  out.push('', 'Common options:', ...columns(rows(h.common)));
  if (h.examples?.length) out.push('', 'Examples:', ...h.examples.map((e) => `  ${e}`));
  if (h.notes) out.push('', wrap(h.notes.trim(), WIDTH, 0));
  return out.join('\n');
}

export function groupHelp(g: {
  name: string;
  description: string;
  label: string;
  entries: Array<[string, string]>;
}): string {
  return [
    `usage: tinyimage ${g.name} ${g.label} [options]`,
    '',
    wrap(g.description, WIDTH, 0),
    '',
    `${g.label[0]}${g.label.slice(1).toLowerCase()}s:`,
    ...columns(g.entries),
    '',
    `Run 'tinyimage ${g.name} ${g.label} --help' for the options of each.`,
  ].join('\n');
}
