// msgpack-lite 0.1 ships no type declarations; this covers what broker/persistence uses.
declare module 'msgpack-lite' {
  export function encode(value: unknown): Buffer;
  export function decode(buffer: Buffer | Uint8Array): unknown;
}
