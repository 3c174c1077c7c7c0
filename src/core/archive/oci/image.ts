/**
 * OCI image layouts (image-spec v1: oci-layout, index.json, manifests,
 * configs, layers) read through a small store interface, so the same code
 * runs over a host directory, a tar or anything else. JSON documents are
 * bounded, validated and digest-checked before use; layer descriptors become
 * `LayerInput`s for stack.ts.
 */
import { FormatError, UsageError } from '../../errors.js';
import type { Codec } from '../../compress/codec.js';
import type { TarSource } from '../tar/read.js';
import { collect, digestString, parseDigest, verifyDigest, type Digest, type HashFactory } from './digest.js';

/** What an image layout is read through. */
export interface OciStore {
  /** A top-level file of the layout ('oci-layout', 'index.json'), undefined when absent. */
  file(name: string): Promise<Uint8Array | undefined>;
  /** A blob's bytes (unverified), undefined when the layout lacks it. */
  blob(d: Digest): { size: number; stream(): AsyncIterable<Uint8Array> } | undefined;
  /** Optional: random access to a blob (uncompressed layers are then read in place, not spooled). */
  randomBlob?(d: Digest): (TarSource & { close(): void }) | undefined;
}

export interface Descriptor {
  mediaType: string;
  digest: Digest;
  size: number;
  annotations?: Record<string, string>;
  platform?: { os?: string; architecture?: string; variant?: string };
}

export interface LayerInput {
  /** Name in messages (the blob's digest, or its path in an archive). */
  name: string;
  codec: Codec;
  /** The layer's stored bytes; `digest` (of these) and `diffId` (of the uncompressed tar) are checked while reading. */
  open(): AsyncIterable<Uint8Array>;
  size?: number;
  digest?: Digest;
  diffId?: Digest;
  /** Random access to the uncompressed tar when the bytes are stored uncompressed (no spooling needed). */
  random?: TarSource;
  /** Releases `random` (the caller calls it once the tree is no longer read). */
  close?(): void;
}

const MAX_JSON = 4 << 20;
export const REF_NAME = 'org.opencontainers.image.ref.name';

const MEDIA = {
  index: ['application/vnd.oci.image.index.v1+json', 'application/vnd.docker.distribution.manifest.list.v2+json'],
  manifest: ['application/vnd.oci.image.manifest.v1+json', 'application/vnd.docker.distribution.manifest.v2+json'],
};

/** Layer media type -> codec (OCI and Docker spellings, non-distributable variants too). */
export function layerCodec(mediaType: string, where: string): Codec {
  const m =
    /^application\/vnd\.(?:oci\.image\.layer(?:\.nondistributable)?\.v1\.tar(?:\+(gzip|zstd))?|docker\.image\.rootfs(?:\.foreign)?\.diff\.tar(?:\.(gzip))?)$/.exec(
      mediaType,
    );
  if (!m)
    throw new FormatError(
      'E_FORMAT_OCI_MEDIA_TYPE',
      `${where}: layer media type ${JSON.stringify(mediaType)} is not a tar layer this reader knows (tar, tar+gzip, tar+zstd)`,
      { field: 'mediaType', actual: mediaType },
    );
  return (m[1] ?? m[2] ?? 'none') as Codec;
}

export function parseJson(bytes: Uint8Array, what: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new FormatError(
      'E_FORMAT_OCI_JSON',
      `${what} is not valid JSON: ${(e as Error).message}`,
      { path: what },
      { cause: e },
    );
  }
  if (!v || typeof v !== 'object' || Array.isArray(v))
    throw new FormatError('E_FORMAT_OCI_JSON', `${what} is not a JSON object`, { path: what });
  return v as Record<string, unknown>;
}

