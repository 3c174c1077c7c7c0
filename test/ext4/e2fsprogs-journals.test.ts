/**
 * e2fsprogs' own journal test images (opt-in:
 * TINYIMAGE_E2FSPROGS_TESTS=/path/to/e2fsprogs/tests, a checkout's tests
 * folder): every j_* and f_jnl_* image.gz there is read by us and by
 * `e2fsck -E journal_only -y` on a copy, and the trees must be equal. Images
 * whose pending fast commits e2fsck applies must instead carry our warning.
 * The images are not in this repository (they are e2fsprogs' test data).
 */
import { copyFileSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'fflate';
import { afterAll, describe, expect, it } from 'vitest';
import { openExt4 } from '../../src/core/fs/ext4/read.js';
import { isTinyImageError } from '../../src/core/errors.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';
import { expectSameTree } from './read-helpers.js';

const dir = process.env.TINYIMAGE_E2FSPROGS_TESTS;
// without the folder, one placeholder case shows up as skipped
const cases = dir
  ? readdirSync(dir).filter((n) => /^(j_|f_jnl)/.test(n) && existsSync(join(dir, n, 'image.gz')))
  : ['(set TINYIMAGE_E2FSPROGS_TESTS)'];
const T = tmpDir('tinyimage-e2fsprogs-');
afterAll(() => T.cleanup());

/** Our volume, or the typed error that refused the image. */
function open(bytes: Uint8Array, replayJournal: boolean) {
  try {
    return openExt4(new MemoryDevice(bytes), { replayJournal });
  } catch (e) {
    if (!isTinyImageError(e)) throw e;
    return e.code;
  }
}

describe.skipIf(!dir)("e2fsprogs' journal test images", () => {
  it.each(cases)('%s: like e2fsck -E journal_only', async (name) => {
    const bytes = gunzipSync(readFileSync(join(dir!, name, 'image.gz')));
    const path = T.path(`${name}.img`);
    writeFileSync(path, bytes);
    copyFileSync(path, `${path}.fsck`);
    run('e2fsck', ['-E', 'journal_only', '-y', `${path}.fsck`]);
    const ours = open(bytes.slice(), true);
    const theirs = open(new Uint8Array(readFileSync(`${path}.fsck`)), false);
    if (typeof ours === 'string' || typeof theirs === 'string') {
      // both refuse (not an ext4 filesystem of ours to read, e.g. an external journal device)
      expect(ours).toBe(theirs);
      return;
    }
    if (ours.warnings.some((w) => w.includes('fast commits for transaction'))) {
      expect(ours.info.recovery).toMatch(/e2fsck needed$/);
      return;
    }
    await expectSameTree(ours.tree, theirs.tree, { skip: [] });
  });
});
