/**
 * fast-check arbitraries shared by the property tests: random file trees with
 * every node type, full metadata, xattrs, holes and hard links.
 */
import fc from 'fast-check';
import { FileTree } from '../../src/core/tree/tree.js';
import { TinyImageError } from '../../src/core/errors.js';

export interface TreeArbOptions {
  /** Characters names are made of (default: ASCII, accents, CJK, emoji, space, dot). */
  alphabet?: string[];
  /** Names that must not appear (default: lost+found, which ext4 owns). */
  reserved?: string[];
  maxEntries?: number;
  maxDepth?: number;
  /** Extended attribute names to draw from ([] for none). */
  xattrNames?: string[];
  /** Node types to generate (default: all). */
  types?: Array<'file' | 'dir' | 'symlink' | 'dev' | 'fifo' | 'socket' | 'link'>;
  /** Largest file (default 40,000 bytes; half of the large ones have 4 KiB zero runs). */
  maxFileSize?: number;
  /** Smallest and largest mtime seconds (default -2^31 .. 2^33). */
  minTime?: number;
  maxTime?: number;
  /** Whole-second mtimes only (formats that keep no nanoseconds: cpio, squashfs). */
  wholeSeconds?: boolean;
}

const DEFAULT_ALPHABET = ['a', 'b', 'Z', '0', 'é', '日', '-', '_', ' ', '😀', '.'];

export function nameArb(o: TreeArbOptions = {}) {
  const reserved = new Set(['.', '..', ...(o.reserved ?? ['lost+found'])]);
  return fc
    .string({ unit: fc.constantFrom(...(o.alphabet ?? DEFAULT_ALPHABET)), minLength: 1, maxLength: 40 })
    .filter((s) => !reserved.has(s));
}

export function dataArb(maxSize = 40000) {
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.tuple(fc.nat({ max: maxSize }), fc.nat({ max: 255 }), fc.boolean()).map(([n, v, zeros]) => {
      const a = new Uint8Array(n);
      for (let i = 0; i < n; i++) a[i] = zeros && (i >> 12) % 2 === 0 ? 0 : (i * 31 + v) & 0xff;
      return a;
    }),
  );
}

/** Random FileTree; entries that collide with earlier ones are dropped. */
export function treeArb(o: TreeArbOptions = {}) {
  const name = nameArb(o);
  const path = fc.array(name, { minLength: 1, maxLength: o.maxDepth ?? 4 }).map((p) => '/' + p.join('/'));
  const time = fc.record({
    sec: fc.integer({ min: o.minTime ?? -(2 ** 31), max: o.maxTime ?? 2 ** 33 }),
    nsec: o.wholeSeconds ? fc.constant(0) : fc.integer({ min: 0, max: 999999999 }),
  });
  const xattrNames = o.xattrNames ?? ['user.a', 'user.bb', 'security.selinux', 'trusted.x', 'security.capability'];
  const meta = fc.record({
    mode: fc.integer({ min: 0, max: 0o7777 }),
    uid: fc.nat({ max: 0xffffffff }),
    gid: fc.nat({ max: 0xffffffff }),
    mtime: time,
    xattrs: xattrNames.length
      ? fc.option(fc.dictionary(fc.constantFrom(...xattrNames), fc.uint8Array({ maxLength: 120 })), { nil: undefined })
      : fc.constant(undefined),
  });
  const target = fc.oneof(
    name,
    fc.string({ minLength: 60, maxLength: 300 }).filter((s) => s.length > 0 && !s.includes('\0')),
  );
  const all = {
    file: {
      weight: 4,
      arbitrary: fc.record({ kind: fc.constant('file' as const), path, meta, data: dataArb(o.maxFileSize) }),
    },
    dir: { weight: 2, arbitrary: fc.record({ kind: fc.constant('dir' as const), path, meta }) },
    symlink: { weight: 1, arbitrary: fc.record({ kind: fc.constant('symlink' as const), path, meta, target }) },
    dev: {
      weight: 1,
      arbitrary: fc.record({
        kind: fc.constant('dev' as const),
        path,
        meta,
        block: fc.boolean(),
        major: fc.nat({ max: 0xfff }),
        minor: fc.nat({ max: 0xfffff }),
      }),
    },
    fifo: { weight: 1, arbitrary: fc.record({ kind: fc.constant('fifo' as const), path, meta }) },
    socket: { weight: 1, arbitrary: fc.record({ kind: fc.constant('socket' as const), path, meta }) },
    link: { weight: 1, arbitrary: fc.record({ kind: fc.constant('link' as const), path, to: fc.nat() }) },
  };
  const kinds = o.types ?? (Object.keys(all) as Array<keyof typeof all>);
  const op = fc.oneof(...kinds.map((k) => all[k]));
  return fc.array(op, { maxLength: o.maxEntries ?? 40 }).map((ops) => {
    const tree = new FileTree({ defaultTime: 1700000000 });
    const made: string[] = [];
    for (const x of ops) {
      try {
        switch (x.kind) {
          case 'file':
            tree.addFile(x.path, x.data, x.meta);
            break;
          case 'dir':
            tree.mkdir(x.path, x.meta);
            break;
          case 'symlink':
            tree.addSymlink(x.path, x.target, x.meta);
            break;
          case 'dev':
            tree.addDevice(x.path, x.block ? 'block' : 'char', x.major, x.minor, x.meta);
            break;
          case 'fifo':
            tree.addFifo(x.path, x.meta);
            break;
          case 'socket':
            tree.addSocket(x.path, x.meta);
            break;
          case 'link': {
            const nonDirs = made.filter((p) => tree.get(p) && tree.get(p)!.type !== 'dir');
            if (!nonDirs.length) continue;
            tree.addHardLink(x.path, nonDirs[x.to % nonDirs.length]!);
            break;
          }
        }
        made.push(x.path);
      } catch (e) {
        if (!(e instanceof TinyImageError)) throw e;
      }
    }
    return tree;
  });
}