function descriptor(v: unknown, where: string): Descriptor {
  const o = v as Record<string, unknown> | null;
  if (
    !o ||
    typeof o !== 'object' ||
    typeof o.mediaType !== 'string' ||
    !Number.isSafeInteger(o.size) ||
    (o.size as number) < 0
  ) {
    throw new FormatError('E_FORMAT_OCI_DESCRIPTOR', `${where}: not a descriptor (mediaType, digest, size)`, {
      path: where,
    });
  }
  const d: Descriptor = { mediaType: o.mediaType, digest: parseDigest(o.digest, where), size: o.size as number };
  const strings = (v: unknown) =>
    Object.fromEntries(
      Object.entries(v && typeof v === 'object' ? v : {}).filter(([, x]) => typeof x === 'string'),
    ) as Record<string, string>;
  if (o.annotations && typeof o.annotations === 'object') d.annotations = strings(o.annotations);
  if (o.platform && typeof o.platform === 'object') d.platform = strings(o.platform);
  return d;
}

function list(o: Record<string, unknown>, key: string, where: string): unknown[] {
  const v = o[key];
  if (!Array.isArray(v))
    throw new FormatError('E_FORMAT_OCI_JSON', `${where}: "${key}" is not a list`, { path: where, field: key });
  return v;
}

async function readBlobJson(
  store: OciStore,
  d: Descriptor,
  what: string,
  hash?: HashFactory,
): Promise<Record<string, unknown>> {
  const b = store.blob(d.digest);
  const name = `blob ${digestString(d.digest)} (${what})`;
  if (!b)
    throw new FormatError('E_FORMAT_OCI_MISSING', `${name} is missing from the layout`, {
      path: digestString(d.digest),
    });
  if (d.size > MAX_JSON)
    throw new FormatError(
      'E_FORMAT_OCI_SIZE',
      `${name} claims ${d.size} bytes, more than ${MAX_JSON} for a JSON document`,
      { path: name },
    );
  return parseJson(
    await collect(
      verifyDigest(b.stream(), d.digest, name, { size: d.size, ...(hash ? { hash } : {}) }),
      MAX_JSON,
      name,
    ),
    name,
  );
}

export interface OciImageOptions {
  /** Tag or full reference to select (annotation org.opencontainers.image.ref.name); default: the only image. */
  tag?: string;
  /** Platform for multi-platform indexes, "os/arch[/variant]" (default linux/amd64, or the only one). */
  platform?: string;
  hash?: HashFactory;
}

function pickTagged(ms: Descriptor[], tag: string | undefined, where: string): Descriptor {
  const tags = ms.map((m) => m.annotations?.[REF_NAME]).filter((t): t is string => !!t);
  if (tag === undefined) {
    if (ms.length === 1) return ms[0]!;
    throw new UsageError(
      'E_USAGE_OCI_TAG',
      `${where} holds ${ms.length} images; name one with :TAG (tags: ${tags.join(', ') || 'none'})`,
      { path: where },
    );
  }
  const hit = ms.filter((m) => {
    const r = m.annotations?.[REF_NAME];
    return r === tag || (r !== undefined && r.endsWith(`:${tag}`));
  });
  if (hit.length !== 1)
    throw new UsageError(
      'E_USAGE_OCI_TAG',
      `${where} has ${hit.length ? 'several images' : 'no image'} tagged ${JSON.stringify(tag)} (tags: ${tags.join(', ') || 'none'})`,
      { path: where },
    );
  return hit[0]!;
}

function pickPlatform(ms: Descriptor[], platform: string | undefined, where: string): Descriptor {
  const want = platform ?? 'linux/amd64';
  const name = (m: Descriptor) =>
    [m.platform?.os, m.platform?.architecture, m.platform?.variant].filter(Boolean).join('/');
  const hit = ms.filter((m) => name(m) === want || `${m.platform?.os}/${m.platform?.architecture}` === want);
  if (hit.length >= 1) return hit[0]!;
  if (ms.length === 1 && platform === undefined) return ms[0]!;
  throw new UsageError(
    'E_USAGE_OCI_PLATFORM',
    `${where} has no image for ${want} (platforms: ${ms.map(name).join(', ')})`,
    { path: where },
  );
}

