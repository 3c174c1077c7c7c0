/** The documented CI use: `tinyimage diff DIR IMAGE` passes for images made from DIR. */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const BIN = join(REPO, 'bin/tinyimage.js');
const skip = missing({ files: [join(REPO, 'dist/node/cli/main.js')] });
const t = tmpDir('tinyimage-diffcli-');
afterAll(() => t.cleanup());
const cli = (...args: string[]) => run('node', [BIN, ...args]);

describe.skipIf(skip)('tinyimage diff DIR IMAGE', () => {
  const root = t.path('rootfs');
  beforeAll(() => {
    mkdirSync(join(root, 'etc'), { recursive: true });
    mkdirSync(join(root, 'var/log'), { recursive: true });
    writeFileSync(join(root, 'etc/hostname'), 'tiny\n');
    writeFileSync(join(root, 'var/log/boot.log'), 'booted\n');
    symlinkSync('hostname', join(root, 'etc/name'));
  });

  for (const [what, args, out] of [
    ['ext4', ['mkfs', 'ext4', '--root', root, '-o'], 'root.ext4'],
    ['cpio.gz', ['cpio', '--root', root, '-o'], 'root.cpio.gz'],
  ] as const) {
    it(`exits 0 for ${what} made from DIR, and 1 with the difference when DIR changes`, () => {
      const img = t.path(out);
      expect(cli(...args, img).code).toBe(0);
      const same = cli('diff', root, img);
      expect(same.code, same.stdout + same.stderr).toBe(0);
      expect(same.stdout).toBe('');
      writeFileSync(join(root, 'etc/new'), 'x');
      const changed = cli('diff', root, img);
      expect(changed.code).toBe(1);
      expect(changed.stdout).toContain('- /etc/new');
      expect(cli('diff', root, img, '--ignore', '/etc/new').code).toBe(0);
      expect(cli('diff', root, img, '--ignore', '/etc/n*').code).toBe(0);
      run('rm', [join(root, 'etc/new')]);
    });
  }

  it('--owned-entries shows lost+found; --ignore-field rejects unknown fields', () => {
    const img = t.path('root.ext4');
    expect(cli('diff', root, img, '--owned-entries').stdout).toContain('+ /lost+found');
    const bad = cli('diff', root, img, '--ignore-field', 'colour');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/unknown field 'colour'/);
  });
});
