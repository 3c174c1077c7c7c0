/**
 * Kconfig helpers shared by the kernel and busybox builds: option parsing
 * (`NAME`, `NAME=y|m|n`, `NAME=123`, `NAME="str"`), reading a .config, turning
 * requested options into `scripts/config` arguments, and explaining why a
 * requested option did not stick (its `depends on` lines from the Kconfig
 * sources, with the symbols that are currently unset).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { UsageError } from '../../core/errors.js';

export interface OptionRequest {
  /** Symbol without the CONFIG_ prefix. */
  name: string;
  /** 'y', 'm', 'n', a number/hex, or a string (then `string` is true). */
  value: string;
  string: boolean;
  /** Where the request came from (preset name, 'enable', 'disable', 'cmdline', ...), for messages. */
  origin: string;
  /** Applied but not verified (a default that may legitimately be invisible, e.g. INITRAMFS_SOURCE="" without BLK_DEV_INITRD). */
  soft?: boolean;
}

const NAME_RE = /^[A-Za-z0-9_]+$/;

/** Parse one --enable value: NAME, NAME=y|m|n, NAME=123, NAME=0x10, NAME="text" or NAME=text (string). */
export function parseEnable(spec: string, origin = 'enable'): OptionRequest {
  const eq = spec.indexOf('=');
  const rawName = (eq < 0 ? spec : spec.slice(0, eq)).trim().replace(/^CONFIG_/, '');
  if (!NAME_RE.test(rawName))
    throw new UsageError(
      'E_USAGE_KCONFIG_OPTION',
      `bad config option '${spec}' (expected NAME, NAME=y|m|n, NAME=NUMBER or NAME="STRING")`,
      { field: origin, actual: spec },
    );
  if (eq < 0) return { name: rawName, value: 'y', string: false, origin };
  let v = spec.slice(eq + 1);
  if (/^[ymn]$/.test(v) || /^-?\d+$/.test(v) || /^0x[0-9a-fA-F]+$/.test(v))
    return { name: rawName, value: v, string: false, origin };
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
  return { name: rawName, value: v, string: true, origin };
}

export function parseDisable(spec: string, origin = 'disable'): OptionRequest {
  const name = spec.trim().replace(/^CONFIG_/, '');
  if (!NAME_RE.test(name))
    throw new UsageError(
      'E_USAGE_KCONFIG_OPTION',
      `bad config option '${spec}' (expected a symbol name such as EXT4_FS)`,
      { field: origin, actual: spec },
    );
  return { name, value: 'n', string: false, origin };
}

/** Arguments for `scripts/config --file F ...` applying the requests in order. */
export function scriptsConfigArgs(reqs: readonly OptionRequest[]): string[] {
  const a: string[] = [];
  for (const r of reqs) {
    if (r.string) a.push('--set-str', r.name, r.value);
    else if (r.value === 'y') a.push('-e', r.name);
    else if (r.value === 'm') a.push('-m', r.name);
    else if (r.value === 'n') a.push('-d', r.name);
    else a.push('--set-val', r.name, r.value);
  }
  return a;
}

