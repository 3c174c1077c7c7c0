/**
 * ISO 9660 writer: FileTree -> BlockDevice, front to back after one
 * planning pass (plan.ts). File contents stream from their Content into a
 * sequential buffer (read straight into it when the content can), holes of
 * sparse contents are left unwritten, and only boot images that get a boot
 * info table are held in memory (they are small).
 */
import { CapacityError, HostIOError } from '../../errors.js';
import { SubDevice, type BlockDevice } from '../../io/device.js';
import { SequentialWriter } from '../../io/sequential.js';
import { silentProgress } from '../../progress.js';
import type { FileTree } from '../../tree/tree.js';
import { readContent } from '../../tree/content.js';
import type { Content } from '../../tree/types.js';
import { encodeVolumeDate, unspecifiedVolumeDate } from './dates.js';
import { bootCatalog, bootRecordDescriptor, patchBootImage } from './eltorito.js';
import type { IsoDir } from './hierarchy.js';
import { writeHybrid } from './hybrid.js';
import { identifierBytes } from './names.js';
import type { IsoOptions, IsoPlanHandle, IsoSummary } from './options.js';
import { idLen, pathOf, prepare, type Prepared } from './plan.js';
import { directoryExtent } from './records.js';
import {
  BLOCK,
  both,
  DIR_RECORD,
  FLAG_DIRECTORY,
  JOLIET_ESCAPES,
  PATH_RECORD_BE,
  PATH_RECORD_LE,
  STANDARD_ID,
  VD_PRIMARY,
  VD_SUPPLEMENTARY,
  VD_TERMINATOR,
  VOLUME_DESCRIPTOR,
} from './structs.js';
import { CeAllocator } from './susp.js';
import { encodeRecordDate } from './dates.js';

/** Boot images are patched in memory; none is larger than this. */
const MAX_PATCHED_IMAGE = 32 << 20;

/** Plan `tree` once (warnings go to opts.warn now); pass it as opts.plan to writeIso9660. */
export function planIso9660(tree: FileTree, opts: IsoOptions = {}): IsoPlanHandle {
  const p = prepare(tree, opts);
  return { size: p.size, prepared: p };
}

/** Bytes the image of `tree` needs (the device size for writeIso9660). */
export function iso9660Size(tree: FileTree, opts: IsoOptions = {}): number {
  return (opts.plan ?? planIso9660(tree, { ...opts, warn: () => {} })).size;
}

function preparedFor(tree: FileTree, opts: IsoOptions): Prepared {
  const p = opts.plan?.prepared as Prepared | undefined;
  return p && p.tree === tree ? p : prepare(tree, opts);
}

/** Text of a descriptor field: ASCII padded with spaces, or UCS-2 big-endian padded with U+0020. */
function text(s: string, bytes: number, joliet: boolean): Uint8Array {
  const out = new Uint8Array(bytes);
  if (!joliet) {
    out.fill(0x20);
    for (let i = 0; i < Math.min(s.length, bytes); i++) out[i] = s.charCodeAt(i);
    return out;
  }
  for (let i = 0; i + 1 < bytes; i += 2) out[i + 1] = 0x20;
  const id = identifierBytes(s.slice(0, bytes >> 1), true);
  out.set(id.subarray(0, bytes - (bytes % 2)));
  return out;
}

function rootRecord(d: IsoDir, seconds: number): Uint8Array {
  const r = new Uint8Array(34);
  DIR_RECORD.encode(
    {
      length: 34,
      ...both('extent', d.extent),
      ...both('dataLength', d.size),
      flags: FLAG_DIRECTORY,
      ...both('volumeSeq', 1),
      nameLength: 1,
    },
    r,
  );
  encodeRecordDate(seconds, r, DIR_RECORD.offsetOf('date'));
  return r;
}

