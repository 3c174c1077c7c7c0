/**
 * The host kernel as an independent reader: attach an image to a loop device
 * (read-only), expose its partitions, mount a filesystem read-only.
 *
 * Loop devices need root and /dev/loop-control. Where they are missing the
 * tests that use them are skipped with the reason (they show up as skipped,
 * never as passed); the partx/blkid-on-file and e2fsck checks still run.
 *
 * This machine's kernel has no partition parsers of its own (no
 * CONFIG_MSDOS_PARTITION / CONFIG_EFI_PARTITION), so `losetup -P` finds no
 * partitions; `partx -a` reads the table with libblkid and adds them through
 * BLKPG. Device nodes are made from sysfs in a private directory: devtmpfs
 * can leave stale /dev/loopNpK nodes whose numbers now mean another device.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { have } from './prereq.js';

let probed: string | null | undefined;

/** Why loop devices cannot be used here, or undefined when they can. */
export function loopUnavailable(): string | undefined {
  if (probed === undefined) {
    probed = null;
    if (process.getuid?.() !== 0) probed = 'loop devices need root';
    else if (!existsSync('/dev/loop-control')) probed = 'no /dev/loop-control';
    else {
      const gone = ['losetup', 'partx', 'mknod', 'mount', 'umount'].filter((t) => !have(t));
      if (gone.length) probed = `missing tool ${gone.join(', ')}`;
    }
    if (probed) console.warn(`skipping host-kernel checks: ${probed}`);
  }
  return probed ?? undefined;
}

function sh(cmd: string, args: string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { status?: number; stderr?: string };
    throw new Error(`${cmd} ${args.join(' ')} failed (${err.status}): ${err.stderr ?? ''}`, { cause: e });
  }
}

export interface Loop {
  /** The whole disk, e.g. /dev/loop3. */
  disk: string;
  /** Partition number → a block device node for it. */
  partitions: Map<number, string>;
}

/**
 * Attach `image` read-only (or, with `writable`, read-write: the kernel
 * needs that to replay a journal, even for a read-only mount) to a free
 * loop device, add its partitions (when `partitions` is set), run `fn` (it
 * may be async), and detach whatever happens.
 */
export async function withLoop<T>(
  image: string,
  fn: (loop: Loop) => Promise<T> | T,
  opts: { partitions?: boolean; writable?: boolean } = {},
): Promise<T> {
  const disk = sh('losetup', ['--show', '-f', ...(opts.writable ? [] : ['-r']), image]).trim();
  const nodes = mkdtempSync(join(tmpdir(), 'tinyimage-loop-'));
  try {
    const partitions = new Map<number, string>();
    if (opts.partitions) {
      // A loop device attached without -P keeps BLKPG partitions after it is
      // detached, so drop any left from an earlier user first. (partx -u would
      // do both, but util-linux 2.38's skips the last logical partition.) A
      // device another test just let go of can still be busy for a moment.
      try {
        sh('partx', ['-d', disk]);
      } catch {
        /* there were none */
      }
      for (let attempt = 1; ; attempt++) {
        try {
          sh('partx', ['-a', disk]);
          break;
        } catch (e) {
          if (attempt === 5) throw e;
          await delay(200 * attempt);
        }
      }
      const name = basename(disk);
      const sys = `/sys/block/${name}`;
      for (const entry of readdirSync(sys)) {
        const m = new RegExp(`^${name}p(\\d+)$`).exec(entry);
        if (!m) continue;
        const [major, minor] = readFileSync(join(sys, entry, 'dev'), 'utf8')
          .trim()
          .split(':');
        const node = join(nodes, `p${m[1]}`);
        sh('mknod', [node, 'b', major!, minor!]);
        partitions.set(Number(m[1]), node);
      }
    }
    return await fn({ disk, partitions });
  } finally {
    rmSync(nodes, { recursive: true, force: true });
    if (opts.partitions)
      try {
        sh('partx', ['-d', disk]);
      } catch {
        /* losetup -d drops them too */
      }
    sh('losetup', ['-d', disk]);
  }
}

/**
 * Mount the block device `device` read-only (or with `options`) as `type`
 * on a fresh directory, run `fn` with that directory, unmount whatever
 * happens. `fn` may be async.
 */
export async function withMount<T>(
  device: string,
  type: string,
  fn: (dir: string) => Promise<T> | T,
  opts: { options?: string } = {},
): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'tinyimage-mnt-'));
  const mnt = join(dir, 'm');
  mkdirSync(mnt);
  sh('mount', ['-t', type, '-o', opts.options ?? 'ro', device, mnt]);
  try {
    return await fn(mnt);
  } finally {
    try {
      sh('umount', [mnt]);
    } catch {
      sh('umount', ['-l', mnt]);
    }
    rmSync(dir, { recursive: true, force: true });
  }
}
