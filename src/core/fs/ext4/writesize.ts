/**
 * Writer, step two: the size. From the plan's block estimates, find the
 * smallest geometry that holds the tree plus headroom (automatic sizing),
 * or check that a given size holds it, before anything is written.
 */
import { CapacityError, UsageError } from '../../errors.js';
import { geometry, type Geometry } from './layout.js';
import { blockMapBlocks, extentTreeBlocks } from './map.js';
import type { Config } from './options.js';
import type { Plan } from './writeplan.js';
import { EXT_INIT_MAX_LEN } from './structs.js';

/** The smallest filesystem with a journal, and without one, in blocks. */
const MIN_BLOCKS_JOURNAL = 2048;
const MIN_BLOCKS = 64;
/** Free space always added when sizing automatically. */
const MIN_HEADROOM_BYTES = 256 * 1024;
/** Automatic sizes are whole MiB. */
const SIZE_ALIGN_BYTES = 1 << 20;
/** Slack for the first guess's metadata. */
const FIRST_GUESS_SLACK = 64;
const MAX_TRIES = 200;

/** Blocks needed beyond metadata for a geometry: content + journal. */
export function needed(p: Plan, g: Geometry): number {
  const j = g.journalBlocks;
  const jmeta =
    j === 0
      ? 0
      : p.cfg.has('extent')
        ? extentTreeBlocks(Math.ceil(j / EXT_INIT_MAX_LEN) + Math.ceil(j / g.bpg) + 2, g.B)
        : blockMapBlocks(j, j - 1, g.B);
  return g.overhead + p.contentBlocks + j + jmeta;
}

/** Inodes the plan needs, with headroom for auto sizing. */
function inodeNeed(p: Plan, headroom: boolean): number {
  const used = p.usedInodes;
  return headroom ? Math.ceil(used * (1 + p.cfg.headroom / 100)) + 16 : used;
}

/** The smallest geometry (whole MiB) that holds the plan plus cfg.headroom percent. */
export function autoBlocks(p: Plan): Geometry {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  const extra = Math.max(Math.ceil((p.contentBlocks * cfg.headroom) / 100), Math.ceil(MIN_HEADROOM_BYTES / B));
  const minBlocks = cfg.has('has_journal') ? MIN_BLOCKS_JOURNAL : MIN_BLOCKS;
  const align = Math.max(1, SIZE_ALIGN_BYTES / B);
  const inodes = inodeNeed(p, true);
  // first guess: content, headroom and inode tables
  let blocks = Math.max(
    minBlocks,
    p.contentBlocks + extra + Math.ceil((inodes * cfg.inodeSize) / B) + FIRST_GUESS_SLACK,
  );
  for (let i = 0; i < MAX_TRIES; i++) {
    blocks = Math.ceil(blocks / align) * align;
    let g: Geometry;
    try {
      g = geometry(cfg, blocks, inodes);
    } catch (e) {
      if (e instanceof CapacityError) {
        blocks = Math.ceil(blocks * 1.25) + align;
        continue;
      }
      throw e;
    }
    const need = needed(p, g) + extra;
    if (g.blocks >= need) return g;
    blocks = Math.max(blocks + align, need + (blocks - g.blocks));
  }
  throw new CapacityError('E_SPACE_FS', 'could not find a filesystem size for the tree', {});
}

/**
 * The geometry of a `size`-byte filesystem on a `devSize`-byte device:
 * with inode headroom when it fits, the bare need otherwise. Throws
 * CapacityError (naming the bytes needed) when the tree does not fit.
 */
export function fixedGeometry(p: Plan, size: number, devSize: number): Geometry {
  const cfg = p.cfg;
  const B = cfg.blockSize;
  if (size > devSize)
    throw new UsageError('E_USAGE_SIZE', `filesystem size ${size} is larger than the device (${devSize} bytes)`, {
      expected: devSize,
      actual: size,
    });
  let g: Geometry | undefined;
  try {
    g = geometry(cfg, Math.floor(size / B), inodeNeed(p, true));
    if (needed(p, g) > g.blocks) g = undefined;
  } catch {
    g = undefined;
  }
  g ??= geometry(cfg, Math.floor(size / B), inodeNeed(p, false));
  if (cfg.has('has_journal') && g.journalBlocks === 0) {
    throw new CapacityError(
      'E_SPACE_FS',
      `a ${size}-byte filesystem is too small for a journal (needs ${MIN_BLOCKS_JOURNAL} blocks of ${B} bytes); use a larger size or the feature ^has_journal`,
      { actual: size, expected: MIN_BLOCKS_JOURNAL * B },
    );
  }
  const need = needed(p, g);
  if (need > g.blocks) {
    const min = autoBlocks({ ...p, cfg: { ...cfg, headroom: 0 } as Config });
    throw new CapacityError(
      'E_SPACE_FS',
      `the tree needs about ${min.blocks * B} bytes (${need} blocks of ${B}), but the filesystem is ${size} bytes`,
      { expected: min.blocks * B, actual: size },
    );
  }
  return g;
}
