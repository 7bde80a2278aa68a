import { describe, expect, it } from 'vitest';
import { PacketSizeGuard, refusalError, type PacketRefusal } from '../../broker/packet-size-guard.js';
import { isOutpostError } from '../../shared/errors.js';
import { remainingLength } from '../helpers/mqtt-bytes.js';


function frame(firstByte: number, body: Buffer): Buffer {
  return Buffer.concat([Buffer.from([firstByte]), remainingLength(body.length), body]);
}

function publish(topic: string, payload: Buffer): Buffer {
  const t = Buffer.from(topic);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(t.length);
  return frame(0x30, Buffer.concat([len, t, payload]));
}

interface Run {
  output: Buffer;
  error: Error | null;
  refusals: PacketRefusal[];
}

/** What a connection passes on: each chunk the guard accepts, until the first refusal. */
async function feed(maxRemainingLength: number, chunks: Buffer[]): Promise<Run> {
  const guard = new PacketSizeGuard(maxRemainingLength);
  const out: Buffer[] = [];
  for (const chunk of chunks) {
    const refusal = guard.scan(chunk);
    if (refusal) return { output: Buffer.concat(out), error: refusalError(refusal), refusals: [refusal] };
    out.push(chunk);
  }
  return { output: Buffer.concat(out), error: null, refusals: [] };
}

/** Every way to cut `stream` in two, plus one byte at a time. */
function splits(stream: Buffer): Buffer[][] {
  const result: Buffer[][] = [[stream]];
  for (let k = 1; k < stream.length; k++) result.push([stream.subarray(0, k), stream.subarray(k)]);
  result.push(Array.from(stream, (b) => Buffer.from([b])));
  return result;
}

const LIMIT = 1000;

// CONNECT-like, SUBSCRIBE-like, PINGREQ (empty body), PUBLISH with 1- and
// 2-byte remaining lengths, a PUBLISH exactly at the limit, DISCONNECT.
const normal = Buffer.concat([
  frame(0x10, Buffer.from('\u0000\u0004MQTT\u0004\u00c2\u0000\u003c\u0000\u0005dev-a')),
  frame(0x82, Buffer.from('\u0000\u0001\u0000\u0019outpost/v1/devices/a/desired\u0001')),
  Buffer.from([0xc0, 0x00]),
  publish('outpost/v1/devices/a/reported', Buffer.from('{"v":1}')),
  publish('outpost/v1/devices/a/events', Buffer.alloc(300, 0x61)),
  frame(0x32, Buffer.alloc(LIMIT, 0x62)),
  Buffer.from([0xe0, 0x00]),
]);

describe('PacketSizeGuard', () => {
  it('passes normal traffic byte-identical however it is chunked', async () => {
    for (const chunks of splits(normal)) {
      const run = await feed(LIMIT, chunks);
      expect(run.error).toBeNull();
      expect(run.refusals).toEqual([]);
      expect(run.output.equals(normal)).toBe(true);
    }
  });

  it('refuses a packet one byte over the limit however it is chunked, letting none of its body through', async () => {
    const prefix = Buffer.concat([Buffer.from([0xc0, 0x00]), publish('a/b', Buffer.from('ok'))]);
    const oversized = frame(0x30, Buffer.alloc(LIMIT + 1, 0x7a));
    const stream = Buffer.concat([prefix, oversized, Buffer.from([0xc0, 0x00])]);
    const headerBytes = 1 + remainingLength(LIMIT + 1).length;
    for (const chunks of splits(stream)) {
      const run = await feed(LIMIT, chunks);
      expect(isOutpostError(run.error) && run.error.code).toBe('PAYLOAD_TOO_LARGE');
      expect(run.refusals).toEqual([
        { reason: 'too-large', packetType: 3, remainingLength: LIMIT + 1, maxRemainingLength: LIMIT },
      ]);
      // At most the oversized packet's fixed header may have gone through
      // (when a chunk ended inside it); never a byte of its body.
      expect(run.output.length).toBeLessThanOrEqual(prefix.length + headerBytes - 1);
      expect(run.output.equals(stream.subarray(0, run.output.length))).toBe(true);
    }
  });

  it('refuses as soon as the header arrives, before the body is sent', async () => {
    const header = Buffer.concat([Buffer.from([0x30]), remainingLength(256 * 1024 * 1024 - 1)]);
    const run = await feed(LIMIT, [header]);
    expect(run.error).not.toBeNull();
    expect(run.refusals[0]?.remainingLength).toBe(268_435_455);
    expect(run.output.length).toBe(0);
  });

  it('decodes 3- and 4-byte remaining lengths exactly', async () => {
    for (const n of [16_384, 2_097_151, 2_097_152, 268_435_455]) {
      const header = Buffer.concat([Buffer.from([0x30]), remainingLength(n)]);
      for (const chunks of splits(header)) {
        const atLimit = await feed(n, chunks);
        expect(atLimit.error).toBeNull();
        expect(atLimit.output.equals(header)).toBe(true);
        const below = await feed(n - 1, chunks);
        expect(below.refusals).toEqual([{ reason: 'too-large', packetType: 3, remainingLength: n, maxRemainingLength: n - 1 }]);
      }
    }
  });

  it('refuses a remaining length with a fifth continuation byte as malformed', async () => {
    const stream = Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01, 0x00]);
    for (const chunks of splits(stream)) {
      const run = await feed(Number.MAX_SAFE_INTEGER, chunks);
      expect(run.refusals).toEqual([{ reason: 'malformed-length', packetType: 3, maxRemainingLength: Number.MAX_SAFE_INTEGER }]);
      expect(run.error).not.toBeNull();
    }
  });

  it('keeps following packet boundaries across many packets in one chunk', async () => {
    const many = Buffer.concat(Array.from({ length: 200 }, (_, i) => publish(`t/${i}`, Buffer.alloc(i, 0x41))));
    const run = await feed(LIMIT, [many]);
    expect(run.error).toBeNull();
    expect(run.output.equals(many)).toBe(true);
    // …and notices an oversized packet hidden after them.
    const run2 = await feed(LIMIT, [Buffer.concat([many, frame(0x30, Buffer.alloc(LIMIT + 1))])]);
    expect(run2.refusals).toHaveLength(1);
  });
});
