/** Numbers, sizes and owners as users write them (CLI options, spec fields), parsed in one place. */
import { UsageError } from './errors.js';

/** Parse "UID:GID" (decimal, 32-bit). */
export function parseOwner(value: string, option = '--owner'): { uid: number; gid: number } {
  const m = /^(\d+):(\d+)$/.exec(value);
  if (!m || Number(m[1]) > 0xffffffff || Number(m[2]) > 0xffffffff) {
    throw new UsageError('E_USAGE_OWNER', `${option} must be UID:GID with decimal 32-bit numbers, got '${value}'`, {
      field: option,
      actual: value,
    });
  }
  return { uid: Number(m[1]), gid: Number(m[2]) };
}

/** Parse a size such as 64M, 1G, 512K, 4096, 100MiB (binary units). */
export function parseSize(value: string, option = '--size'): number {
  const m = /^(\d+(?:\.\d+)?)\s*([KMGT]?)(?:i?B)?$/i.exec(value.trim());
  if (!m)
    throw new UsageError('E_USAGE_SIZE', `${option}: cannot parse size '${value}' (examples: 4096, 512K, 64M, 2G)`, {
      field: option,
      actual: value,
    });
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[
    m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'
  ];
  const n = Math.round(Number(m[1]) * mult);
  if (!Number.isSafeInteger(n) || n <= 0)
    throw new UsageError('E_USAGE_SIZE', `${option}: size '${value}' out of range`, { field: option, actual: value });
  return n;
}

const NUMERIC = {
  integer: { pattern: /^-?\d+$/, noun: 'an integer', code: 'E_USAGE_INTEGER', max: Number.MAX_SAFE_INTEGER },
  decimal: { pattern: /^-?\d+(\.\d+)?$/, noun: 'a number', code: 'E_USAGE_NUMBER', max: Number.MAX_VALUE },
};

function parseNumeric(
  kind: (typeof NUMERIC)[keyof typeof NUMERIC],
  value: string,
  option: string,
  range: { min?: number | undefined; max?: number | undefined },
): number {
  const min = range.min ?? 0;
  const max = range.max ?? kind.max;
  const n = Number(value);
  if (kind.pattern.test(value.trim()) && n >= min && n <= max) return n;
  const want = max === kind.max ? `${kind.noun} of at least ${min}` : `${kind.noun} from ${min} to ${max}`;
  throw new UsageError(kind.code, `${option} must be ${want}, got '${value}'`, {
    field: option,
    expected: { min, max },
    actual: value,
  });
}

/** Parse a decimal integer within [min, max] (default: non-negative, at most 2^53 - 1). */
export function parseInteger(value: string, option: string, range: { min?: number; max?: number } = {}): number {
  return parseNumeric(NUMERIC.integer, value, option, range);
}

/** Parse a decimal number (a percentage, seconds: fractions allowed) within [min, max]. */
export function parseDecimal(value: string, option: string, range: { min?: number; max?: number } = {}): number {
  return parseNumeric(NUMERIC.decimal, value, option, range);
}
