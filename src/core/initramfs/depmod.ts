/**
 * depmod's output without depmod: modules.dep, modules.alias and
 * modules.softdep in its formats, modules.dep.bb for busybox's small
 * modprobe, and a modules directory put together in a tree.
 */
import { UsageError } from '../errors.js';
import type { FileTree } from '../tree/tree.js';
import { fileAt, type ModuleIndex, type ModuleInfo } from './modinfo.js';

/** Transitive dependencies of one module in load order (depends only, as depmod lists them). */
function depOrder(index: ModuleIndex, m: ModuleInfo): ModuleInfo[] {
  const out: ModuleInfo[] = [];
  const seen = new Set<string>([m.name]);
  const visit = (x: ModuleInfo) => {
    for (const d of x.depends) {
      const dm = index.modules.get(d);
      if (!dm || seen.has(dm.name)) continue;
      seen.add(dm.name);
      visit(dm);
      out.push(dm);
    }
  };
  visit(m);
  return out;
}

function sortedModules(index: ModuleIndex, subset?: Iterable<ModuleInfo>): ModuleInfo[] {
  return [...(subset ?? index.modules.values())].sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** modules.dep as depmod writes it: "path: dep dep" with the dependency loaded first listed last. */
export function modulesDep(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  return sortedModules(index, subset)
    .map((m) => {
      const deps = depOrder(index, m)
        .reverse()
        .map((d) => d.path);
      return `${m.path}:${deps.length ? ' ' + deps.join(' ') : ''}\n`;
    })
    .join('');
}

/** modules.alias as depmod writes it: "alias PATTERN module". */
export function modulesAlias(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  const lines: string[] = ['# Aliases extracted from modules themselves.'];
  for (const m of sortedModules(index, subset)) for (const a of m.aliases) lines.push(`alias ${a} ${m.name}`);
  return lines.join('\n') + '\n';
}

/** modules.softdep as depmod writes it. */
export function modulesSoftdep(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  const lines: string[] = ['# Soft dependencies extracted from modules themselves.'];
  for (const m of sortedModules(index, subset)) {
    if (!m.softdepPre.length && !m.softdepPost.length) continue;
    lines.push(
      `softdep ${m.name}${m.softdepPre.length ? ' pre: ' + m.softdepPre.join(' ') : ''}${m.softdepPost.length ? ' post: ' + m.softdepPost.join(' ') : ''}`,
    );
  }
  return lines.join('\n') + '\n';
}

/**
 * modules.dep.bb, the index of busybox's small modprobe (CONFIG_MODPROBE_SMALL,
 * busybox's default): per module a line "path alias alias ..." ('-' as '_'),
 * a line of dependency names, and an empty line when that was not empty.
 */
export function modulesDepBb(index: ModuleIndex, subset?: Iterable<ModuleInfo>): string {
  let out = '';
  for (const m of sortedModules(index, subset)) {
    const aliases = m.aliases.map((a) => a.replace(/-/g, '_')).filter((a) => a !== m.name);
    out += `${m.path}${aliases.length ? ' ' + aliases.join(' ') : ''}\n`;
    const deps = m.depends.join(' ');
    out += deps ? `${deps}\n\n` : '\n';
  }
  return out;
}

export interface AddModulesOptions {
  /** Only these modules (default: all). */
  subset?: Iterable<ModuleInfo>;
  /** Other files of the modules directory to copy when present (modules.builtin, modules.order, ...). */
  source?: FileTree;
}

/** Put modules + modules.dep/alias/softdep/dep.bb under /lib/modules/VERSION of `tree`. */
export function addModules(tree: FileTree, index: ModuleIndex, version: string, opts: AddModulesOptions = {}): void {
  if (!/^[^/\s]+$/.test(version))
    throw new UsageError('E_USAGE_KERNEL_VERSION', `kernel version '${version}' is not a plain directory name`, {
      actual: version,
    });
  const base = `/lib/modules/${version}`;
  const list = sortedModules(index, opts.subset);
  tree.mkdir(base);
  for (const m of list) tree.addFile(`${base}/${m.path}`, m.content, { mode: 0o644 }, { replace: true });
  for (const extra of ['modules.builtin', 'modules.builtin.modinfo', 'modules.order']) {
    const c = opts.source && fileAt(opts.source, '/' + extra);
    if (c) tree.addFile(`${base}/${extra}`, c, { mode: 0o644 }, { replace: true });
  }
  tree.addFile(`${base}/modules.dep`, modulesDep(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.alias`, modulesAlias(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.softdep`, modulesSoftdep(index, list), { mode: 0o644 }, { replace: true });
  tree.addFile(`${base}/modules.dep.bb`, modulesDepBb(index, list), { mode: 0o644 }, { replace: true });
}
