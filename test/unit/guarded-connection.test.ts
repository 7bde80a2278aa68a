import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import mqttPacket from 'mqtt-packet';
import { GuardedConnection } from '../../broker/guarded-connection.js';
import type { PacketRefusal } from '../../broker/packet-size-guard.js';
import { isOutpostError } from '../../shared/errors.js';
import { remainingLength } from '../helpers/mqtt-bytes.js';
import { waitFor } from '../helpers/wait-for.js';

/** A loopback socket pair: `server` is what the broker accepted, `peer` the client's end. */
interface Pair {
  server: Socket;
  peer: Socket;
}

const servers: Server[] = [];
const sockets: Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => new Promise<void>((resolve) => s.close(() => resolve()))));
});

async function pair(): Promise<Pair> {
  const server = createServer();
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const accepted = once(server, 'connection') as Promise<[Socket]>;
  const peer = connect((server.address() as AddressInfo).port, '127.0.0.1');
  await once(peer, 'connect');
  const [socket] = await accepted;
  sockets.push(socket, peer);
  return { server: socket, peer };
}

/** Reads the way aedes does: 'readable' and read(). */
function drain(conn: GuardedConnection): Buffer[] {
  const got: Buffer[] = [];
  conn.on('readable', () => {
    for (let chunk = conn.read() as Buffer | null; chunk !== null; chunk = conn.read() as Buffer | null) got.push(chunk);
  });
  return got;
}

const PINGREQ = Buffer.from([0xc0, 0x00]);

describe('GuardedConnection', () => {
  it('passes what the peer sends to the reader, byte for byte', async () => {
    const { server, peer } = await pair();
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, maxOutgoingBufferBytes: 1024 * 1024 });
    const got = drain(conn);
    const publish = Buffer.concat([Buffer.from([0x30]), remainingLength(7), Buffer.from('\u0000\u0001ahello')]);
    peer.write(Buffer.concat([PINGREQ, publish]));
    await waitFor(() => Buffer.concat(got).length === PINGREQ.length + publish.length);
    expect(Buffer.concat(got).equals(Buffer.concat([PINGREQ, publish]))).toBe(true);
  });

  it('writes made while corked leave as one socket write, and arrive intact', async () => {
    const { server, peer } = await pair();
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, maxOutgoingBufferBytes: 1024 * 1024 });
    const write = vi.spyOn(server, 'write');
    const received: Buffer[] = [];
    peer.on('data', (c: Buffer) => received.push(c));
    // What mqtt-packet does for one PUBLISH: cork, several pieces, uncork on the next tick.
    conn.cork();
    conn.write(Buffer.from([0x30, 0x08]));
    conn.write(Buffer.from([0x00, 0x03]));
    conn.write('a/b');
    conn.write(Buffer.from('xyz'));
    process.nextTick(() => conn.uncork());
    await waitFor(() => Buffer.concat(received).length === 10);
    expect(write).toHaveBeenCalledTimes(1);
    expect(Buffer.concat(received).equals(Buffer.from([0x30, 0x08, 0x00, 0x03, 0x61, 0x2f, 0x62, 0x78, 0x79, 0x7a]))).toBe(true);
  });

  it('refuses an oversized packet: tells onRefuse, fails with PAYLOAD_TOO_LARGE, closes the socket, passes none of it', async () => {
    const { server, peer } = await pair();
    const refusals: PacketRefusal[] = [];
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, maxOutgoingBufferBytes: 1024 * 1024, onRefuse: (r) => refusals.push(r) });
    const got = drain(conn);
    const failed = once(conn, 'error') as Promise<[Error]>;
    const peerClosed = once(peer, 'close');
    peer.write(Buffer.concat([Buffer.from([0x30]), remainingLength(101), Buffer.alloc(101)]));
    const [err] = await failed;
    expect(isOutpostError(err) && err.code).toBe('PAYLOAD_TOO_LARGE');
    expect(refusals).toEqual([{ reason: 'too-large', packetType: 3, remainingLength: 101, maxRemainingLength: 100 }]);
    await peerClosed;
    expect(server.destroyed).toBe(true);
    expect(got).toEqual([]);
  });

  it('ends when the peer ends, and closes the socket when destroyed', async () => {
    const first = await pair();
    const conn = new GuardedConnection(first.server, { maxRemainingLength: 100, maxOutgoingBufferBytes: 1024 * 1024 });
    drain(conn);
    const ended = once(conn, 'end');
    first.peer.end();
    await ended;

    const second = await pair();
    const other = new GuardedConnection(second.server, { maxRemainingLength: 100, maxOutgoingBufferBytes: 1024 * 1024 });
    const peerClosed = once(second.peer, 'close');
    other.destroy();
    await peerClosed;
    expect(second.server.destroyed).toBe(true);
  });

  it('DD-050: a packet for a peer that stopped reading, once the outgoing bound is reached, cuts the connection (CLIENT_TOO_SLOW)', async () => {
    const { server, peer } = await pair();
    peer.pause();
    const bound = 64 * 1024;
    const cuts: number[] = [];
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, maxOutgoingBufferBytes: bound, onTooSlow: (n) => cuts.push(n) });
    const failed = once(conn, 'error') as Promise<[Error]>;
    const packet = { cmd: 'publish' as const, topic: 't', payload: Buffer.alloc(16 * 1024), qos: 0 as const, retain: false, dup: false };
    // Below the bound write() says "go on": the writer (aedes) holds nothing while the peer does not read.
    let accepted = 0;
    for (let i = 0; i < 10_000 && !conn.destroyed; i++) {
      if (mqttPacket.writeToStream(packet, conn)) accepted += 1;
    }
    const [err] = await failed;
    expect(isOutpostError(err) && err.code).toBe('CLIENT_TOO_SLOW');
    expect(cuts).toHaveLength(1);
    expect(cuts[0]).toBeGreaterThanOrEqual(bound);
    // Bounded: the bytes it buffered never passed the bound by more than the packet that crossed it.
    expect(cuts[0]).toBeLessThan(bound + 17 * 1024);
    expect(accepted).toBeGreaterThan(0);
    await waitFor(() => server.destroyed);
  });

  it('DD-050: a writer that waits for drain is never cut, however much it sends to a slow but reading peer', async () => {
    const { server, peer } = await pair();
    const bound = 64 * 1024;
    const cuts: number[] = [];
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, maxOutgoingBufferBytes: bound, onTooSlow: (n) => cuts.push(n) });
    let received = 0;
    peer.on('data', (chunk: Buffer) => {
      received += chunk.length;
      // Slow: reads in bursts, pausing in between.
      peer.pause();
      setImmediate(() => peer.resume());
    });
    const packet = { cmd: 'publish' as const, topic: 't', payload: Buffer.alloc(40 * 1024), qos: 0 as const, retain: false, dup: false };
    let sent = 0;
    for (let i = 0; i < 200; i++) {
      sent += mqttPacket.generate(packet).length;
      if (!mqttPacket.writeToStream(packet, conn)) await once(conn, 'drain');
    }
    await waitFor(() => received === sent, { description: 'everything arrived' });
    expect(cuts).toEqual([]);
    expect(conn.destroyed).toBe(false);
  });
});
