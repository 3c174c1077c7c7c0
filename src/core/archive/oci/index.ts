/** Container images without a daemon: OCI image layouts, docker-archive tarballs, layers with whiteouts. */
export { applyLayer, stackTrees, WHITEOUT_PREFIX, OPAQUE_MARKER, type LayerOptions } from './layer.js';
export {
  ociImageLayers,
  layerCodec,
  diffIdsOf,
  REF_NAME,
  type OciStore,
  type OciImageOptions,
  type LayerInput,
  type Descriptor,
} from './image.js';
export { dockerArchiveLayers } from './docker.js';
export { stackLayers, memorySpool, type Spool, type StackOptions } from './stack.js';
export {
  parseDigest,
  digestString,
  verifyDigest,
  nobleHash,
  type Digest,
  type DigestAlgorithm,
  type Hasher,
  type HashFactory,
} from './digest.js';
