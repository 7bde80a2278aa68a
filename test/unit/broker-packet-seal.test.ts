import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { encode, packetCodec, type PacketPlace } from '../../broker/persistence/codec.js';
import { isSealed, PacketSeal, StoreSealError, storeKeyId } from '../../broker/persistence/packet-seal.js';

const retained: PacketPlace = { kind: 'retained', topic: 'outpost/v1/devices/d1/desired' };
const packet = { cmd: 'publish', topic: 'outpost/v1/devices/d1/desired', payload: Buffer.from('{"registryAuth":{"password":"s3cret-marker"}}'), qos: 1, retain: true };

function codeOf(run: () => unknown): string | undefined {
  try {
    run();
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(StoreSealError);
    return (err as StoreSealError).code;
  }
}

describe('stored packet sealing (DD-047)', () => {
  const key = randomBytes(32);
  const codec = packetCodec(new PacketSeal(key));

  it('round-trips a packet, Buffer payload included, and hides the payload', () => {
    const stored = codec.pack(retained, packet);
    expect(isSealed(stored)).toBe(true);
    expect(stored.includes(Buffer.from('s3cret-marker'))).toBe(false);
    expect(stored.subarray(2, 6).toString('hex')).toBe(storeKeyId(key));
    expect(codec.unpack(retained, stored)).toEqual(packet);
  });

  it('uses a fresh nonce per value', () => {
    expect(codec.pack(retained, packet).equals(codec.pack(retained, packet))).toBe(false);
  });

  it('refuses a value altered anywhere after its header', () => {
    const stored = codec.pack(retained, packet);
    for (const at of [6, 20, stored.length - 1]) {
      const altered = Buffer.from(stored);
      altered[at] = (altered[at] ?? 0) ^ 1;
      expect(codeOf(() => codec.unpack(retained, altered))).toBe('BROKER_STORE_TAMPERED');
    }
  });

  it('refuses a value moved to another place (topic, kind, entry, client)', () => {
    const stored = codec.pack(retained, packet);
    expect(codeOf(() => codec.unpack({ kind: 'retained', topic: 'outpost/v1/devices/d2/desired' }, stored))).toBe('BROKER_STORE_TAMPERED');
    expect(codeOf(() => codec.unpack({ kind: 'queue', entry: 'outpost/v1/devices/d1/desired' }, stored))).toBe('BROKER_STORE_TAMPERED');
    const will = codec.pack({ kind: 'will', clientId: 'd1' }, packet);
    expect(codeOf(() => codec.unpack({ kind: 'will', clientId: 'd2' }, will))).toBe('BROKER_STORE_TAMPERED');
    const incoming = codec.pack({ kind: 'incoming', clientId: 'd1', messageId: '7' }, packet);
    expect(codeOf(() => codec.unpack({ kind: 'incoming', clientId: 'd1', messageId: '8' }, incoming))).toBe('BROKER_STORE_TAMPERED');
  });

  it('names the other key when a value was sealed with one, and the missing key without one', () => {
    const stored = packetCodec(new PacketSeal(randomBytes(32))).pack(retained, packet);
    expect(codeOf(() => codec.unpack(retained, stored))).toBe('BROKER_STORE_WRONG_KEY');
    expect(() => codec.unpack(retained, stored)).toThrow(`this broker has ${storeKeyId(key)}`);
    expect(codeOf(() => packetCodec(undefined).unpack(retained, stored))).toBe('BROKER_STORE_NO_KEY');
  });

  it('refuses a truncated or unknown-version sealed value', () => {
    const stored = codec.pack(retained, packet);
    expect(codeOf(() => codec.unpack(retained, stored.subarray(0, 20)))).toBe('BROKER_STORE_MALFORMED');
    const v2 = Buffer.from(stored);
    v2[1] = 2;
    expect(codeOf(() => codec.unpack(retained, v2))).toBe('BROKER_STORE_MALFORMED');
  });

  it('still reads a value stored in clear before the key was set, and stores in clear without a key', () => {
    expect(codec.unpack(retained, encode(packet))).toEqual(packet);
    const clear = packetCodec(undefined).pack(retained, packet);
    expect(isSealed(clear)).toBe(false);
    expect(clear.includes(Buffer.from('s3cret-marker'))).toBe(true);
    expect(codec.unpack(retained, clear)).toEqual(packet);
  });

  it('takes only a 32-byte key', () => {
    expect(() => new PacketSeal(randomBytes(16))).toThrow('32 bytes');
  });
});
