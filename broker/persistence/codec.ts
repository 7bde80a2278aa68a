import msgpack from 'msgpack-lite';
import { isSealed, StoreSealError, type PacketSeal } from './packet-seal.js';

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

/** Where a stored packet lives; bound into its seal (DD-047). */
export type PacketPlace =
  | { kind: 'retained'; topic: string }
  | { kind: 'queue'; entry: string }
  | { kind: 'incoming'; clientId: string; messageId: string }
  | { kind: 'will'; clientId: string };

function placeOf(place: PacketPlace): string {
  switch (place.kind) {
    case 'retained':
      return `retained\0${place.topic}`;
    case 'queue':
      return `queue\0${place.entry}`;
    case 'incoming':
      return `incoming\0${place.clientId}\0${place.messageId}`;
    case 'will':
      return `will\0${place.clientId}`;
  }
}

/**
 * DD-047: packets that carry a payload, as they go to and come from Redis.
 * With a seal every one is sealed; without, stored in clear as before. A
 * value stored in clear is read either way (a store that predates the key
 * loses nothing); a sealed one without the key, or that does not open,
 * throws StoreSealError.
 */
export interface PacketCodec {
  pack(place: PacketPlace, value: unknown): Buffer;
  unpack<T = Record<string, unknown>>(place: PacketPlace, stored: Buffer): T;
}

export function packetCodec(seal: PacketSeal | undefined): PacketCodec {
  return {
    pack: (place, value) => (seal ? seal.seal(placeOf(place), encode(value)) : encode(value)),
    unpack<T>(place: PacketPlace, stored: Buffer): T {
      if (!isSealed(stored)) return decode<T>(stored);
      if (!seal) throw new StoreSealError('BROKER_STORE_NO_KEY', `a stored ${place.kind} packet is sealed and this broker has no store key (--store-key-file)`);
      return decode<T>(seal.open(placeOf(place), stored));
    },
  };
}
