/**
 * Declarative disks from a spec file: `tinyimage build spec.yaml -o DIR`
 * writes DIR/disk.img with the partitions described; the independent tools
 * accept it, different contents give different ids, the same spec and
 * SOURCE_DATE_EPOCH the same bytes.
 */
import { describe, expect, it, afterAll, beforeAll } from 'vitest';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { missing, REPO, run } from '../helpers/prereq.js';
import { tmpDir } from '../helpers/tmp.js';

const skip = missing({
  tools: ['sgdisk', 'sfdisk', 'e2fsck', 'fsck.fat'],
  files: [join(REPO, 'dist/node/cli/main.js')],
});
const t = tmpDir('tinyimage-diskspec-');
afterAll(() => t.cleanup());
const env = { ...process.env, SOURCE_DATE_EPOCH: '1700000000' };
const build = (spec: string, out: string) =>
  run('node', [join(REPO, 'bin/tinyimage.js'), 'build', spec, '-o', out], { env });

function spec(name: string, table: 'gpt' | 'mbr', hostname: string): string {
  const root = t.path(`${name}-root`);
  mkdirSync(join(root, 'etc'), { recursive: true });
  writeFileSync(join(root, 'etc/hostname'), `${hostname}\n`);
  mkdirSync(t.path(`${name}-esp/EFI/BOOT`), { recursive: true });
  writeFileSync(t.path(`${name}-esp/EFI/BOOT/README.TXT`), 'esp\n');
  const file = t.path(`${name}.yaml`);
  writeFileSync(
    file,
    `disk:
  table: ${table}
  size: 96M
  partitions:
    - { type: esp, size: 40M, fs: fat32, root: ${name}-esp/, label: ESP }
    - { type: ${table === 'gpt' ? 'root-x86-64' : 'linux'}, size: rest, fs: ext4, root: ${name}-root/, label: root }
`,
  );
  return file;
}

describe.skipIf(skip)('declarative disk specs', () => {
  let gptA = '';
  beforeAll(() => {
    const r = build(spec('a', 'gpt', 'alpha'), t.path('out-a'));
    expect(r.code, r.stderr).toBe(0);
    gptA = t.path('out-a/disk.img');
  });

  it('GPT: sgdisk -v is clean, each filesystem checks clean, contents are there', () => {
    const v = run('sgdisk', ['-v', gptA]);
    expect(v.stdout).toMatch(/No problems found/);
    const p = JSON.parse(run('sfdisk', ['--json', gptA]).stdout).partitiontable.partitions;
    expect(p).toHaveLength(2);
    expect(p[0].type.toLowerCase()).toBe('c12a7328-f81f-11d2-ba4b-00a0c93ec93b');
    const img = readFileSync(gptA);
    for (const [i, part] of p.entries()) {
      const file = t.path(`a-part${i + 1}`);
      writeFileSync(file, img.subarray(part.start * 512, (part.start + part.size) * 512));
      const check = i === 0 ? run('fsck.fat', ['-n', file]) : run('e2fsck', ['-fn', file]);
      expect(check.code, check.stdout + check.stderr).toBe(0);
    }
    const ls = run('node', [join(REPO, 'bin/tinyimage.js'), 'cat', `${gptA}:2`, '/etc/hostname']);
    expect(ls.stdout).toBe('alpha\n');
    const fat = run('node', [join(REPO, 'bin/tinyimage.js'), 'inspect', '--json', `${gptA}:1`]);
    expect(JSON.parse(fat.stdout).label).toBe('ESP');
  });

  it('MBR: sfdisk --verify is clean', () => {
    const r = build(spec('m', 'mbr', 'mbr'), t.path('out-m'));
    expect(r.code, r.stderr).toBe(0);
    const v = run('sfdisk', ['--verify', t.path('out-m/disk.img')]);
    expect(v.code, v.stdout + v.stderr).toBe(0);
  });

  it('the same spec twice gives the same bytes; other contents other ids', () => {
    const again = build(t.path('a.yaml'), t.path('out-a2'));
    expect(again.code, again.stderr).toBe(0);
    expect(Buffer.compare(readFileSync(gptA), readFileSync(t.path('out-a2/disk.img')))).toBe(0);
    const b = build(spec('b', 'gpt', 'bravo-longer'), t.path('out-b'));
    expect(b.code, b.stderr).toBe(0);
    const ids = (img: string) => {
      const j = JSON.parse(run('sfdisk', ['--json', img]).stdout).partitiontable;
      return [j.id, ...j.partitions.map((p: { uuid: string }) => p.uuid)];
    };
    const [da, ...pa] = ids(gptA);
    const [db, ...pb] = ids(t.path('out-b/disk.img'));
    expect(da).not.toBe(db);
    for (const [i, u] of pa.entries()) expect(u).not.toBe(pb[i]);
  });

  it('a typo in a spec is named with a suggestion', () => {
    const file = t.path('typo.yaml');
    writeFileSync(file, 'disk:\n  table: gpt\n  partitions:\n    - { type: linux, size: 8M, fs: ext4, lable: x }\n');
    const r = build(file, t.path('out-typo'));
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/disk.partitions\[0\].lable: unknown field; did you mean 'label'\?/);
  });
});
