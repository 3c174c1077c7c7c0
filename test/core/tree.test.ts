import { describe, expect, it } from 'vitest';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync, linkSync, chmodSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileTree } from '../../src/core/tree/tree.js';
import { readContent } from '../../src/core/tree/content.js';
import { treeFromCpioList } from '../../src/core/tree/cpiolist.js';
import { clampTimes, squashOwner, sourceDateEpoch } from '../../src/core/tree/transform.js';
import { treeFromHostDir, treeFromCpioListFile } from '../../src/node/host/tree.js';
import { decodeDev, encodeDev, fullMode } from '../../src/core/tree/types.js';
import { bytesContent } from '../../src/core/tree/content.js';

describe('FileTree', () => {
  it('builds every entry type programmatically and walks in byte order', () => {
    const t = new FileTree({ defaultTime: 100 });
    t.addFile('/etc/inittab', '::sysinit:/etc/init.d/rcS\n', { mode: 0o644 });
    t.addFile('/bin/busybox', new Uint8Array([0x7f, 0x45]), { mode: 0o4755 });
    t.addSymlink('/bin/sh', 'busybox');
    t.addHardLink('/bin/bb', '/bin/busybox');
    t.addDevice('/dev/console', 'char', 5, 1);
    t.addFifo('/run/fifo');
    t.addSocket('/run/sock');
    t.mkdir('/tmp', { mode: 0o1777 });
    const paths = [...t.walk()].map((e) => e.path);
    expect(paths).toEqual([
      '/',
      '/bin',
      '/bin/bb',
      '/bin/busybox',
      '/bin/sh',
      '/dev',
      '/dev/console',
      '/etc',
      '/etc/inittab',
      '/run',
      '/run/fifo',
      '/run/sock',
      '/tmp',
    ]);
    expect(t.get('/bin/bb')).toBe(t.get('/bin/busybox'));
    expect(t.linkCounts().get(t.get('/bin/busybox')!)).toBe(2);
    expect(fullMode(t.get('/tmp')!)).toBe(0o41777);
    expect(t.get('/etc')!.mtime).toEqual({ sec: 100, nsec: 0 });
    expect(t.stats()).toMatchObject({ files: 2, bytes: 2 + 26 });
  });

  it('rejects bad paths with errors that name them', () => {
    const t = new FileTree();
    expect(() => t.addFile('/a/../b', 'x')).toThrow(
      expect.objectContaining({ code: 'E_PATH_DOTDOT', data: expect.objectContaining({ path: '/a/../b' }) }),
    );
    expect(() => t.addFile('/a\0b', 'x')).toThrow(expect.objectContaining({ code: 'E_PATH_NUL' }));
    expect(() => t.addFile('/' + 'é'.repeat(128), 'x')).toThrow(
      expect.objectContaining({ code: 'E_PATH_NAME_TOO_LONG' }),
    );
    t.addFile('/' + 'é'.repeat(127), 'x'); // 254 bytes: fine
    t.addFile('/f', 'x');
    expect(() => t.addFile('/f', 'y')).toThrow(expect.objectContaining({ code: 'E_PATH_EXISTS' }));
    expect(() => t.mkdir('/f/g')).toThrow(expect.objectContaining({ code: 'E_PATH_NOT_DIR' }));
    expect(() => t.addHardLink('/d', '/')).toThrow(expect.objectContaining({ code: 'E_PATH_DIR_LINK' }));
  });

  it('squashes owners and clamps times to SOURCE_DATE_EPOCH', () => {
    const t = new FileTree();
    t.addFile('/a', 'x', { uid: 1000, gid: 1000, mtime: { sec: 2000, nsec: 5 } });
    t.addFile('/b', 'x', { mtime: 10 });
    squashOwner(t);
    clampTimes(t, 1000);
    expect(t.get('/a')).toMatchObject({ uid: 0, gid: 0, mtime: { sec: 1000, nsec: 0 } });
    expect(t.get('/b')!.mtime).toEqual({ sec: 10, nsec: 0 });
    expect(sourceDateEpoch({ SOURCE_DATE_EPOCH: '42' })).toBe(42);
    expect(sourceDateEpoch({})).toBeUndefined();
    expect(() => sourceDateEpoch({ SOURCE_DATE_EPOCH: 'yesterday' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE_SOURCE_DATE_EPOCH' }),
    );
  });

  it('dev_t encoding round-trips', () => {
    for (const [ma, mi] of [
      [5, 1],
      [259, 3],
      [8, 300],
      [4095, 1048575],
    ] as const)
      expect(decodeDev(encodeDev(ma, mi))).toEqual({ major: ma, minor: mi });
  });
});

describe('gen_init_cpio lists', () => {
  it('parses every line type, so device nodes need no root', async () => {
    const t = treeFromCpioList(
      [
        '# comment',
        'dir /dev 755 0 0',
        'nod /dev/console 600 0 0 c 5 1',
        'nod /dev/sda 660 0 6 b 8 0',
        'file /init init.sh 755 0 0 /linuxrc',
        'slink /bin/sh busybox 777 0 0',
        'pipe /run/p 644 0 0',
        'sock /run/s 644 0 0',
      ].join('\n'),
      { resolve: (loc) => bytesContent(`content of ${loc}`) },
    );
    expect(t.get('/dev/console')).toMatchObject({ type: 'chardev', major: 5, minor: 1, mode: 0o600 });
    expect(t.get('/dev/sda')).toMatchObject({ type: 'blockdev', major: 8, minor: 0, gid: 6 });
    expect(t.get('/linuxrc')).toBe(t.get('/init'));
    expect(new TextDecoder().decode(await readContent((t.get('/init') as unknown as { content: never }).content))).toBe(
      'content of init.sh',
    );
    expect(t.get('/run/p')!.type).toBe('fifo');
    expect(t.get('/run/s')!.type).toBe('socket');
  });
  it('reports the line of a bad entry', () => {
    expect(() =>
      treeFromCpioList('dir /a 755 0 0\nnod /dev/x 600 0 0 q 1 1\n', {
        resolve: () => bytesContent(''),
        source: 'my.list',
      }),
    ).toThrow(/my.list:2: device type/);
    expect(() => treeFromCpioList('dir /a 9z9 0 0', { resolve: () => bytesContent('') })).toThrow(/mode must be octal/);
    expect(() => treeFromCpioList('bogus /a', { resolve: () => bytesContent('') })).toThrow(
      /unknown entry type 'bogus'/,
    );
  });
});

describe('host directory builder', () => {
  it('reads types, modes, hard links and lazy contents', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ti-tree-'));
    try {
      mkdirSync(join(dir, 'etc'));
      writeFileSync(join(dir, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
      chmodSync(join(dir, 'etc/passwd'), 0o600);
      linkSync(join(dir, 'etc/passwd'), join(dir, 'hard'));
      symlinkSync('etc/passwd', join(dir, 'link'));
      const t = treeFromHostDir(dir);
      expect(t.get('/hard')).toBe(t.get('/etc/passwd'));
      expect(t.get('/etc/passwd')!.mode).toBe(0o600);
      expect(t.get('/link')).toMatchObject({ type: 'symlink', target: 'etc/passwd' });
      const node = t.get('/etc/passwd');
      if (node?.type !== 'file') throw new Error('not a file');
      expect(new TextDecoder().decode(await readContent(node.content))).toMatch(/^root:/);
      const sub = treeFromHostDir(dir, { prefix: '/sysroot' });
      expect(sub.get('/sysroot/etc/passwd')?.type).toBe('file');

      // overlaying onto an existing tree: an existing name is an error unless replace is asked for
      const base = new FileTree();
      base.addFile('/etc/passwd', 'old');
      expect(() => treeFromHostDir(dir, { tree: base })).toThrow(
        expect.objectContaining({ code: 'E_PATH_EXISTS', data: { path: '/etc/passwd' } }),
      );
      const over = new FileTree();
      over.addFile('/etc/passwd', 'old');
      over.addFile('/etc/group', 'kept');
      treeFromHostDir(dir, { tree: over, replace: true });
      expect((over.get('/etc/passwd') as { content: { size: number } }).content.size).toBeGreaterThan(3);
      expect(over.get('/etc/group')?.type).toBe('file');
      expect(over.get('/hard')).toBe(over.get('/etc/passwd'));

      writeFileSync(join(dir, 'list'), 'file /x etc/passwd 644 0 0\nfile /y missing 644 0 0\n');
      expect(() => treeFromCpioListFile(join(dir, 'list'))).toThrow(expect.objectContaining({ code: 'E_IO_ENOENT' }));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
