/**
 * Typed errors. Every error the library raises for bad input or a failed
 * external step is a TinyImageError with a stable string `code` and
 * structured `data` (format, structure, field, offset, expected, actual,
 * path, ...). The CLI prints `message` (never a stack) and maps `exitCode`.
 */
export interface ErrorData {
  format?: string;
  structure?: string;
  field?: string;
  offset?: number;
  expected?: unknown;
  actual?: unknown;
  path?: string;
  group?: number;
  [key: string]: unknown;
}

export class TinyImageError extends Error {
  readonly code: string;
  readonly data: ErrorData;
  /** CLI exit code: 2 for bad usage, 1 for everything else. */
  readonly exitCode: number;
  constructor(code: string, message: string, data: ErrorData = {}, options?: { cause?: unknown; exitCode?: number }) {
    super(message, options?.cause !== undefined ? { cause: options.cause } : undefined);
    this.name = new.target.name;
    this.code = code;
    this.data = data;
    this.exitCode = options?.exitCode ?? 1;
  }
}

/** Corrupt or unsupported on-disk data found by a reader. code: E_FORMAT_* */
export class FormatError extends TinyImageError {}
/** Bad arguments, spec or options given by the user. code: E_USAGE_* ; exit code 2. */
export class UsageError extends TinyImageError {
  constructor(code: string, message: string, data: ErrorData = {}, options?: { cause?: unknown }) {
    super(code, message, data, { ...options, exitCode: 2 });
  }
}
/** An invalid path in a tree (.., NUL, component too long, duplicates). code: E_PATH_* */
export class PathError extends TinyImageError {}
/** Content does not fit: filesystem/partition/disk too small, file too large for a format. code: E_SPACE_*, E_LIMIT_* */
export class CapacityError extends TinyImageError {}
/** An external tool (make, gcc, grub-mkimage, qemu) failed or is missing. code: E_TOOL_* */
export class ToolError extends TinyImageError {}
/** Host I/O failure (file missing, permission) wrapped with the path. code: E_IO_* */
export class HostIOError extends TinyImageError {}

/**
 * A reader's error factory: `fail(code, message, data)` makes a FormatError
 * whose message starts with the format's `label` ("qcow2: ...") and whose
 * data names the `format`.
 */
export function formatFailure(
  label: string,
  format: string,
): (code: string, message: string, data?: ErrorData) => FormatError {
  return (code, message, data = {}) => new FormatError(code, `${label}: ${message}`, { format, ...data });
}

export function isTinyImageError(e: unknown): e is TinyImageError {
  return e instanceof TinyImageError;
}
