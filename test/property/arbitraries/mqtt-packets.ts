import fc from 'fast-check';
import { remainingLength } from '../../helpers/mqtt-bytes.js';

/**
 * Byte-level MQTT 3.1.1 garbage for the broker: random bytes, packets of
 * any type with wrong flags and lengths, CONNECTs with garbage fields, and,
 * for a client that authenticated, malformed or forbidden packets after its
 * CONNECT. Every sequence ends with the client going quiet: the broker must
 * close the connection by itself (a protocol error, or its connect or
 * keepalive timeout).
 */

const u16 = (n: number): Buffer => Buffer.from([(n >> 8) & 0xff, n & 0xff]);
/** A length-prefixed MQTT string; `lengthDelta` makes the prefix lie. */
const str = (bytes: Buffer, lengthDelta = 0): Buffer => Buffer.concat([u16(Math.max(0, Math.min(0xffff, bytes.length + lengthDelta))), bytes]);

/** A fixed header + body; `lengthDelta` makes the remaining length lie (more or fewer bytes than sent). */
function packet(firstByte: number, body: Buffer, lengthDelta = 0): Buffer {
  return Buffer.concat([Buffer.from([firstByte & 0xff]), remainingLength(Math.max(0, body.length + lengthDelta)), body]);
}

/** Strings as they arrive on the wire: UTF-8, invalid UTF-8, NUL, wildcards, very long. */
const wireStringArb: fc.Arbitrary<Buffer> = fc.oneof(
  fc.string({ maxLength: 30 }).map((s) => Buffer.from(s, 'utf8')),
  fc.uint8Array({ maxLength: 30 }).map((b) => Buffer.from(b)),
  fc.constantFrom(
    Buffer.from([0xc3, 0x28]),
    Buffer.from([0xed, 0xa0, 0x80]),
    Buffer.from([0xff, 0xfe]),
    Buffer.from('a\u0000b'),
    Buffer.from('outpost/v1/devices/+/desired'),
    Buffer.from('#'),
    Buffer.from('$SYS/broker'),
    Buffer.from(''),
    Buffer.from('x'.repeat(300)),
    Buffer.from('outpost/v1/devices/victim/desired'),
  ),
);

const lengthDeltaArb = fc.oneof({ weight: 3, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: -5, max: 5 }) });

/** CONNECT with every field random: protocol name and level, reserved and will flags, keepalive, client id, will, credentials. */
export const garbageConnectArb: fc.Arbitrary<Buffer> = fc
  .record({
    protocol: fc.oneof(fc.constantFrom(Buffer.from('MQTT'), Buffer.from('MQIsdp'), Buffer.from('MQTTT'), Buffer.alloc(0)), wireStringArb),
    protocolLengthDelta: lengthDeltaArb,
    level: fc.oneof(fc.constantFrom(3, 4, 5), fc.integer({ min: 0, max: 255 })),
    flags: fc.integer({ min: 0, max: 255 }),
    keepalive: fc.constantFrom(0, 1, 2, 65535),
    clientId: wireStringArb,
    willTopic: wireStringArb,
    willPayload: fc.uint8Array({ maxLength: 40 }).map((b) => Buffer.from(b)),
    username: wireStringArb,
    password: wireStringArb,
    fieldLengthDelta: lengthDeltaArb,
    packetLengthDelta: lengthDeltaArb,
  })
  .map((c) => {
    const parts = [str(c.protocol, c.protocolLengthDelta), Buffer.from([c.level, c.flags]), u16(c.keepalive), str(c.clientId, c.fieldLengthDelta)];
    if (c.flags & 0x04) parts.push(str(c.willTopic), str(c.willPayload));
    if (c.flags & 0x80) parts.push(str(c.username));
    if (c.flags & 0x40) parts.push(str(c.password));
    return packet(0x10, Buffer.concat(parts), c.packetLengthDelta);
  });

/** Any packet type (0-15) with any flags, a body, and an honest or lying remaining length. */
const anyPacketArb: fc.Arbitrary<Buffer> = fc
  .tuple(fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 60 }).map((b) => Buffer.from(b)), lengthDeltaArb)
  .map(([first, body, delta]) => packet(first, body, delta));

/** Remaining lengths the guard must refuse: over the limit, or a fifth continuation byte. */
const oversizedArb: fc.Arbitrary<Buffer> = fc.constantFrom(
  Buffer.from([0x30, 0xff, 0xff, 0xff, 0x7f]),
  Buffer.from([0x10, 0xff, 0xff, 0xff, 0x7f, 0x00]),
  Buffer.from([0x30, 0x80, 0x80, 0x80, 0x80, 0x01]),
  Buffer.from([0x82, 0xff, 0xff, 0x7f]),
);

