/**
 * The Linux kernel's gen_init_cpio list format (usr/gen_init_cpio.c):
 *
 *   file <name> <location> <mode> <uid> <gid> [<hard links>...]
 *   dir <name> <mode> <uid> <gid>
 *   nod <name> <mode> <uid> <gid> <dev_type: b|c> <maj> <min>
 *   slink <name> <target> <mode> <uid> <gid>
 *   pipe <name> <mode> <uid> <gid>
 *   sock <name> <mode> <uid> <gid>
 *
 * Modes are octal. '#' starts a comment. Device nodes need no root: they are
 * entries in the tree, not host files. `file` locations are resolved through
 * a callback (the host layer reads them), keeping this parser pure.
 */
import { UsageError } from '../errors.js';
import { FileTree, type MetaInput } from './tree.js';
import type { Content } from './types.js';

export interface CpioListOptions {
  /** Resolve a `file` line's <location> to content (host/tree.ts supplies one reading host files). */
  resolve: (location: string, line: number) => Content;
  defaultTime?: number;
  /** Name used in error messages. */
  source?: string;
  tree?: FileTree;
}

export function treeFromCpioList(text: string, opts: CpioListOptions): FileTree {
  const tree = opts.tree ?? new FileTree({ defaultTime: opts.defaultTime ?? 0 });
  const src = opts.source ?? 'list';
  const lines = text.split('\n');
  lines.forEach((raw, idx) => {
    const lineNo = idx + 1;
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) return;
    const f = line.split(/\s+/);
    const kind = f[0]!;
    const bad = (why: string) =>
      new UsageError('E_USAGE_CPIO_LIST', `${src}:${lineNo}: ${why}: ${raw.trim()}`, { path: src, line: lineNo });
    const octal = (s: string | undefined, what: string) => {
      if (s === undefined || !/^[0-7]+$/.test(s)) throw bad(`${what} must be octal`);
      const n = parseInt(s, 8);
      if (n > 0o7777) throw bad(`${what} has bits beyond 07777`);
      return n;
    };
    const dec = (s: string | undefined, what: string, max = 0xffffffff) => {
      if (s === undefined || !/^\d+$/.test(s) || Number(s) > max)
        throw bad(`${what} must be a decimal number up to ${max}`);
      return Number(s);
    };
    const need = (n: number) => {
      if (f.length < n) throw bad(`'${kind}' needs ${n - 1} fields`);
    };
    const meta = (i: number): MetaInput => ({
      mode: octal(f[i], 'mode'),
      uid: dec(f[i + 1], 'uid'),
      gid: dec(f[i + 2], 'gid'),
    });
    try {
      switch (kind) {
        case 'file': {
          need(6);
          const m = meta(3);
          tree.addFile(f[1]!, opts.resolve(f[2]!, lineNo), m, { replace: true });
          for (const alias of f.slice(6)) tree.addHardLink(alias, f[1]!, { replace: true });
          break;
        }
        case 'dir':
          need(5);
          tree.mkdir(f[1]!, meta(2));
          break;
        case 'nod': {
          need(8);
          if (f[5] !== 'b' && f[5] !== 'c') throw bad(`device type must be 'b' or 'c'`);
          tree.addDevice(
            f[1]!,
            f[5] === 'b' ? 'block' : 'char',
            dec(f[6], 'major', 0xfff),
            dec(f[7], 'minor', 0xfffff),
            meta(2),
            { replace: true },
          );
          break;
        }
        case 'slink':
          need(6);
          tree.addSymlink(f[1]!, f[2]!, meta(3), { replace: true });
          break;
        case 'pipe':
          need(5);
          tree.addFifo(f[1]!, meta(2), { replace: true });
          break;
        case 'sock':
          need(5);
          tree.addSocket(f[1]!, meta(2), { replace: true });
          break;
        default:
          throw bad(`unknown entry type '${kind}' (expected file, dir, nod, slink, pipe or sock)`);
      }
    } catch (e) {
      if (e instanceof UsageError && e.code === 'E_USAGE_CPIO_LIST') throw e;
      if (e instanceof Error && 'code' in e) {
        (e as Error).message = `${src}:${lineNo}: ${(e as Error).message}`;
      }
      throw e;
    }
  });
  return tree;
}
