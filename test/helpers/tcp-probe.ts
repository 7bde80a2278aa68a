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
