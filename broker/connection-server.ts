import { createServer, type AddressInfo, type Socket } from 'node:net';
import { Duplex, pipeline } from 'node:stream';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { PacketSizeGuard } from './packet-size-guard.js';

export interface ConnectionServerOptions {
  /** aedes.handle */
  handle: (conn: Duplex) => void;
  maxRemainingLength: number;
  logger: Logger;
}

export interface ConnectionServer {
  listen(host: string, port: number): Promise<AddressInfo>;
  /**
   * Stops accepting connections. The promise settles once every open
   * connection has ended too (see destroyConnections). Idempotent.
   */
  stopAccepting(): Promise<void>;
  /** Destroys every connection still open, including ones aedes never registered (no CONNECT yet). */
  destroyConnections(): void;
  /** `address:port` of the peer behind a connection handed to aedes. */
  remoteOf(conn: unknown): string | undefined;
}

/**
 * TCP listener that hands aedes a guarded duplex per socket: reads come
 * through a PacketSizeGuard, writes go straight to the socket.
 */
export function createConnectionServer(options: ConnectionServerOptions): ConnectionServer {
  const { handle, maxRemainingLength, logger } = options;
  const sockets = new Set<Socket>();
  const remotes = new WeakMap<object, string>();
  let closed = false;
  let stopped: Promise<void> | undefined;

  const server = createServer((socket) => {
    if (closed) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
    socket.on('error', (err) => logger.debug({ remote, err: errorMessage(err) }, 'socket error'));

    const guard = new PacketSizeGuard({
      maxRemainingLength,
      onRefuse: (refusal) => logger.warn({ remote, ...refusal }, 'oversized or malformed packet, connection dropped'),
    });
    // pipeline destroys the socket when the guard fails, and the guard when the socket does.
    pipeline(socket, guard, () => undefined);
    const conn = Duplex.from({ readable: guard, writable: socket });
    remotes.set(conn, remote);
    try {
      handle(conn);
    } catch (err) {
      logger.error({ remote, err: errorMessage(err) }, 'connection setup failed');
      conn.destroy();
    }
  });

  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          server.on('error', (err) => logger.error({ err: errorMessage(err) }, 'listener error'));
          const address = server.address();
          if (address === null || typeof address === 'string') {
            reject(new Error('TCP listener has no port'));
            return;
          }
          resolve(address);
        });
      });
    },
    stopAccepting() {
      if (stopped) return stopped;
      closed = true;
      stopped = new Promise<void>((resolve) => {
        if (!server.listening) return resolve();
        server.close(() => resolve());
      });
      return stopped;
    },
    destroyConnections() {
      for (const socket of sockets) socket.destroy();
    },
    remoteOf(conn) {
      return typeof conn === 'object' && conn !== null ? remotes.get(conn) : undefined;
    },
  };
}
