export { bootQemu, type BootOptions, type BootResult } from './boot.js';
export { startQemu, liveQemuCount, PANIC_RE, type QemuSession, type QemuExit, type SessionOptions } from './session.js';
export {
  qemuArgs,
  defaultMemory,
  type QemuOptions,
  type DiskOptions,
  type NetOptions,
  type Firmware,
  type Accel,
} from './args.js';
export { chooseAccel, kvmWorks, resolveOvmf, requireQemu, DEFAULT_QEMU } from './host.js';
