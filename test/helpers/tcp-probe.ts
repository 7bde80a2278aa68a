import { readFile } from 'node:fs/promises';
import { connect } from 'node:net';

/** One connection attempt; resolves true if `host:port` accepts within `timeoutMs`. */
export function canConnect(port: number, host = '127.0.0.1', timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (ok: boolean): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Sends `request` and resolves with whatever arrives first (or '' on timeout/error).
 * Enough for text protocols such as Redis' inline `PING`.
 */
export function exchange(port: number, request: string, host = '127.0.0.1', timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    let received = '';
    const done = (): void => {
      socket.removeAllListeners();
      socket.on('error', () => undefined);
      socket.destroy();
      resolve(received);
    };
    socket.setEncoding('utf8');
    socket.setTimeout(timeoutMs, done);
    socket.once('connect', () => socket.write(request));
    socket.on('data', (chunk: string) => {
      received += chunk;
      if (received.includes('\n')) done();
    });
    socket.once('error', done);
    socket.once('close', done);
  });
}

/**
 * TCP connections in state ESTABLISHED whose local port is `port`, i.e. the
 * clients a server on this machine has accepted right now, read from the
 * kernel (/proc/net/tcp and tcp6): what a reconnect storm has reached so far,
 * whatever the server itself says (or whether it is alive to say it).
 */
export async function establishedConnections(port: number): Promise<number> {
  const hexPort = port.toString(16).toUpperCase().padStart(4, '0');
  let n = 0;
  for (const file of ['/proc/net/tcp', '/proc/net/tcp6']) {
    const text = await readFile(file, 'utf8').catch(() => '');
    for (const line of text.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state === '01' && local?.endsWith(`:${hexPort}`)) n += 1;
    }
  }
  return n;
}
