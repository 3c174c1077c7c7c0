export {
  tinyInitramfsTree,
  initramfsChunks,
  overlayTree,
  DEFAULT_INIT,
  WELCOME,
  TINY_DIRS,
  type TinyInitramfsOptions,
  type InitramfsArchiveOptions,
} from './tiny.js';
