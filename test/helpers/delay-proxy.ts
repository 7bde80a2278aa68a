import { createServer, connect, type Socket } from 'node:net';
import { trackPair } from './socket-pair.js';

export interface DelayProxy {
  readonly port: number;
  /** Milliseconds each client→server chunk is held back; change at any time. */
  delayMs: number;
  close(): Promise<void>;
}

/**
 * A loopback TCP proxy that delays what clients send, to widen race windows
 * (e.g. between a broker's PUBACK and its Redis write) so tests can observe
 * them. tc netem is not available on these machines.
 */
export async function startDelayProxy(targetPort: number, delayMs: number): Promise<DelayProxy> {
  const sockets = new Set<Socket>();
  const proxy: DelayProxy = { port: 0, delayMs, close: async () => undefined };
  const server = createServer((client) => {
    const upstream = connect(targetPort, '127.0.0.1');
    const drop = trackPair(sockets, client, upstream);
    client.on('data', (chunk) => {
      setTimeout(() => upstream.write(chunk), proxy.delayMs);
    });
    upstream.on('data', (chunk) => client.write(chunk));
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  Object.assign(proxy, {
    port: typeof address === 'object' && address ? address.port : 0,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  });
  return proxy;
}
