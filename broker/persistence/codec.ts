import msgpack from 'msgpack-lite';

/**
 * Packets, subscriptions and wills as stored: msgpack keeps Buffer payloads
 * binary (no base64) and is what aedes-persistence-redis writes too.
 */
export function encode(value: unknown): Buffer {
  return msgpack.encode(value);
}

export function decode<T = Record<string, unknown>>(buffer: Buffer): T {
  return msgpack.decode(buffer) as T;
}
