/** tinyimage convert IN -o OUT [--format ...]: a disk image between raw and the virtual disk containers. */
import { existsSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { HostIOError } from '../../../core/errors.js';
import { detectContainer } from '../../../core/container/detect.js';
import type { ContainerInfo } from '../../../core/container/types.js';
import type { BlockDevice } from '../../../core/io/device.js';
import { sourceDateEpoch } from '../../../core/tree/transform.js';
import { FileDevice } from '../../io/file.js';
import { defineCommand, OUTPUT_OPTIONS } from '../command.js';
import { CONTAINER_OPTIONS, containerFor, containerWhat } from '../container.js';
import type { CliOutput } from '../output.js';

const CHUNK = 1 << 20;

/** The input: a container's virtual device (its reader loaded when it is one), or the raw file itself. */
async function openInput(
  path: string,
): Promise<{ dev: BlockDevice; container?: ContainerInfo; raw?: FileDevice; close(): void }> {
  const opened: FileDevice[] = [FileDevice.open(path)];
  const close = () => opened.splice(0).forEach((f) => f.close());
  try {
    if (detectContainer(opened[0]!) === undefined) return { dev: opened[0]!, raw: opened[0]!, close };
    const { openContainer } = await import('../../../core/container/open.js');
    const c = openContainer(opened[0]!, {
      resolve: (name) => {
        const p = isAbsolute(name) ? name : join(dirname(path), name);
        if (!existsSync(p)) return undefined;
        const f = FileDevice.open(p);
        opened.push(f);
        return f;
      },
    });
    return c ? { dev: c.device, container: c.info, close } : { dev: opened[0]!, raw: opened[0]!, close };
  } catch (e) {
    close();
    throw e;
  }
}

/** A raw image file from any device: all-zero MiBs stay holes. */
async function writeRaw(out: CliOutput, dev: BlockDevice, sync: boolean): Promise<number> {
  await out.writeFile((tmp) => {
    const f = FileDevice.create(tmp, dev.size);
    try {
      const buf = new Uint8Array(CHUNK);
      for (let off = 0; off < dev.size; off += CHUNK) {
        const piece = buf.subarray(0, Math.min(CHUNK, dev.size - off));
        if (dev.readInto) dev.readInto(off, piece);
        else piece.set(dev.readAt(off, piece.length));
        if (!isZero(piece)) f.writeAt(off, piece);
      }
      if (sync) f.flush();
    } finally {
      f.close();
    }
  });
  return dev.size;
}

function isZero(b: Uint8Array): boolean {
  const n = b.length - (b.length % 8);
  const w = new BigUint64Array(b.buffer, b.byteOffset, n / 8);
  for (let i = 0; i < w.length; i++) if (w[i] !== 0n) return false;
  for (let i = n; i < b.length; i++) if (b[i] !== 0) return false;
  return true;
}

export const command = defineCommand({
  name: 'convert',
  summary: 'convert a disk image between raw, qcow2, VHD, VMDK and Android sparse',
  description:
    'Write the disk that IN holds (a raw image, or one inside a qcow2, VHD, VMDK or Android sparse ' +
    'container) as OUT: raw (holes where the disk is zero) or a container. The format comes from --format ' +
    'or from the name of OUT (.qcow2, .vhd, .vmdk, .simg; any other name is raw). Only the data is read ' +
    'and stored: free space is never written.',
  args: { input: { value: 'IN', help: 'a raw disk or filesystem image, or a container holding one' } },
  options: {
    ...OUTPUT_OPTIONS,
    ...CONTAINER_OPTIONS,
    compress: { type: 'boolean', help: 'qcow2: store clusters deflate-compressed where that saves space' },
    clusterSize: { type: 'size', help: 'qcow2 cluster size, a power of two from 512 to 2M (default 64K)' },
    sync: { type: 'boolean', help: 'fsync the output before renaming it into place' },
  },
  examples: [
    'tinyimage convert disk.img -o disk.qcow2',
    'tinyimage convert disk.img -o disk.vhd --subformat fixed',
    'tinyimage convert disk.qcow2 -o disk.vmdk --subformat streamOptimized',
  ],
  notes: 'SOURCE_DATE_EPOCH sets the VHD timestamp; VHD and VMDK ids derive from the content. See docs/containers.md.',
  async run({ values: v, args, ctx, output, usage }) {
    const c = containerFor(v.output, v, '--format', sourceDateEpoch(ctx.env));
    if (v.compress && c?.format !== 'qcow2') throw usage('--compress is for qcow2 (streamOptimized VMDK always is)');
    if (v.clusterSize !== undefined && c?.format !== 'qcow2') throw usage('--cluster-size is for qcow2');
    const out = output(c?.format ?? 'raw', containerWhat('disk', c));
    if (!existsSync(args.input))
      throw new HostIOError('E_IO_NOT_FOUND', `${args.input}: no such file or directory`, { path: args.input });
    const input = await openInput(args.input);
    try {
      const from = input.container ? input.container.kind : 'raw';
      ctx.log(`${args.input}: ${from}, ${input.dev.size} bytes`);
      let bytes: number;
      let details: Record<string, unknown> = { from, virtualSize: input.dev.size };
      if (!c) bytes = await writeRaw(out, input.dev, v.sync);
      else {
        const { convertToContainerFile } = await import('../../container/file.js');
        const s = await convertToContainerFile(input.raw ? args.input : input.dev, out.path, {
          ...c,
          ...(v.compress ? { compress: true } : {}),
          ...(v.clusterSize !== undefined ? { clusterSize: v.clusterSize } : {}),
          progress: ctx.progress,
          sync: v.sync,
        });
        bytes = s.fileSize;
        details = { ...details, ...s };
      }
      out.done({ bytes, note: `from ${from}`, details });
    } finally {
      input.close();
    }
  },
});
