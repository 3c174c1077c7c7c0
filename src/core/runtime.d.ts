/**
 * The host APIs the core may use: those every JavaScript runtime has
 * (browsers, workers, Node, Deno, Bun). Nothing else is declared, so the
 * compiler rejects Buffer, process, node: modules, the DOM and timers here.
 */
interface TextEncoderEncodeIntoResult {
  read: number;
  written: number;
}
declare class TextEncoder {
  readonly encoding: string;
  encode(input?: string): Uint8Array;
  encodeInto(source: string, destination: Uint8Array): TextEncoderEncodeIntoResult;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean; ignoreBOM?: boolean });
  readonly encoding: string;
  decode(input?: ArrayBufferView | ArrayBuffer, options?: { stream?: boolean }): string;
}
interface CoreSubtleCrypto {
  digest(
    algorithm: 'SHA-1' | 'SHA-256' | 'SHA-384' | 'SHA-512',
    data: ArrayBufferView | ArrayBuffer,
  ): Promise<ArrayBuffer>;
}
interface CoreCrypto {
  getRandomValues<T extends ArrayBufferView>(array: T): T;
  readonly subtle: CoreSubtleCrypto;
}
declare var crypto: CoreCrypto;
/** Base64 (every runtime has them since Node 16). */
declare function atob(data: string): string;
declare function btoa(data: string): string;
