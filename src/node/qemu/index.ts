export { bootQemu, withRaspiBootFiles, type BootOptions, type BootResult } from './boot.js';
export { detectBootTarget, raspiBootFiles, type BootTarget, type RaspiBootFiles } from './target.js';
export { startQemu, liveQemuCount, PANIC_RE, type QemuSession, type QemuExit, type SessionOptions } from './session.js';
export {
  qemuArgs,
  defaultMemory,
  machineProfile,
  isRaspiMachine,
  raspiSerialPort,
  QEMU_BINARIES,
  type MachineProfile,
  type QemuOptions,
  type DiskOptions,
  type NetOptions,
  type Firmware,
  type Accel,
} from './args.js';
export { chooseAccel, kvmWorks, resolveOvmf, resolveAavmf, requireQemu, DEFAULT_QEMU } from './host.js';