/** Parse a .config: symbol (no prefix) -> value ('y', 'm', number, or unquoted string). "is not set" -> 'n'. */
export function parseDotConfig(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    let r = /^CONFIG_([A-Za-z0-9_]+)=(.*)$/.exec(line);
    if (r) {
      let v = r[2]!;
      if (v.startsWith('"') && v.endsWith('"') && v.length >= 2) v = v.slice(1, -1).replace(/\\(["\\])/g, '$1');
      m.set(r[1]!, v);
      continue;
    }
    r = /^# CONFIG_([A-Za-z0-9_]+) is not set$/.exec(line);
    if (r) m.set(r[1]!, 'n');
  }
  return m;
}

/**
 * Apply requests directly to a .config text (used for busybox, whose tree has
 * no scripts/config). Existing lines for a symbol are replaced; new ones appended.
 */
export function applyToDotConfig(text: string, reqs: readonly OptionRequest[], prefix = 'CONFIG_'): string {
  const lines = text.split('\n');
  for (const r of reqs) {
    const line =
      r.value === 'n'
        ? `# ${prefix}${r.name} is not set`
        : r.string
          ? `${prefix}${r.name}="${r.value.replace(/(["\\])/g, '\\$1')}"`
          : `${prefix}${r.name}=${r.value}`;
    const idx = lines.findIndex((l) => l.startsWith(`${prefix}${r.name}=`) || l === `# ${prefix}${r.name} is not set`);
    if (idx >= 0) lines[idx] = line;
    else lines.splice(lines.length && lines[lines.length - 1] === '' ? lines.length - 1 : lines.length, 0, line);
  }
  return lines.join('\n');
}

export function writeDotConfig(path: string, text: string, reqs: readonly OptionRequest[]): void {
  writeFileSync(path, applyToDotConfig(text, reqs));
}

/** Requests whose value did not end up in the final configuration. */
export function unsatisfied(
  reqs: readonly OptionRequest[],
  config: Map<string, string>,
): Array<OptionRequest & { actual: string }> {
  // The last request for a symbol wins (a user --disable overrides a preset enable).
  const last = new Map<string, OptionRequest>();
  for (const r of reqs) last.set(r.name, r);
  for (const [k, r] of last) if (r.soft) last.delete(k);
  const bad: Array<OptionRequest & { actual: string }> = [];
  for (const r of last.values()) {
    const actual = config.get(r.name) ?? 'n';
    const ok = r.value === 'n' ? actual === 'n' : actual === r.value;
    if (!ok) bad.push({ ...r, actual });
  }
  return bad;
}

export interface SymbolInfo {
  /** Kconfig files (relative) that define the symbol. */
  files: string[];
  /** `depends on` expressions (own lines, enclosing `if` and `menu ... depends on`). */
  dependsOn: string[];
  /** Whether any definition has a prompt (otherwise it can only be selected). */
  hasPrompt: boolean;
  /** Symbols that `select` it. */
  selectedBy: string[];
  /** Part of a `choice` block (only one member can be y). */
  inChoice: boolean;
}

function kconfigFiles(root: string, archDir: string | undefined): string[] {
  const out: string[] = [];
  const walk = (dir: string, rel: string) => {
    let ents;
    try {
      ents = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of ents) {
      const r = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) {
        if (
          rel === '' &&
          (e.name === 'Documentation' || e.name === 'tools' || e.name === 'samples' || e.name === '.git')
        )
          continue;
        if (rel === 'arch' && archDir && e.name !== archDir) continue;
        walk(join(dir, e.name), r);
      } else if (e.isFile() && (e.name.startsWith('Kconfig') || e.name === 'Config.in' || e.name === 'Config.src')) {
        out.push(r);
      }
    }
  };
  walk(root, '');
  return out;
}

export type KconfigDatabase = Map<string, SymbolInfo>;

const emptyInfo = (): SymbolInfo => ({ files: [], dependsOn: [], hasPrompt: false, selectedBy: [], inChoice: false });

/**
 * Parse a Kconfig source tree into symbol -> SymbolInfo. Good enough for
 * messages (not a Kconfig evaluator): collects `depends on` of each entry,
 * of enclosing `if` blocks and `menu`/`choice` dependencies, following
 * `source` statements from the top-level Kconfig (or Config.in) so that
 * conditions of the sourcing file apply (fs/Kconfig's `if BLOCK` around
 * fs/ext4/Kconfig), plus who selects whom.
 */
export function kconfigDatabase(srcTree: string, opts: { arch?: string; scanAll?: boolean } = {}): KconfigDatabase {
  const db: KconfigDatabase = new Map();
  const get = (n: string) => {
    let i = db.get(n);
    if (!i) {
      i = emptyInfo();
      db.set(n, i);
    }
    return i;
  };
  const headRe =
    /^\s*(config|menuconfig|choice|endchoice|menu|endmenu|if|endif|source|rsource|osource|orsource|comment|mainmenu)\b\s*(.*)$/;
  const arch = opts.arch ?? 'x86';
  const seen = new Set<string>();
  const stack: Array<{ kind: 'if' | 'menu' | 'choice'; dep?: string }> = [];

  const expand = (p: string) =>
    p.replace(/\$\((SRCARCH|ARCH|HEADER_ARCH)\)/g, arch).replace(/\$\(KCONFIG_EXT_PREFIX\)/g, '');
  const parseFile = (rel: string) => {
    if (seen.has(rel)) return;
    seen.add(rel);
    let text: string;
    try {
      text = readFileSync(join(srcTree, rel), 'utf8');
    } catch {
      return;
    }
    const raw = text.split('\n');
    const lines: string[] = [];
    for (let i = 0; i < raw.length; i++) {
      let l = raw[i]!;
      while (l.endsWith('\\') && i + 1 < raw.length) l = l.slice(0, -1) + ' ' + raw[++i]!.trim();
      lines.push(l);
    }
    const depth = stack.length;
    let current: SymbolInfo | undefined;
    let currentName = '';
    let entryKind = '';
    let inHelp = false;
    let helpIndent = -1;
    for (const l of lines) {
      if (inHelp) {
        if (l.trim() === '') continue;
        const ind = /^(\s*)/.exec(l)![1]!.replace(/\t/g, '        ').length;
        if (helpIndent < 0) {
          helpIndent = ind;
          continue;
        }
        if (ind >= helpIndent) continue;
        inHelp = false;
      }
      const h = headRe.exec(l);
      if (h) {
        const kw = h[1]!;
        const rest = h[2]!.replace(/#.*$/, '').trim();
        current = undefined;
        entryKind = kw;
        if (kw === 'config' || kw === 'menuconfig') {
          currentName = rest;
          current = get(rest);
          current.files.push(rel);
          for (const st of stack) if (st.dep) current.dependsOn.push(st.dep);
          if (stack.some((st) => st.kind === 'choice')) current.inChoice = true;
        } else if (kw === 'if') stack.push({ kind: 'if', dep: rest });
        else if (kw === 'menu') stack.push({ kind: 'menu' });
        else if (kw === 'choice') stack.push({ kind: 'choice' });
        else if (kw === 'endif' || kw === 'endmenu' || kw === 'endchoice') {
          if (stack.length > depth) stack.pop();
        } else if (kw.endsWith('source')) {
          const m = /^"([^"]+)"|^(\S+)/.exec(rest);
          const target = m ? expand(m[1] ?? m[2]!) : '';
          if (target && !target.includes('*'))
            parseFile(kw === 'rsource' || kw === 'orsource' ? join(dirname(rel), target) : target);
        }
        continue;
      }
      const t = l.trim();
      if (/^(help|---help---)$/.test(t)) {
        inHelp = true;
        helpIndent = -1;
        continue;
      }
      if ((entryKind === 'menu' || entryKind === 'choice') && /^depends on\s/.test(t) && stack.length > depth) {
        const top = stack[stack.length - 1]!;
        const dep = t.slice('depends on'.length).trim().replace(/\s+/g, ' ');
        top.dep = top.dep ? `${top.dep} && ${dep}` : dep;
        continue;
      }
      if (!current) continue;
      if (/^depends on\s/.test(t)) current.dependsOn.push(t.slice('depends on'.length).trim().replace(/\s+/g, ' '));
      else if (/^(bool|tristate|string|int|hex)\s+["']/.test(t) || /^prompt\s/.test(t)) current.hasPrompt = true;
      else {
        const sel = /^select\s+([A-Za-z0-9_]+)/.exec(t);
        if (sel) get(sel[1]!).selectedBy.push(currentName);
      }
    }
    stack.length = Math.min(stack.length, depth);
  };

  const top = ['Kconfig', 'Config.in'].find((f) => existsSync(join(srcTree, f)));
  if (top && !opts.scanAll) parseFile(top);
  else
    for (const rel of kconfigFiles(srcTree, opts.arch)) {
      stack.length = 0;
      parseFile(rel);
    }
  for (const info of db.values()) {
    info.dependsOn = [...new Set(info.dependsOn)];
    info.selectedBy = [...new Set(info.selectedBy)];
  }
  return db;
}

/** One symbol's definitions (see kconfigDatabase). Symbols not reachable from the top file are looked up by scanning every Kconfig file. */
export function describeSymbol(
  srcTree: string,
  name: string,
  opts: { arch?: string; db?: KconfigDatabase } = {},
): SymbolInfo {
  const db = opts.db ?? kconfigDatabase(srcTree, opts);
  let info = db.get(name);
  if (!info || info.files.length === 0) info = kconfigDatabase(srcTree, { ...opts, scanAll: true }).get(name);
  return info ?? emptyInfo();
}

/** Symbols in a dependency expression that are currently n/unset (so the expression is likely false). */
export function unmetSymbols(expr: string, config: Map<string, string>): string[] {
  // Drop quoted strings and comparisons against literals; collect identifiers.
  const ids = expr.replace(/"[^"]*"/g, ' ').match(/[A-Za-z_][A-Za-z0-9_]*/g) ?? [];
  const out: string[] = [];
  for (const id of ids) {
    if (id === 'y' || id === 'm' || id === 'n' || id === 'on' || id === 'if') continue;
    const v = config.get(id) ?? 'n';
    // `!FOO` is unmet when FOO is set.
    const negated = new RegExp(`!\\s*${id}\\b`).test(expr);
    if (negated ? v !== 'n' : v === 'n') out.push(negated ? `!${id} (${id}=${v})` : `${id} (not set)`);
  }
  return [...new Set(out)];
}

/** One human line per unsatisfied request: "EXT4_FS: wanted y, got n; depends on BLOCK — unmet: BLOCK (not set)". */
export function explainUnsatisfied(
  srcTree: string,
  bad: ReadonlyArray<OptionRequest & { actual: string }>,
  config: Map<string, string>,
  opts: { arch?: string } = {},
): Array<{ name: string; wanted: string; actual: string; dependsOn: string[]; unmet: string[]; reason: string }> {
  const db = kconfigDatabase(srcTree, opts);
  return bad.map((r) => {
    const info = describeSymbol(srcTree, r.name, { ...opts, db });
    const unmet = [...new Set(info.dependsOn.flatMap((d) => unmetSymbols(d, config)))].map((u) => {
      // A prompt-less symbol cannot be enabled directly: say what selects it.
      const m = /^([A-Za-z0-9_]+) \(not set\)$/.exec(u);
      const dep = m ? db.get(m[1]!) : undefined;
      if (!dep || dep.hasPrompt || dep.files.length === 0 || dep.selectedBy.length === 0) return u;
      const sel = dep.selectedBy.slice(0, 5).join(', ') + (dep.selectedBy.length > 5 ? ', ...' : '');
      return `${m![1]} (not set; it has no prompt, enable one of: ${sel})`;
    });
    let reason: string;
    if (info.files.length === 0) reason = 'no such symbol in this source tree (misspelt, or removed in this version)';
    else if (r.value === 'n')
      reason = info.selectedBy.length
        ? `it is selected by ${info.selectedBy.filter((s) => (config.get(s) ?? 'n') !== 'n').join(', ') || info.selectedBy.join(', ')}`
        : 'it is forced on by another option';
    else if (unmet.length) reason = `depends on ${info.dependsOn.join(' && ')}; unmet: ${unmet.join(', ')}`;
    else if (!info.hasPrompt)
      reason = `it has no prompt and is only set when selected by ${info.selectedBy.join(', ') || 'another option'}`;
    else if (info.inChoice)
      reason = 'it is a member of a choice; another member is selected (disable it or choose this one explicitly)';
    else if (info.dependsOn.length) reason = `depends on ${info.dependsOn.join(' && ')}`;
    else reason = 'olddefconfig reverted it (check its range/select constraints)';
    return {
      name: r.name,
      wanted: r.string ? `"${r.value}"` : r.value,
      actual: r.actual,
      dependsOn: info.dependsOn,
      unmet,
      reason,
    };
  });
}
