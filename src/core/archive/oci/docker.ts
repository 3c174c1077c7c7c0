/**
 * docker-archive: the tarball `docker save` and `skopeo copy ...
 * docker-archive:` write (manifest.json listing each image's config and
 * layer paths; layers stored as tar members, uncompressed by both tools).
 * The outer tar is read by readTar; each layer is a window of it, so an
 * uncompressed layer needs neither extraction nor spooling.
 */
import { FormatError, UsageError } from '../../errors.js';
import { CODEC_HEAD, detectCodec } from '../../compress/codec.js';
import { readContent } from '../../tree/content.js';
import type { FileTree } from '../../tree/tree.js';
import type { TreeNode } from '../../tree/types.js';
import { TarFileContent, windowSource } from '../tar/content.js';
import type { TarSource } from '../tar/read.js';
import { readTar } from '../tar/tree.js';
import { parseDigest, type Digest } from './digest.js';
import { diffIdsOf, parseJson, type LayerInput } from './image.js';

const MAX_JSON = 4 << 20;
const MAX_HOPS = 8;

function fail(where: string, message: string): FormatError {
  return new FormatError('E_FORMAT_DOCKER_ARCHIVE', `${where}: ${message}`, { path: where });
}

/** A member of the outer archive by path, following symlinks inside it (docker save links identical layers). */
function member(tree: FileTree, path: string, where: string): TreeNode & { type: 'file' } {
  let p = path.replace(/^\.?\/+/, '');
  for (let hop = 0; hop <= MAX_HOPS; hop++) {
    const n = tree.get('/' + p);
    if (!n) throw fail(where, `${JSON.stringify(path)} is not in the archive`);
    if (n.type === 'file') return n;
    if (n.type !== 'symlink') throw fail(where, `${JSON.stringify(path)} is a ${n.type}, not a file`);
    const base = p.split('/').slice(0, -1);
    for (const c of n.target.split('/')) {
      if (c === '..') {
        if (!base.length) throw fail(where, `${JSON.stringify(path)} links outside the archive`);
        base.pop();
      } else if (c && c !== '.') base.push(c);
    }
    if (n.target.startsWith('/')) throw fail(where, `${JSON.stringify(path)} links to an absolute path`);
    p = base.join('/');
  }
  throw fail(where, `${JSON.stringify(path)}: too many symlinks`);
}

async function json(tree: FileTree, path: string, where: string): Promise<unknown> {
  const n = member(tree, path, where);
  if (n.content.size > MAX_JSON) throw fail(where, `${path} is larger than ${MAX_JSON} bytes`);
  try {
    return JSON.parse(new TextDecoder().decode(await readContent(n.content)));
  } catch (e) {
    throw fail(where, `${path} is not valid JSON: ${(e as Error).message}`);
  }
}

/** The layers of one image of a docker-archive tarball (`ref`: "name:tag", "@N" or undefined for the only one). */
export async function dockerArchiveLayers(
  outer: TarSource,
  where: string,
  ref?: string,
): Promise<{ layers: LayerInput[]; config: Record<string, unknown> }> {
  const { tree } = readTar(outer);
  const manifest = await json(tree, 'manifest.json', where);
  if (!Array.isArray(manifest) || manifest.length === 0)
    throw fail(where, 'manifest.json is not a non-empty list of images');
  const tags = manifest.flatMap((m: { RepoTags?: unknown }) => (Array.isArray(m?.RepoTags) ? m.RepoTags : []));
  let img: { Config?: unknown; Layers?: unknown } | undefined;
  if (ref === undefined) {
    if (manifest.length > 1)
      throw new UsageError(
        'E_USAGE_OCI_TAG',
        `${where} holds ${manifest.length} images; name one with :NAME:TAG or :@N (tags: ${tags.join(', ')})`,
        { path: where },
      );
    img = manifest[0];
  } else if (/^@\d+$/.test(ref)) img = manifest[Number(ref.slice(1))];
  else
    img = manifest.find(
      (m: { RepoTags?: unknown }) =>
        Array.isArray(m?.RepoTags) &&
        m.RepoTags.some((t: unknown) => t === ref || (typeof t === 'string' && t.endsWith(`/${ref}`))),
    );
  if (!img)
    throw new UsageError(
      'E_USAGE_OCI_TAG',
      `${where} has no image ${JSON.stringify(ref)} (tags: ${tags.join(', ') || 'none'})`,
      { path: where },
    );
  if (typeof img.Config !== 'string' || !Array.isArray(img.Layers) || !img.Layers.every((l) => typeof l === 'string'))
    throw fail(where, 'manifest.json entry lacks Config or Layers');
  const config = parseJson(
    new TextEncoder().encode(JSON.stringify(await json(tree, img.Config, where))),
    `${where}:${img.Config}`,
  );
  const diffIds = diffIdsOf(config);
  const paths = img.Layers as string[];
  if (diffIds && diffIds.length !== paths.length)
    throw fail(where, `manifest.json lists ${paths.length} layers, the config ${diffIds.length} diff_ids`);
  const layers = paths.map((p, i): LayerInput => {
    const n = member(tree, p, where);
    if (!(n.content instanceof TarFileContent)) throw fail(where, `${p} is not stored as plain data`);
    const win = windowSource(outer, n.content.offset, n.content.size);
    const codec = detectCodec(win.readAt(0, Math.min(CODEC_HEAD, win.size)));
    const stored = /^blobs\/(sha256|sha512)\/([0-9a-f]+)$/.exec(p);
    const digest: Digest | undefined = stored ? parseDigest(`${stored[1]}:${stored[2]}`, `${where}:${p}`) : undefined;
    const content = n.content;
    return {
      name: `layer ${i} (${p} in ${where})`,
      codec,
      size: win.size,
      open: () => content.stream(),
      ...(digest ? { digest } : {}),
      ...(diffIds ? { diffId: diffIds[i]! } : {}),
      ...(codec === 'none' ? { random: win } : {}),
    };
  });
  return { layers, config };
}
