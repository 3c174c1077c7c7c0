/**
 * Fenced code blocks of Markdown files, and the `tinyimage` command lines
 * inside shell blocks: what the docs test checks (conventions in
 * CONTRIBUTING.md, "Code blocks in the docs").
 */
import { parse as parseYaml } from 'yaml';

export type BlockKind = 'ts' | 'js' | 'shell' | 'console' | 'data' | 'text';

export interface Block {
  /** The Markdown file, relative to the repository (README.md, docs/x.md). */
  file: string;
  /** 1-based line of the opening fence. */
  line: number;
  /** The language word of the info string, lower case ('' for none). */
  lang: string;
  /** The other words of the info string (`run`). */
  flags: string[];
  kind: BlockKind;
  /** The block's text, its indentation removed; line i is file line `line + 1 + i`. */
  code: string;
  /** The language is none the test knows (the block fails: it would go unchecked). */
  unknown?: boolean;
}

const KINDS: Record<string, BlockKind> = {
  ts: 'ts',
  typescript: 'ts',
  js: 'js',
  javascript: 'js',
  sh: 'shell',
  bash: 'shell',
  shell: 'shell',
  console: 'console',
  yaml: 'data',
  yml: 'data',
  json: 'data',
  '': 'text',
  text: 'text',
  output: 'text',
};

/** Languages a block may have; any other is an error (an unknown language would go unchecked). */
export const KNOWN_LANGS = Object.keys(KINDS).filter((k) => k !== '');

export function blockName(b: Pick<Block, 'file' | 'line'>): string {
  return `${b.file}:${b.line}`;
}

/** Every fenced block (``` or ~~~, indented ones inside lists too), in order. */
export function extractBlocks(text: string, file: string): Block[] {
  const lines = text.split('\n');
  const blocks: Block[] = [];
  for (let i = 0; i < lines.length; i++) {
    const open = /^(\s*)(`{3,}|~{3,})\s*([^`]*)$/.exec(lines[i]!);
    if (!open) continue;
    const [, indent, fence, info] = open as unknown as [string, string, string, string];
    const words = info.trim().split(/\s+/).filter(Boolean);
    const lang = (words[0] ?? '').toLowerCase();
    const body: string[] = [];
    let j = i + 1;
    const close = new RegExp(`^\\s*${fence[0]}{${fence.length},}\\s*$`);
    for (; j < lines.length && !close.test(lines[j]!); j++) {
      const l = lines[j]!;
      body.push(l.startsWith(indent) ? l.slice(indent.length) : l.trimStart());
    }
    const output = lang === 'console' && words[1] === 'output';
    const kind = output ? 'text' : KINDS[lang];
    const flags = words.slice(1);
    const code = body.join('\n');
    blocks.push({ file, line: i + 1, lang, flags, kind: kind ?? 'text', code, ...(kind ? {} : { unknown: true }) });
    i = j;
  }
  return blocks;
}

export interface CommandLine {
  /** 1-based line in the Markdown file. */
  line: number;
  /** The arguments after `tinyimage`. */
  argv: string[];
  /** The command as written. */
  text: string;
}

const SEPARATORS = new Set(['|', '||', '&&', ';', '&']);
const REDIRECT = /^\d*(>>?|<)&?\d*$/;

/**
 * Splits one shell command line into words: quotes, backslashes, comments,
 * pipes, `&&`, `;` and redirections (whose targets are dropped). Returns
 * the simple commands of the line. Enough for documentation; no expansion.
 */
export function shellWords(line: string): string[][] {
  const commands: string[][] = [[]];
  let word: string | undefined;
  const end = () => {
    if (word !== undefined) commands[commands.length - 1]!.push(word);
    word = undefined;
  };
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (c === "'" || c === '"') {
      const close = line.indexOf(c, i + 1);
      if (close < 0) throw new Error(`unterminated ${c} in: ${line}`);
      let inner = line.slice(i + 1, close);
      if (c === '"') inner = inner.replace(/\\(["\\$`])/g, '$1');
      word = (word ?? '') + inner;
      i = close;
    } else if (c === '\\' && i + 1 < line.length) {
      word = (word ?? '') + line[++i];
    } else if (/\s/.test(c)) {
      end();
    } else if (c === '#' && word === undefined) {
      break;
    } else if ('|&;<>'.includes(c)) {
      end();
      let op = c;
      while (i + 1 < line.length && '|&>'.includes(line[i + 1]!)) op += line[++i];
      if (SEPARATORS.has(op)) commands.push([]);
      else word = op; // a redirection: kept as a word, removed below with its target
      end();
    } else {
      word = (word ?? '') + c;
    }
  }
  end();
  return commands
    .map((words) => {
      const out: string[] = [];
      for (let k = 0; k < words.length; k++) {
        if (REDIRECT.test(words[k]!) && /[<>]/.test(words[k]!)) k++;
        else out.push(words[k]!);
      }
      return out;
    })
    .filter((w) => w.length > 0);
}

/** The argv of a simple command when it runs tinyimage (after VAR=x, sudo, env, npx), else undefined. */
export function tinyimageArgv(words: string[]): string[] | undefined {
  let k = 0;
  while (k < words.length && (/^[A-Za-z_][A-Za-z0-9_]*=/.test(words[k]!) || /^(sudo|env|npx)$/.test(words[k]!))) k++;
  if (words[k] === 'tinyimage' || /\/tinyimage$/.test(words[k] ?? '')) return words.slice(k + 1);
  return undefined;
}

/**
 * The tinyimage command lines of a shell block (every line a command;
 * `\` continues a line) or a console block (only `$ ` lines are commands,
 * the rest is their output).
 */
export function commandLines(b: Block): CommandLine[] {
  const lines = b.code.split('\n');
  const out: CommandLine[] = [];
  for (let i = 0; i < lines.length; i++) {
    let text = lines[i]!;
    const first = i;
    if (b.kind === 'console') {
      if (!text.startsWith('$ ')) continue;
      text = text.slice(2);
    }
    while (text.endsWith('\\') && i + 1 < lines.length) text = text.slice(0, -1) + ' ' + lines[++i]!.trimStart();
    for (const words of shellWords(text)) {
      const argv = tinyimageArgv(words);
      if (argv) out.push({ line: b.line + 1 + first, argv, text: text.trim() });
    }
  }
  return out;
}

/** A yaml/json block that is a build spec (has preset:, kind: or disk:), else undefined. */
export function specText(b: Block): { text: string; ext: 'yaml' | 'json' } | undefined {
  if (b.kind !== 'data') return undefined;
  const ext = b.lang === 'json' ? 'json' : 'yaml';
  let v: unknown;
  try {
    v = ext === 'json' ? JSON.parse(b.code) : parseYaml(b.code);
  } catch {
    return undefined;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return undefined;
  return ['preset', 'kind', 'disk'].some((k) => k in v) ? { text: b.code, ext } : undefined;
}
