// Regression: the property test found that an empty xattr value in an external
// block (e_value_offs 0, as e2fsprogs and the kernel leave it) was refused by
// our reader although e2fsck and debugfs accept it.
import { expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeExt4, openExt4 } from '../../src/core/fs/ext4/index.js';
import { missing, run } from '../helpers/prereq.js';

it('empty xattr values in an external block read back, and e2fsck agrees the image is clean', async () => {
  const t = new FileTree();
  t.addDevice('/a', 'char', 0, 0, {
    mode: 0,
    xattrs: { 'security.selinux': new Uint8Array(0), 'user.long-name': new Uint8Array(9), 'user.a': new Uint8Array(5) },
  });
  const d = new MemoryDevice(8 << 20);
  await writeExt4(t, d, { type: 'ext4', size: 8 << 20 });
  const back = openExt4(d).tree.get('/a')!;
  expect([...back.xattrs.keys()].sort()).toEqual(['security.selinux', 'user.a', 'user.long-name']);
  expect(back.xattrs.get('security.selinux')!.length).toBe(0);
  if (missing({ tools: ['e2fsck'] })) return;
  const dir = mkdtempSync(join(tmpdir(), 'ti-xa-'));
  try {
    writeFileSync(join(dir, 'img'), d.bytes);
    const r = run('e2fsck', ['-fn', join(dir, 'img')]);
    expect(r.code, r.stdout + r.stderr).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
