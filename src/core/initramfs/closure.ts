/**
 * Module closure: the modules a list of names needs, in load order. Names
 * resolve by module name first, then by alias pattern (shell globs, as
 * modprobe matches them); `depends` must be present (or built in), softdeps
 * are taken when they resolve.
 */
import { UsageError } from '../errors.js';
import type { ModuleIndex, ModuleInfo } from './modinfo.js';

/** Shell-pattern match as fnmatch(3) without flags: *, ?, [...]. */
export function globMatch(pattern: string, s: string): boolean {
  let rx = globCache.get(pattern);
  if (!rx) {
    if (!/[*?[]/.test(pattern)) return pattern === s;
    rx = globRegExp(pattern);
    if (globCache.size > 100_000) globCache.clear();
    globCache.set(pattern, rx);
  }
  return rx.test(s);
}

const globCache = new Map<string, RegExp>();

function globRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') re += '.*';
    else if (c === '?') re += '.';
    else if (c === '[') {
      const j = pattern.indexOf(']', i + 2);
      if (j < 0) {
        re += '\\[';
        continue;
      }
      let body = pattern.slice(i + 1, j);
      if (body.startsWith('!')) body = '^' + body.slice(1);
      re += `[${body.replace(/\\/g, '\\\\')}]`;
      i = j;
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(re + '$', 's');
}

/** Modules matching a name: the module of that name, else every module with a matching alias. */
export function resolveModule(index: ModuleIndex, nameOrAlias: string): ModuleInfo[] {
  const n = nameOrAlias.replace(/-/g, '_');
  const direct = index.modules.get(n);
  if (direct) return [direct];
  const out: ModuleInfo[] = [];
  for (const m of index.modules.values()) {
    if (m.aliases.some((a) => globMatch(a.replace(/-/g, '_'), n) || globMatch(a, nameOrAlias))) out.push(m);
  }
  return out;
}

export interface ClosureOptions {
  /** Names that may be missing without an error (they may be built in). Default: none. */
  optional?: Iterable<string>;
  /** Called for each name that resolved to nothing and was optional or built in. */
  skipped?: (name: string, why: 'builtin' | 'absent') => void;
}

/**
 * The named modules plus everything they need, in load order (each module
 * after its dependencies and its softdep-pre modules). Softdeps that resolve
 * to nothing are ignored; an unknown named module throws unless optional or
 * built in.
 */
export function moduleClosure(index: ModuleIndex, names: readonly string[], opts: ClosureOptions = {}): ModuleInfo[] {
  const optional = new Set([...(opts.optional ?? [])].map((n) => n.replace(/-/g, '_')));
  const order: ModuleInfo[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (m: ModuleInfo, chain: string[]) => {
    const s = state.get(m.name);
    if (s === 'done' || s === 'visiting') return; // a cycle (softdeps may form one) is broken here
    state.set(m.name, 'visiting');
    for (const d of m.softdepPre) for (const x of resolveModule(index, d)) visit(x, [...chain, m.name]);
    for (const d of m.depends) {
      const found = index.modules.get(d);
      if (found) visit(found, [...chain, m.name]);
      else if (!index.builtin.has(d)) {
        throw new UsageError(
          'E_USAGE_MODULE_DEP',
          `module ${m.name} depends on ${d}, which is not in the modules directory`,
          { path: m.path, actual: d },
        );
      }
    }
    state.set(m.name, 'done');
    order.push(m);
    for (const d of m.softdepPost) for (const x of resolveModule(index, d)) visit(x, [...chain, m.name]);
  };
  for (const raw of names) {
    const found = resolveModule(index, raw);
    const n = raw.replace(/-/g, '_');
    if (found.length === 0) {
      if (index.builtin.has(n)) {
        opts.skipped?.(raw, 'builtin');
        continue;
      }
      if (optional.has(n)) {
        opts.skipped?.(raw, 'absent');
        continue;
      }
      throw new UsageError(
        'E_USAGE_MODULE',
        `kernel module '${raw}' is neither in the modules directory nor built in`,
        { actual: raw },
      );
    }
    for (const m of found) visit(m, []);
  }
  return order;
}

/**
 * The modules of `order` reached from `names` through `depends` alone; the
 * others came in only as soft dependencies (alternatives such as
 * crc32c_intel, which fails to load on CPUs without SSE4.2).
 */
export function hardModules(index: ModuleIndex, names: readonly string[]): Set<string> {
  const hard = new Set<string>();
  const visit = (m: ModuleInfo) => {
    if (hard.has(m.name)) return;
    hard.add(m.name);
    for (const d of m.depends) {
      const x = index.modules.get(d);
      if (x) visit(x);
    }
  };
  for (const n of names) {
    const x = index.modules.get(n.replace(/-/g, '_'));
    if (x) visit(x);
  }
  return hard;
}
