import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { FaultLink } from '../../bench/chaos/fault-link.js';
import { waitFor } from '../helpers/wait-for.js';

/** A TCP echo server standing in for a broker: what the relay does to bytes is what is tested. */
async function echoServer(): Promise<{ server: Server; port: number; sockets: Set<Socket> }> {
  const sockets = new Set<Socket>();
  const server = createServer((s) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s)).on('error', () => undefined);
    s.on('data', (d) => s.write(d));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  return { server, port: typeof address === 'object' && address ? address.port : 0, sockets };
}

/** A client of the link that collects what comes back and whether its connection closed. */
async function client(link: FaultLink): Promise<{ socket: Socket; received: () => string; closed: () => boolean }> {
  const socket = connect(Number(new URL(link.url).port), '127.0.0.1');
  let received = '';
  let closed = false;
  socket.on('data', (d) => (received += d.toString()));
  socket.on('close', () => (closed = true)).on('error', () => undefined);
  await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
  return { socket, received: () => received, closed: () => closed };
}

describe('chaos fault link (bench/chaos)', () => {
  const cleanup: (() => Promise<void> | void)[] = [];
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });

  const start = async (): Promise<{ link: FaultLink; echo: Awaited<ReturnType<typeof echoServer>> }> => {
    const echo = await echoServer();
    cleanup.push(() => new Promise<void>((r) => echo.server.close(() => r())));
    cleanup.push(() => echo.sockets.forEach((s) => s.destroy()));
    const link = await FaultLink.start(echo.port, () => 0);
    cleanup.push(() => link.close());
    return { link, echo };
  };

  it('relays both ways; cut() closes the client’s connection', async () => {
    const { link } = await start();
    const c = await client(link);
    c.socket.write('ping');
    await waitFor(() => c.received() === 'ping', { timeoutMs: 5_000, description: 'the echo' });
    link.cut();
    await waitFor(() => c.closed(), { timeoutMs: 5_000, description: 'the client sees its connection close' });
  });

  it('half-open: the open connection goes silent without being closed, a new one works', async () => {
    const { link } = await start();
    const stale = await client(link);
    link.halfOpen();
    stale.socket.write('lost');
    const fresh = await client(link);
    fresh.socket.write('fresh');
    await waitFor(() => fresh.received() === 'fresh', { timeoutMs: 5_000, description: 'the new connection echoes' });
    expect(stale.received()).toBe('');
    expect(stale.closed()).toBe(false);
    // A heal forgets the silent flow, as a NAT would.
    link.heal();
    await waitFor(() => stale.closed(), { timeoutMs: 5_000, description: 'the silent connection closed on heal' });
  });

  it('partition: new connections are accepted and hear nothing until heal; then the link works again', async () => {
    const { link } = await start();
    link.partition();
    const during = await client(link);
    during.socket.write('nothing');
    link.heal();
    await waitFor(() => during.closed(), { timeoutMs: 5_000, description: 'the partitioned connection closed on heal' });
    expect(during.received()).toBe('');
    const after = await client(link);
    after.socket.write('back');
    await waitFor(() => after.received() === 'back', { timeoutMs: 5_000, description: 'the echo after heal' });
  });

  it('freeze: the broker’s bytes stop reaching the device, the device’s still reach the broker; heal delivers what waited', async () => {
    const { link, echo } = await start();
    const c = await client(link);
    c.socket.write('a');
    await waitFor(() => c.received() === 'a', { timeoutMs: 5_000, description: 'the first echo' });
    let serverGot = '';
    for (const s of echo.sockets) s.on('data', (d) => (serverGot += d.toString()));
    link.freeze();
    c.socket.write('b');
    await waitFor(() => serverGot === 'b', { timeoutMs: 5_000, description: 'the broker side received b' });
    expect(c.received()).toBe('a');
    link.heal();
    await waitFor(() => c.received() === 'ab', { timeoutMs: 5_000, description: 'the held echo arrives after heal' });
  });

  it('slow(): every chunk arrives at least the delay later, in order', async () => {
    const { link } = await start();
    const c = await client(link);
    link.slow({ bitsPerSecond: 64_000, delayMs: 300, lossRate: 0, retransmitMs: 1_000 });
    const t0 = Date.now();
    c.socket.write('x');
    c.socket.write('y');
    await waitFor(() => c.received() === 'xy', { timeoutMs: 5_000, description: 'the shaped echo' });
    // Both directions are shaped: the round trip carries the delay twice.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(600);
  });
});
