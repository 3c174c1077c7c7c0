/** Types for the untyped pieces of codec packages that src/compress uses. */
declare module 'unbzip2-stream/lib/bzip2.js' {
  type Bits = ((n: number | null) => number) & { bytesRead: number };
  const bz2: {
    header(bits: Bits): number;
    decompress(bits: Bits, out: (b: number) => void, buf: Int32Array, size: number, crc: number | null): number | null;
  };
  export default bz2;
}
declare module 'unbzip2-stream/lib/bit_iterator.js' {
  export default function bitIterator(
    next: () => Uint8Array | undefined,
  ): ((n: number | null) => number) & { bytesRead: number };
}