/** Packets a connected client might send wrongly: bad QoS bits, invalid topics, forbidden topics, acks for nothing. */
const afterConnectArb: fc.Arbitrary<Buffer> = fc.oneof(
  // PUBLISH with QoS bits 0-3, DUP and RETAIN, any topic.
  fc
    .record({ flags: fc.integer({ min: 0, max: 15 }), topic: wireStringArb, id: fc.integer({ min: 0, max: 0xffff }), payload: fc.uint8Array({ maxLength: 40 }), delta: lengthDeltaArb })
    .map(({ flags, topic, id, payload, delta }) => packet(0x30 | flags, Buffer.concat([str(topic), (flags >> 1) & 3 ? u16(id) : Buffer.alloc(0), Buffer.from(payload)]), delta)),
  // SUBSCRIBE with right or wrong reserved flags, requested QoS 0-255, any filters (or none).
  fc
    .record({ flags: fc.constantFrom(0x2, 0x0, 0xf), id: fc.integer({ min: 0, max: 0xffff }), filters: fc.array(fc.tuple(wireStringArb, fc.integer({ min: 0, max: 255 })), { maxLength: 3 }), delta: lengthDeltaArb })
    .map(({ flags, id, filters, delta }) => packet(0x80 | flags, Buffer.concat([u16(id), ...filters.map(([f, q]) => Buffer.concat([str(f), Buffer.from([q])]))]), delta)),
  // UNSUBSCRIBE, PUBACK/PUBREC/PUBREL/PUBCOMP for ids never sent, PINGREQ with a body, DISCONNECT with flags.
  fc.tuple(fc.array(wireStringArb, { maxLength: 2 }), fc.integer({ min: 0, max: 0xffff })).map(([filters, id]) => packet(0xa2, Buffer.concat([u16(id), ...filters.map((f) => str(f))]))),
  fc.tuple(fc.constantFrom(0x40, 0x50, 0x62, 0x70, 0x60), fc.integer({ min: 0, max: 0xffff })).map(([first, id]) => packet(first, u16(id))),
  fc.constantFrom(Buffer.from([0xc0, 0x01, 0x00]), Buffer.from([0xe1, 0x00]), Buffer.from([0x00, 0x00]), Buffer.from([0xf0, 0x00]), Buffer.from([0x20, 0x02, 0x00, 0x00])),
  // A second CONNECT [MQTT-3.1.0-2].
  garbageConnectArb,
  anyPacketArb,
);

/** What an anonymous client sends before (or instead of) a CONNECT. */
export const anonymousGarbageArb: fc.Arbitrary<Buffer[]> = fc.oneof(
  fc.uint8Array({ minLength: 1, maxLength: 300 }).map((b) => [Buffer.from(b)]),
  fc.array(anyPacketArb, { minLength: 1, maxLength: 4 }),
  fc.tuple(garbageConnectArb, fc.array(afterConnectArb, { maxLength: 3 })).map(([c, rest]) => [c, ...rest]),
  oversizedArb.map((b) => [b]),
  // Truncated: the first bytes of a packet, then silence.
  fc.tuple(fc.oneof(garbageConnectArb, anyPacketArb), fc.nat()).map(([p, n]) => [p.subarray(0, 1 + (n % Math.max(1, p.length - 1)))]),
);

/** A valid CONNECT (clean session, keepalive 1 s) for `clientId` with `password`. */
export function validConnect(clientId: string, password: string): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([str(Buffer.from('MQTT')), Buffer.from([4, 0xc2]), u16(1), str(id), str(id), str(Buffer.from(password))]);
  return packet(0x10, body);
}

/** What an authenticated client sends after its CONNECT: malformed and forbidden packets. */
export const authenticatedGarbageArb: fc.Arbitrary<Buffer[]> = fc.array(afterConnectArb, { minLength: 1, maxLength: 5 });

/** Splits the bytes at random points, so that packets straddle writes. */
export function chunked(buffers: Buffer[], cuts: number[]): Buffer[] {
  const all = Buffer.concat(buffers);
  const points = [...new Set(cuts.map((c) => c % (all.length + 1)))].sort((a, b) => a - b);
  const out: Buffer[] = [];
  let at = 0;
  for (const p of [...points, all.length]) {
    if (p > at) out.push(all.subarray(at, p));
    at = p;
  }
  return out;
}
