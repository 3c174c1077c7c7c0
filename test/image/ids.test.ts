/**
 * Default identifiers come from the contents: different trees get different
 * filesystem UUIDs, FAT volume ids, disk GUIDs, partition GUIDs and MBR
 * signatures; the same inputs give the same bytes.
 */
import { describe, expect, it } from 'vitest';
import { FileTree } from '../../src/core/tree/tree.js';
import { MemoryDevice } from '../../src/core/io/device.js';
import { writeExt4, openExt4 } from '../../src/core/fs/ext4/index.js';
import { writeFat, openFat } from '../../src/core/fs/fat/index.js';
import { buildDisk, type DiskLayout } from '../../src/core/image/disk.js';
import { treeFingerprint } from '../../src/core/tree/fingerprint.js';

function tree(hostname: string): FileTree {
  const t = new FileTree({ defaultTime: 1_700_000_000 });
  t.addFile('/etc/hostname', `${hostname}\n`);
  t.mkdir('/var/log');
  return t;
}

async function ext4Uuid(t: FileTree): Promise<string> {
  const d = new MemoryDevice(8 << 20);
  await writeExt4(t, d, { label: 'root' });
  return String(openExt4(d).info.uuid);
}

async function fatId(t: FileTree): Promise<number> {
  const d = new MemoryDevice(2 << 20);
  await writeFat(t, d, { type: 'fat12', label: 'ESP' });
  return openFat(d).info.volumeId;
}

const layout = (t: FileTree, table: 'gpt' | 'mbr'): DiskLayout => ({
  table,
  size: 32 << 20,
  partitions: [
    { type: 'esp', fs: 'fat16', size: 16 << 20, tree: tree('esp') },
    { type: 'linux', fs: 'ext4', size: 'rest', tree: t },
  ],
});

describe('identifiers derived from the contents', () => {
  it('the fingerprint sees metadata changes', () => {
    const a = tree('a');
    const b = tree('b'); // same size, different name: same metadata, so one more change below
    expect(treeFingerprint(a)).toBe(treeFingerprint(tree('a')));
    b.addFile('/etc/extra', '');
    expect(treeFingerprint(a)).not.toBe(treeFingerprint(b));
    const c = tree('a');
    c.get('/etc/hostname')!.mode = 0o600;
    expect(treeFingerprint(a)).not.toBe(treeFingerprint(c));
  });

  it('ext4 UUIDs and FAT volume ids differ between trees and repeat for the same tree', async () => {
    const other = tree('a');
    other.addFile('/etc/motd', 'hi\n');
    expect(await ext4Uuid(tree('a'))).toBe(await ext4Uuid(tree('a')));
    expect(await ext4Uuid(tree('a'))).not.toBe(await ext4Uuid(other));
    expect(await fatId(tree('a'))).toBe(await fatId(tree('a')));
    expect(await fatId(tree('a'))).not.toBe(await fatId(other));
  });

  for (const table of ['gpt', 'mbr'] as const) {
    it(`${table}: disk id and partition ids differ between disks with different contents`, async () => {
      const other = tree('a');
      other.addFile('/etc/motd', 'hi\n');
      const a1 = new MemoryDevice(32 << 20);
      const a2 = new MemoryDevice(32 << 20);
      const b = new MemoryDevice(32 << 20);
      const ra = await buildDisk(layout(tree('a'), table), a1);
      await buildDisk(layout(tree('a'), table), a2);
      const rb = await buildDisk(layout(other, table), b);
      expect(Buffer.compare(a1.bytes, a2.bytes)).toBe(0);
      expect(ra.diskId).not.toBe(rb.diskId);
      expect(ra.partitions.map((p) => p.partuuid)).not.toEqual(rb.partitions.map((p) => p.partuuid));
      for (const [i, p] of ra.partitions.entries()) expect(p.partuuid).not.toBe(rb.partitions[i]!.partuuid);
    });
  }
});

describe('buildDisk options are checked', () => {
  it('an option the filesystem does not take is named', async () => {
    const bad = {
      table: 'gpt',
      size: 32 << 20,
      partitions: [{ type: 'linux', fs: 'ext4', size: 'rest', options: { lable: 'x' } }],
    };
    await expect(buildDisk(bad as unknown as DiskLayout, new MemoryDevice(32 << 20))).rejects.toThrow(
      /partition 1: 'lable' is not an option of a ext4 filesystem/,
    );
  });
});
