import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import { tlsPeerOf, type TlsPeers } from './auth/tls-peer.js';
import { clip } from './auth/log-fields.js';
import { GuardedConnection } from './guarded-connection.js';

export interface ConnectionServerOptions {
  /** aedes.handle */
  handle: (conn: Duplex) => void;
  maxRemainingLength: number;
  logger: Logger;
  /** Filled with the peer state of every TLS connection, keyed by the stream handed to aedes. */
  tlsPeers: TlsPeers;
  /** Kernel accept queue of each listener (net.Server listen `backlog`); Node's default is 511. */
  listenBacklog?: number;
  /** DD-050: unread bytes a connection may hold in the broker before it is cut (GuardedConnection). */
  maxOutgoingBufferBytes: number;
  /** Counts a connection cut for that (the log line is written here). */
  onTooSlow?: () => void;
}

/** PEM material of a TLS listener. */
export interface TlsListenerOptions {
  /** Server certificate, optionally followed by its intermediates. */
  cert: Buffer;
  key: Buffer;
  /** CA of device certificates: clients are asked for one, and authenticate decides (DD-023). Absent: none asked. */
  clientCa?: Buffer;
  /** A connection that has not finished its handshake by then is dropped. */
  handshakeTimeoutMs: number;
}

export interface ConnectionServer {
  /** A plain TCP listener. */
  listen(host: string, port: number): Promise<AddressInfo>;
  /** A TLS listener beside (or instead of) the plain one; same guard, same handling after the handshake. */
  listenTls(host: string, port: number, tls: TlsListenerOptions): Promise<AddressInfo>;
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
 * TCP and TLS listeners that hand aedes a GuardedConnection per connection:
 * reads pass a PacketSizeGuard (after decryption, for TLS), writes of one
 * tick leave as one socket write.
 */
export function createConnectionServer(options: ConnectionServerOptions): ConnectionServer {
  const { handle, maxRemainingLength, logger, tlsPeers, listenBacklog, maxOutgoingBufferBytes, onTooSlow } = options;
  /** Raw TCP sockets, TLS ones too from before their handshake, so that shutdown can end them all. */
  const sockets = new Set<Socket>();
  const remotes = new WeakMap<object, string>();
  const servers: Server[] = [];
  let closed = false;
  let stopped: Promise<void> | undefined;

  const track = (socket: Socket): void => {
    if (closed) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.setNoDelay(true);
  };

  const accept = (socket: Socket | TLSSocket, tls: boolean): void => {
    if (closed) {
      socket.destroy();
      return;
    }
    const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
    socket.on('error', (err) => logger.debug({ remote, tls, err: errorMessage(err) }, 'socket error'));

    const conn: GuardedConnection = new GuardedConnection(socket, {
      maxRemainingLength,
      onRefuse: (refusal) => logger.warn({ remote, ...refusal }, 'oversized or malformed packet, connection dropped'),
      maxOutgoingBufferBytes,
      onTooSlow: (bufferedBytes) => {
        onTooSlow?.();
        const clientId = clientIdOf(conn);
        logger.warn({ remote, ...(clientId !== undefined ? { clientId: clip(clientId) } : {}), code: 'CLIENT_TOO_SLOW', bufferedBytes, maxOutgoingBufferBytes }, 'slow client cut');
      },
    });
    remotes.set(conn, remote);
    if (tls) tlsPeers.set(conn, tlsPeerOf(socket as TLSSocket));
    try {
      handle(conn);
    } catch (err) {
      logger.error({ remote, err: errorMessage(err) }, 'connection setup failed');
      conn.destroy();
    }
  };

  const tlsServer = (tls: TlsListenerOptions): Server => {
    const server = createTlsServer(
      {
        cert: tls.cert,
        key: tls.key,
        handshakeTimeout: tls.handshakeTimeoutMs,
        // Asked, not required: password-only devices connect without one,
        // and authenticate refuses a CONNECT that came with a bad one (DD-023).
        ...(tls.clientCa ? { ca: tls.clientCa, requestCert: true, rejectUnauthorized: false } : { requestCert: false }),
      },
      (socket) => accept(socket, true),
    );
    server.on('connection', track);
    server.on('tlsClientError', (err, socket) => {
      const remote = `${socket.remoteAddress ?? '?'}:${socket.remotePort ?? '?'}`;
      logger.info({ remote, code: (err as { code?: unknown }).code, err: errorMessage(err) }, 'TLS handshake failed');
    });
    return server;
  };

  const start = (server: Server, host: string, port: number): Promise<AddressInfo> =>
    new Promise((resolve, reject) => {
      if (closed) {
        reject(new Error('connection server is stopped'));
        return;
      }
      servers.push(server);
      server.once('error', reject);
      server.listen({ port, host, ...(listenBacklog !== undefined ? { backlog: listenBacklog } : {}) }, () => {
        server.off('error', reject);
        server.on('error', (err) => logger.error({ err: errorMessage(err) }, 'listener error'));
        const address = server.address();
        if (address === null || typeof address === 'string') {
          reject(new Error('listener has no port'));
          return;
        }
        resolve(address);
      });
    });

  return {
    listen(host, port) {
      const server = createServer((socket) => {
        track(socket);
        accept(socket, false);
      });
      return start(server, host, port);
    },
    listenTls(host, port, tls) {
      let server: Server;
      try {
        server = tlsServer(tls);
      } catch (err) {
        // A key that does not match its certificate, unparsable PEM, …
        return Promise.reject(new Error(`cannot serve TLS with the configured certificate and key: ${errorMessage(err)}`, { cause: err }));
      }
      return start(server, host, port);
    },
    stopAccepting() {
      if (stopped) return stopped;
      closed = true;
      stopped = Promise.all(
        servers.map(
          (server) =>
            new Promise<void>((resolve) => {
              if (!server.listening) return resolve();
              server.close(() => resolve());
            }),
        ),
      ).then(() => undefined);
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

/** The MQTT client id aedes attached to a connection (`conn.client`, lib/client.js), once its CONNECT was read. */
function clientIdOf(conn: object): string | undefined {
  const client: unknown = Reflect.get(conn, 'client');
  const id: unknown = typeof client === 'object' && client !== null ? Reflect.get(client, 'id') : undefined;
  return typeof id === 'string' ? id : undefined;
}
