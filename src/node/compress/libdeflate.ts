/**
 * libdeflate's compressor in WebAssembly (libdeflate-wasm.ts, built by
 * scripts/build-libdeflate-wasm.sh from Debian's libdeflate 1.14), one
 * instance per thread and level. It compresses whole buffers, with no
 * dictionary; a piece is either a finished raw deflate stream or one ended
 * by a sync flush that the next piece's blocks may follow.
 */
import { storedSize, writeStored } from '../../core/compress/deflate-stored.js';
import { ToolError } from '../../core/errors.js';
import { LIBDEFLATE_WASM_BASE64 } from './libdeflate-wasm.js';

/** The part of the WebAssembly API used here (the Node layer's types do not declare it). */
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object, imports: object) => { exports: unknown };
}
const wasm = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Exports {
  memory: { buffer: ArrayBuffer };
  ti_init(level: number): number;
  ti_scratch(n: number): number;
  ti_bound(n: number): number;
  ti_deflate(input: number, n: number, output: number, cap: number): number;
  ti_deflate_continuable(input: number, n: number, output: number, cap: number): number;
}

/** Inputs up to this size are stored whole by libdeflate (55 - 4 x level bytes), as a final block: stored here instead. */
const PASSTHROUGH_MAX = 64;
/** The sync flush ti_deflate_continuable appends: up to one byte of header and padding, LEN and NLEN. */
const SYNC_FLUSH_MAX = 5;

let module: object | undefined;
const compressors = new Map<number, Exports>();

function failed(message: string): ToolError {
  return new ToolError('E_TOOL_LIBDEFLATE', `libdeflate: ${message}`);
}

function compressor(level: number): Exports {
  let x = compressors.get(level);
  if (x) return x;
  module ??= new wasm.Module(Buffer.from(LIBDEFLATE_WASM_BASE64, 'base64'));
  x = new wasm.Instance(module, {}).exports as unknown as Exports;
  if (!x.ti_init(level)) throw failed(`cannot make a compressor for level ${level} (out of memory)`);
  compressors.set(level, x);
  return x;
}

/**
 * Raw deflate (RFC 1951) of `data` at `level` (0-12; 1-9 as zlib's): the
 * finished stream if `last`, else ended by a sync flush so another piece's
 * blocks can follow it in the same stream.
 */
export function libdeflateRaw(data: Uint8Array, level: number, last: boolean): Uint8Array {
  if (!last && data.length <= PASSTHROUGH_MAX) {
    // a non-final stored block ends byte-aligned: continuable as it is
    const out = new Uint8Array(storedSize(data.length));
    writeStored(out, 0, data, false);
    return out;
  }
  const x = compressor(level);
  const cap = x.ti_bound(data.length) + SYNC_FLUSH_MAX;
  const at = x.ti_scratch(data.length + cap);
  if (!at) throw failed(`out of memory for ${data.length} bytes`);
  new Uint8Array(x.memory.buffer, at, data.length).set(data);
  const n = last
    ? x.ti_deflate(at, data.length, at + data.length, cap)
    : x.ti_deflate_continuable(at, data.length, at + data.length, cap);
  if (!n) throw failed(`output of ${data.length} bytes did not fit its bound`);
  return new Uint8Array(x.memory.buffer, at + data.length, n).slice();
}