/** The layers of one image in an OCI layout, in order (base first), ready for stackLayers. */
export async function ociImageLayers(
  store: OciStore,
  where: string,
  opts: OciImageOptions = {},
): Promise<{ layers: LayerInput[]; config: Record<string, unknown>; manifest: Descriptor }> {
  const layout = await store.file('oci-layout');
  if (!layout)
    throw new FormatError('E_FORMAT_OCI_LAYOUT', `${where} is not an OCI image layout (no oci-layout file)`, {
      path: where,
    });
  const lv = parseJson(layout, `${where}/oci-layout`).imageLayoutVersion;
  if (typeof lv !== 'string' || !lv.startsWith('1.'))
    throw new FormatError(
      'E_FORMAT_OCI_LAYOUT',
      `${where}/oci-layout: imageLayoutVersion ${JSON.stringify(lv)} is not 1.x`,
      { path: where },
    );
  const indexBytes = await store.file('index.json');
  if (!indexBytes || indexBytes.length > MAX_JSON)
    throw new FormatError('E_FORMAT_OCI_LAYOUT', `${where}/index.json is missing or too large`, { path: where });
  const index = parseJson(indexBytes, `${where}/index.json`);
  let d = pickTagged(
    list(index, 'manifests', `${where}/index.json`).map((m, i) => descriptor(m, `${where}/index.json manifests[${i}]`)),
    opts.tag,
    where,
  );
  for (let depth = 0; MEDIA.index.includes(d.mediaType); depth++) {
    if (depth > 4)
      throw new FormatError('E_FORMAT_OCI_JSON', `${where}: image indexes nested more than 4 deep`, { path: where });
    const inner = await readBlobJson(store, d, 'image index', opts.hash);
    d = pickPlatform(
      list(inner, 'manifests', digestString(d.digest)).map((m, i) =>
        descriptor(m, `${digestString(d.digest)} manifests[${i}]`),
      ),
      opts.platform,
      where,
    );
  }
  if (!MEDIA.manifest.includes(d.mediaType))
    throw new FormatError(
      'E_FORMAT_OCI_MEDIA_TYPE',
      `${where}: ${digestString(d.digest)} has media type ${d.mediaType}, not an image manifest`,
      { path: where },
    );
  const manifest = await readBlobJson(store, d, 'manifest', opts.hash);
  const config = await readBlobJson(store, descriptor(manifest.config, 'manifest config'), 'config', opts.hash);
  const diffIds = diffIdsOf(config);
  const descs = list(manifest, 'layers', digestString(d.digest)).map((l, i) => descriptor(l, `manifest layers[${i}]`));
  if (diffIds && diffIds.length !== descs.length)
    throw new FormatError(
      'E_FORMAT_OCI_JSON',
      `${where}: the manifest lists ${descs.length} layers, the config ${diffIds.length} diff_ids`,
      { path: where },
    );
  const layers: LayerInput[] = [];
  try {
    descs.forEach((l, i) => {
      const b = store.blob(l.digest);
      const name = `layer ${i} (blob ${digestString(l.digest)})`;
      if (!b)
        throw new FormatError('E_FORMAT_OCI_MISSING', `${name} is missing from ${where}`, {
          path: digestString(l.digest),
        });
      const codec = layerCodec(l.mediaType, name);
      const random = codec === 'none' ? store.randomBlob?.(l.digest) : undefined;
      layers.push({
        name,
        codec,
        open: () => b.stream(),
        size: l.size,
        digest: l.digest,
        ...(diffIds ? { diffId: diffIds[i]! } : {}),
        ...(random ? { random, close: () => random.close() } : {}),
      });
    });
  } catch (e) {
    for (const l of layers) l.close?.(); // blobs opened for the layers before the bad one
    throw e;
  }
  return { layers, config, manifest: d };
}

/** config.rootfs.diff_ids (the digests of the uncompressed layer tars), when present. */
export function diffIdsOf(config: Record<string, unknown>): Digest[] | undefined {
  const ids = (config.rootfs as Record<string, unknown> | undefined)?.diff_ids;
  if (ids === undefined) return undefined;
  if (!Array.isArray(ids))
    throw new FormatError('E_FORMAT_OCI_JSON', 'config rootfs.diff_ids is not a list', { field: 'diff_ids' });
  return ids.map((x, i) => parseDigest(x, `config rootfs.diff_ids[${i}]`));
}
