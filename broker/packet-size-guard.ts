import { OutpostError } from '../shared/errors.js';

/**
 * Bytes allowed on top of the payload limit for everything else a packet
 * carries: a PUBLISH's topic and packet id, a CONNECT's client id, username,
 * password and will topic. Keeps the guard coarse on purpose; the exact
 * payload limit is enforced by authorizePublish.
 */
export const HEADER_ALLOWANCE_BYTES = 1024;

/** MQTT 3.1.1 §2.2.3: the remaining length takes at most 4 bytes. */
const MAX_LENGTH_BYTES = 4;

export interface PacketRefusal {
  reason: 'too-large' | 'malformed-length';
  /** Control packet type (high nibble of the first byte), e.g. 3 = PUBLISH. */
  packetType: number;
  /** Declared remaining length, when it could be decoded. */
  remainingLength?: number;
  maxRemainingLength: number;
}

/**
 * Follows the MQTT fixed headers in a connection's byte stream (across any
 * chunk boundaries) without buffering anything, and refuses a chunk as soon
 * as a packet in it declares a remaining length over the limit. mqtt-packet
 * would otherwise buffer the whole packet first, up to the protocol's 256 MB,
 * for every connection that asks. The caller passes on a chunk only when
 * `scan` accepted it (guarded-connection.ts), so no byte of a refused
 * packet's body reaches the parser.
 */
export class PacketSizeGuard {
  readonly #max: number;
  /** 'type': next byte starts a packet; 'length': inside the remaining length; 'body': skipping `#toSkip` bytes. */
  #state: 'type' | 'length' | 'body' = 'type';
  #packetType = 0;
  #length = 0;
  #multiplier = 1;
  #lengthBytes = 0;
  #toSkip = 0;

  constructor(maxRemainingLength: number) {
    if (!Number.isInteger(maxRemainingLength) || maxRemainingLength < 0) {
      throw new RangeError('maxRemainingLength must be a non-negative integer');
    }
    this.#max = maxRemainingLength;
  }

  /** Null when every packet (part) in the chunk is within the limit; the refusal otherwise. */
  scan(chunk: Buffer): PacketRefusal | null {
    let i = 0;
    while (i < chunk.length) {
      if (this.#state === 'body') {
        const step = Math.min(this.#toSkip, chunk.length - i);
        this.#toSkip -= step;
        i += step;
        if (this.#toSkip === 0) this.#state = 'type';
        continue;
      }
      const byte = chunk[i++] as number;
      if (this.#state === 'type') {
        this.#packetType = byte >> 4;
        this.#length = 0;
        this.#multiplier = 1;
        this.#lengthBytes = 0;
        this.#state = 'length';
        continue;
      }
      this.#length += (byte & 0x7f) * this.#multiplier;
      this.#multiplier *= 128;
      this.#lengthBytes++;
      if (byte & 0x80) {
        if (this.#lengthBytes === MAX_LENGTH_BYTES) {
          return { reason: 'malformed-length', packetType: this.#packetType, maxRemainingLength: this.#max };
        }
        continue;
      }
      if (this.#length > this.#max) {
        return { reason: 'too-large', packetType: this.#packetType, remainingLength: this.#length, maxRemainingLength: this.#max };
      }
      this.#toSkip = this.#length;
      this.#state = this.#toSkip === 0 ? 'type' : 'body';
    }
    return null;
  }
}

/** The error a connection is destroyed with when the guard refused it. */
export function refusalError(refusal: PacketRefusal): OutpostError {
  const message =
    refusal.reason === 'too-large'
      ? `MQTT packet of ${refusal.remainingLength} bytes exceeds the limit of ${refusal.maxRemainingLength}`
      : 'malformed MQTT remaining length';
  return new OutpostError('PAYLOAD_TOO_LARGE', message, { details: { ...refusal } });
}