/** The primary descriptor, or the Joliet supplementary one. */
function volumeDescriptor(p: Prepared, joliet: boolean): Uint8Array {
  const dirs = joliet ? p.jolietDirs : p.iso.dirs;
  const pt = joliet ? p.blocks.jolietPath : p.blocks.isoPath;
  const t = p.texts;
  const escapes = new Uint8Array(32);
  if (joliet) escapes.set(new TextEncoder().encode(JOLIET_ESCAPES[2]));
  const created = encodeVolumeDate(p.epoch);
  return VOLUME_DESCRIPTOR.encode({
    type: joliet ? VD_SUPPLEMENTARY : VD_PRIMARY,
    id: new TextEncoder().encode(STANDARD_ID),
    version: 1,
    systemId: text(t.system, 32, joliet),
    volumeId: text(p.label, 32, joliet),
    ...both('volumeSpaceSize', p.volumeBlocks),
    escapes,
    ...both('volumeSetSize', 1),
    ...both('volumeSeq', 1),
    ...both('blockSize', BLOCK),
    ...both('pathTableSize', pt.size),
    lPathTable: pt.l,
    mPathTable: pt.m,
    rootRecord: rootRecord(dirs[0]!, p.ctx.seconds(p.tree.root.mtime)),
    volumeSetId: text(t.volumeSet, 128, joliet),
    publisherId: text(t.publisher, 128, joliet),
    preparerId: text(t.preparer, 128, joliet),
    applicationId: text(t.application, 128, joliet),
    copyrightFileId: text('', 37, joliet),
    abstractFileId: text('', 37, joliet),
    bibliographicFileId: text('', 37, joliet),
    created,
    modified: created,
    expires: unspecifiedVolumeDate(),
    effective: created,
    fileStructureVersion: 1,
  });
}

function terminator(): Uint8Array {
  return VOLUME_DESCRIPTOR.encode({ type: VD_TERMINATOR, id: new TextEncoder().encode(STANDARD_ID), version: 1 });
}

/** One path table (L: little-endian, M: big-endian), padded to whole blocks. */
function pathTable(dirs: IsoDir[], size: number, joliet: boolean, little: boolean): Uint8Array {
  const out = new Uint8Array(Math.ceil(size / BLOCK) * BLOCK);
  const rec = little ? PATH_RECORD_LE : PATH_RECORD_BE;
  let o = 0;
  for (const d of dirs) {
    const root = d.parent === d;
    const len = idLen(d, joliet);
    rec.encode({ nameLength: len, extAttrLength: 0, extent: d.extent, parent: d.parent.number }, out, o);
    if (!root) out.set(identifierBytes(d.id, joliet), o + rec.size);
    o += rec.size + len + (len % 2);
  }
  return out;
}

/** Descriptors, boot catalog, path tables, directories and continuation areas. */
function writeMetadata(p: Prepared, dev: BlockDevice): void {
  const bl = p.blocks;
  dev.writeAt(bl.pvd * BLOCK, volumeDescriptor(p, false));
  if (bl.bootRecord >= 0) dev.writeAt(bl.bootRecord * BLOCK, bootRecordDescriptor(bl.catalog));
  if (bl.svd >= 0) dev.writeAt(bl.svd * BLOCK, volumeDescriptor(p, true));
  dev.writeAt(bl.terminator * BLOCK, terminator());
  if (bl.catalog >= 0)
    dev.writeAt(
      bl.catalog * BLOCK,
      bootCatalog(p.boot.map((b) => ({ platform: b.entry.platform, block: b.block, sectors: b.sectors }))),
    );
  for (const [dirs, pt, joliet] of [
    [p.iso.dirs, bl.isoPath, false],
    [p.jolietDirs, bl.jolietPath, true],
  ] as const) {
    if (!pt.size) continue;
    dev.writeAt(pt.l * BLOCK, pathTable(dirs, pt.size, joliet, true));
    dev.writeAt(pt.m * BLOCK, pathTable(dirs, pt.size, joliet, false));
  }
  const ce = new CeAllocator(bl.ce);
  const ceBytes = new Uint8Array(bl.ceCount * BLOCK);
  for (const [dirs, joliet] of [
    [p.iso.dirs, false],
    [p.jolietDirs, true],
  ] as const) {
    for (const d of dirs) {
      const bytes = new Uint8Array(d.size);
      const r = directoryExtent(d, p.ctx, ce, joliet, bytes);
      dev.writeAt(d.extent * BLOCK, bytes);
      for (const a of r.areas) ceBytes.set(a.bytes!, (a.block - bl.ce) * BLOCK + a.offset);
    }
  }
  if (ceBytes.length) dev.writeAt(bl.ce * BLOCK, ceBytes);
}

function sizeChanged(where: string | (() => string), c: Content, got: number): HostIOError {
  const path = typeof where === 'string' ? where : where();
  return new HostIOError(
    'E_IO_SIZE_CHANGED',
    `${path}: content has ${got > c.size ? 'more than' : 'only'} ${got} bytes, ${c.size} were declared ` +
      '(did the file change while being read?)',
    { path, expected: c.size, actual: got },
  );
}

