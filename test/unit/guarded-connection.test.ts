import { once } from 'node:events';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
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
    const conn = new GuardedConnection(server, { maxRemainingLength: 100 });
    const got = drain(conn);
    const publish = Buffer.concat([Buffer.from([0x30]), remainingLength(7), Buffer.from('\u0000\u0001ahello')]);
    peer.write(Buffer.concat([PINGREQ, publish]));
    await waitFor(() => Buffer.concat(got).length === PINGREQ.length + publish.length);
    expect(Buffer.concat(got).equals(Buffer.concat([PINGREQ, publish]))).toBe(true);
  });

  it('writes made while corked leave as one socket write, and arrive intact', async () => {
    const { server, peer } = await pair();
    const conn = new GuardedConnection(server, { maxRemainingLength: 100 });
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
    const conn = new GuardedConnection(server, { maxRemainingLength: 100, onRefuse: (r) => refusals.push(r) });
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
    const conn = new GuardedConnection(first.server, { maxRemainingLength: 100 });
    drain(conn);
    const ended = once(conn, 'end');
    first.peer.end();
    await ended;

    const second = await pair();
    const other = new GuardedConnection(second.server, { maxRemainingLength: 100 });
    const peerClosed = once(second.peer, 'close');
    other.destroy();
    await peerClosed;
    expect(second.server.destroyed).toBe(true);
  });
});
