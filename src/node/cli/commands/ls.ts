import type { DiskImage } from '../../open.js';
import { isDiskSource, openReadSource } from '../sources.js';
import { joinPath } from '../../../core/tree/path.js';
import { sortedNames } from '../../../core/tree/tree.js';
import { fullMode, type TreeNode } from '../../../core/tree/types.js';
import { defineCommand } from '../command.js';

export function modeString(n: TreeNode): string {
  const t = { file: '-', dir: 'd', symlink: 'l', chardev: 'c', blockdev: 'b', fifo: 'p', socket: 's' }[n.type];
  const m = fullMode(n);
  const rwx = (shift: number, special: number, ch: string) => {
    const r = m & (4 << shift) ? 'r' : '-';
    const w = m & (2 << shift) ? 'w' : '-';
    const x = m & (1 << shift);
    const s = m & special;
    return r + w + (s ? (x ? ch : ch.toUpperCase()) : x ? 'x' : '-');
  };
  return t + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

function when(sec: number): string {
  const d = new Date(sec * 1000);
  return Number.isNaN(d.getTime()) ? '?' : d.toISOString().slice(0, 16).replace('T', ' ');
}

function sizeField(n: TreeNode): string {
  if (n.type === 'file') return String(n.content.size);
  if (n.type === 'chardev' || n.type === 'blockdev') return `${n.major}, ${n.minor}`;
  if (n.type === 'symlink') return String(new TextEncoder().encode(n.target).length);
  return '0';
}

export function entryJson(path: string, n: TreeNode, links: number) {
  return {
    path,
    type: n.type,
    mode: n.mode,
    uid: n.uid,
    gid: n.gid,
    links,
    ...(n.type === 'file' ? { size: n.content.size } : {}),
    ...(n.type === 'symlink' ? { target: n.target } : {}),
    ...(n.type === 'chardev' || n.type === 'blockdev' ? { major: n.major, minor: n.minor } : {}),
    mtime: n.mtime.sec,
    ...(n.xattrs.size ? { xattrs: [...n.xattrs.keys()] } : {}),
  };
}

function listDisk(d: DiskImage): string {
  const lines = [`${d.kind.toUpperCase()} disk, id ${d.table.diskId}, ${d.size} bytes`];
  for (const p of d.partitions) {
    lines.push(
      `  ${p.index}  start ${p.offset}  size ${p.size}  type ${p.type}  partuuid ${p.partuuid}${p.bootable ? '  bootable' : ''}${p.name ? `  name ${JSON.stringify(p.name)}` : ''}  ${p.fs ? p.fs.kind : p.fsError ? `(${p.fsError})` : '(no filesystem)'}`,
    );
  }
  return lines.join('\n');
}

export const command = defineCommand({
  name: 'ls',
  summary: 'list an image, archive, partition or any source (IMAGE[:PART] [PATH])',
  description:
    'List PATH (default /) inside an archive (cpio, tar in any codec), a filesystem image (ext2/3/4, FAT, ' +
    'squashfs, ISO 9660), partition PART of an MBR/GPT disk image (e.g. disk.img:1, also inside qcow2, VHD or VMDK), ' +
    'a directory, a container image (oci:DIR[:TAG], docker-archive:FILE[:REF]) or standard input (-). ' +
    'A disk without :PART lists its partitions.',
  args: {
    image: {
      value: 'IMAGE[:PART]',
      help: 'an image, IMAGE:PART of a disk, a directory, a tar or cpio archive (any codec), -, oci:DIR[:TAG] or docker-archive:FILE[:REF]',
    },
    path: { value: 'PATH', optional: true, help: 'what to list inside it (default /)' },
  },
  options: {
    long: {
      type: 'boolean',
      short: 'l',
      help: 'ls -l columns: mode, links, uid, gid, size or device numbers, mtime UTC, name -> target',
    },
    recursive: { type: 'boolean', short: 'R', help: 'list subdirectories too, with full paths' },
    json: { type: 'boolean', help: 'one JSON array of entries (a JSON object for a disk)' },
  },
  examples: ['tinyimage ls -lR out/disk.img:1 /etc'],
  async run({ values: v, args, ctx }) {
    const img = await openReadSource(args.image, ctx);
    try {
      if (isDiskSource(img)) {
        if (v.json)
          ctx.stdout.write(
            JSON.stringify(
              {
                kind: img.kind,
                diskId: img.table.diskId,
                size: img.size,
                partitions: img.partitions.map(({ fs, ...p }) => ({
                  ...p,
                  attributes: p.attributes?.toString(),
                  fs: fs?.kind,
                })),
              },
              null,
              2,
            ) + '\n',
          );
        else ctx.stdout.write(listDisk(img) + '\n');
        return 0;
      }
      const fs = img;
      for (const w of fs.warnings) ctx.warn(w);
      const start = args.path ?? '/';
      const node = fs.lstat(start);
      const links = fs.tree.linkCounts();
      const out: string[] = [];
      const json: unknown[] = [];
      const line = (path: string, name: string, n: TreeNode) => {
        const nl =
          n.type === 'dir' ? 2 + [...n.children.values()].filter((c) => c.type === 'dir').length : (links.get(n) ?? 1);
        if (v.json) {
          json.push(entryJson(path, n, nl));
          return;
        }
        if (!v.long) {
          out.push(v.recursive ? path : name);
          return;
        }
        out.push(
          `${modeString(n)} ${String(nl).padStart(3)} ${String(n.uid).padStart(5)} ${String(n.gid).padStart(5)} ${sizeField(n).padStart(10)} ${when(n.mtime.sec)} ${v.recursive ? path : name}${n.type === 'symlink' ? ` -> ${n.target}` : ''}`,
        );
      };
      const visit = (path: string, n: TreeNode) => {
        if (n.type !== 'dir') return;
        for (const name of sortedNames(n)) {
          const child = n.children.get(name)!;
          const p = joinPath(path, name);
          line(p, name, child);
          if (v.recursive) visit(p, child);
        }
      };
      const norm =
        '/' +
        start
          .split('/')
          .filter((c) => c && c !== '.')
          .join('/');
      if (node.type === 'dir') visit(norm === '/' ? '/' : norm, node);
      else line(norm, norm.split('/').pop()!, node);
      ctx.stdout.write(v.json ? JSON.stringify(json, null, 2) + '\n' : out.join('\n') + (out.length ? '\n' : ''));
      return 0;
    } finally {
      img.close();
    }
  },
});
