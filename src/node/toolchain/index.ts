/** Toolchain: the only module (with src/qemu) that spawns processes. */
export { run, type RunOptions, type RunResult } from './run.js';
export { buildKernel, kernelRequests, type BuildKernelOptions, type KernelBuildResult } from './kernel.js';
export { buildBusybox, BUSYBOX_LIBC_DISABLE, type BuildBusyboxOptions, type BusyboxBuildResult } from './busybox.js';
export {
  KERNEL_PRESETS,
  BUSYBOX_TINY_ENABLE,
  compressionOptions,
  type KernelPreset,
  type KernelPresetDef,
  type BusyboxPreset,
} from './presets.js';
export { defaultCacheDir } from './cache.js';
export {
  parseDotConfig,
  describeSymbol,
  kconfigDatabase,
  type OptionRequest,
  type SymbolInfo,
  type KconfigDatabase,
} from './kconfig.js';
