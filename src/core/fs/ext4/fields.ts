/**
 * Field encodings the writer and the reader share: timestamps with their
 * "extra" word (epoch bits and nanoseconds), device numbers in i_block (old
 * 8:8 and new 12:20 forms), and UUIDs as text.
 */
import { toHex } from '../../binary/bytes.js';
import { decodeDev, encodeDev, type Timespec } from '../../tree/types.js';
import { EXTRA_EPOCH_MASK, EXTRA_NSEC_SHIFT, OLD_DEV_MAX, deviceIBlock } from './structs.js';

const NSEC_MAX = 999_999_999;
const SEC_MIN = -(2 ** 31);
const EPOCH_WORD = 2 ** 32;

/**
 * A timestamp as stored: `lo` the low 32 bits of the seconds (signed), and
 * `extra` nanoseconds << 2 | epoch bits (seconds bits 32-33). Seconds are
 * clamped to the range the inode can hold (`big`: with the extra word,
 * until 2446; else a signed 32-bit value).
 */
export function encodeTime(t: Timespec, big: boolean): { lo: number; extra: number } {
  return { lo: timeLo(t, big), extra: timeExtra(t, big) };
}

/** Seconds clamped to what the inode holds (`big`: with the extra word). */
function clampedSec(t: Timespec, big: boolean): number {
  const sec = Math.floor(t.sec);
  const max = big ? 2 ** 34 - 2 ** 31 - 1 : 2 ** 31 - 1;
  return sec < SEC_MIN ? SEC_MIN : sec > max ? max : sec;
}

/** encodeTime's `lo` without the object (the writer stores three times per inode). */
export function timeLo(t: Timespec, big: boolean): number {
  const sec = clampedSec(t, big);
  if (sec >= 0 && sec < EPOCH_WORD) return sec; // every time from 1970 to 2106: no floating-point remainder
  return (((sec % EPOCH_WORD) + EPOCH_WORD) % EPOCH_WORD) >>> 0;
}

/** encodeTime's `extra` without the object. */
export function timeExtra(t: Timespec, big: boolean): number {
  const sec = clampedSec(t, big);
  const nsec = Math.min(NSEC_MAX, Math.max(0, Math.floor(t.nsec)));
  if (sec >= 0 && sec < 2 ** 31) return (nsec << EXTRA_NSEC_SHIFT) >>> 0; // epoch bits 0 until 2038
  const lo = ((sec % EPOCH_WORD) + EPOCH_WORD) % EPOCH_WORD;
  const lo32 = lo >= 2 ** 31 ? lo - EPOCH_WORD : lo;
  const epoch = ((sec - lo32) / EPOCH_WORD) & EXTRA_EPOCH_MASK;
  return ((nsec << EXTRA_NSEC_SHIFT) | epoch) >>> 0;
}

/**
 * A timestamp read back: signed 32-bit seconds at `base + lo`; when the
 * extra word at `base + extraOff` is inside the inode (extraOff + 4 <=
 * extraEnd, the end of the fields i_extra_isize covers), its epoch bits
 * extend the seconds and its high 30 bits are nanoseconds.
 */
export function decodeTime(v: DataView, base: number, lo: number, extraOff: number, extraEnd: number): Timespec {
  let sec = v.getInt32(base + lo, true);
  let nsec = 0;
  if (extraOff + 4 <= extraEnd) {
    const x = v.getUint32(base + extraOff, true);
    sec += (x & EXTRA_EPOCH_MASK) * EPOCH_WORD;
    nsec = Math.min(x >>> EXTRA_NSEC_SHIFT, NSEC_MAX);
  }
  return { sec, nsec };
}

const OLD_DEV_SHIFT = 8;

/** Store a device number in i_block: the old form when both numbers fit in a byte, as the kernel does. */
export function encodeDevice(iBlock: Uint8Array, major: number, minor: number): void {
  if (major <= OLD_DEV_MAX && minor <= OLD_DEV_MAX)
    deviceIBlock.encode({ old_dev: (major << OLD_DEV_SHIFT) | minor }, iBlock);
  else deviceIBlock.encode({ new_dev: encodeDev(major, minor) }, iBlock);
}

/** The device number in i_block: the old form when non-zero, else the new one. */
export function decodeDevice(iBlock: Uint8Array): { major: number; minor: number } {
  const d = deviceIBlock.decode(iBlock);
  if (d.old_dev === 0) return decodeDev(d.new_dev);
  return { major: (d.old_dev >>> OLD_DEV_SHIFT) & OLD_DEV_MAX, minor: d.old_dev & OLD_DEV_MAX };
}

/** 16 bytes as a UUID string (8-4-4-4-12 lowercase hex). */
export function uuidString(b: Uint8Array): string {
  const h = toHex(b);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}