/** Copy one content to `off`: read into the output buffer, skipping holes when the content lists its data. */
async function copyContent(
  out: SequentialWriter,
  off: number,
  c: Content,
  path: string | (() => string),
): Promise<void> {
  const n = c.size;
  const ranges = c.dataRanges?.() ?? [[0, n] as [number, number]];
  if (c.readInto) {
    for (const [s, e] of ranges) {
      for (let pos = s; pos < e;) {
        const len = Math.min(e - pos, out.maxReserve);
        const got = c.readInto(pos, out.reserve(off + pos, len));
        if (got !== len) throw sizeChanged(path, c, pos + got);
        pos += len;
      }
    }
    return;
  }
  if (c.readAt && ranges.length !== 1) {
    for (const [s, e] of ranges)
      for (let pos = s; pos < e; pos += 1 << 20) out.write(off + pos, c.readAt(pos, Math.min(1 << 20, e - pos)));
    return;
  }
  let done = 0;
  for await (const chunk of c.stream()) {
    if (done + chunk.length > n) throw sizeChanged(path, c, done + chunk.length);
    out.write(off + done, chunk);
    done += chunk.length;
  }
  if (done !== n) throw sizeChanged(path, c, done);
}

/** A boot image read whole, patched, written. */
async function writePatched(out: SequentialWriter, p: Prepared, c: Content, block: number, where: () => string) {
  const b = p.boot.find((x) => x.content === c && x.block === block)!;
  if (c.size > MAX_PATCHED_IMAGE)
    throw new CapacityError('E_LIMIT_ISO_BOOT_IMAGE', `${where()}: a boot image to patch is at most 32 MiB`, {
      path: where(),
      actual: c.size,
    });
  const img = (await readContent(c)).slice();
  patchBootImage(img, {
    pvdBlock: p.blocks.pvd,
    block,
    bootInfoTable: b.entry.bootInfoTable,
    grub2BootInfo: b.entry.grub2BootInfo,
  });
  out.write(block * BLOCK, img);
}

async function writeData(p: Prepared, dev: BlockDevice, opts: IsoOptions): Promise<void> {
  const progress = opts.progress ?? silentProgress;
  const out = new SequentialWriter(dev);
  const patched = new Set(p.boot.filter((b) => b.entry.bootInfoTable || b.entry.grub2BootInfo).map((b) => b.content));
  const hidden = p.boot.filter((b) => b.content && typeof b.entry.image === 'object' && 'content' in b.entry.image);
  for (const b of hidden) {
    if (patched.has(b.content)) await writePatched(out, p, b.content!, b.block, () => '(boot image)');
    else await copyContent(out, b.block * BLOCK, b.content!, '(boot image)');
  }
  progress.start('writing iso9660', p.bytes, 'bytes');
  for (const f of p.files) {
    const c = f.node.content;
    if (c.size === 0) continue;
    const where = () => pathOf(p.tree, f.node);
    if (patched.has(c)) await writePatched(out, p, c, f.extent, where);
    else await copyContent(out, f.extent * BLOCK, c, where);
    progress.tick(c.size);
  }
  out.flush();
  progress.done();
}

/**
 * Write `tree` as an ISO 9660 image onto `dev` (at least iso9660Size()
 * bytes; a fresh, zeroed device: unwritten ranges are left alone).
 */
export async function writeIso9660(tree: FileTree, dev: BlockDevice, opts: IsoOptions = {}): Promise<IsoSummary> {
  const p = preparedFor(tree, opts);
  if (dev.size < p.size)
    throw new CapacityError('E_SPACE_ISO_DEVICE', `the image needs ${p.size} bytes, the device has ${dev.size}`, {
      expected: p.size,
      actual: dev.size,
    });
  writeMetadata(p, dev);
  await writeData(p, dev, opts);
  for (const a of p.appended) await a.part.write(new SubDevice(dev, a.offset, a.part.size));
  if (p.hybrid) writeHybrid(p, dev.size === p.size ? dev : new SubDevice(dev, 0, p.size));
  dev.flush();
  return summary(p);
}

function summary(p: Prepared): IsoSummary {
  const countFiles = p.files.length;
  return {
    size: p.size,
    volumeBlocks: p.volumeBlocks,
    label: p.label,
    level: p.level,
    rockRidge: p.rockRidge,
    joliet: p.joliet > 0,
    files: countFiles,
    dirs: p.iso.dirs.length - (p.iso.relocated ? 1 : 0),
    bytes: p.bytes,
    relocated: p.iso.relocated,
    multiExtent: p.files.filter((f) => f.node.content.size > 0xfffff800).length,
    boot: p.boot.map((b) => ({ platform: b.entry.platform, block: b.block, sectors: b.sectors })),
    appended: p.appended.map((a) => ({ offset: a.offset, size: a.part.size })),
  };
}
