import { request } from 'node:http';
import { connect } from 'node:net';

/** Agent-side probes for `http` and `tcp` health checks. Injected, so tests can point them anywhere. */
export interface Prober {
  http(host: string, port: number, path: string, timeoutMs: number): Promise<{ ok: true; status: number } | { ok: false; error: string; status?: number }>;
  tcp(host: string, port: number, timeoutMs: number): Promise<{ ok: true } | { ok: false; error: string }>;
}

export const netProber: Prober = {
  http(host, port, path, timeoutMs) {
    return new Promise((resolve) => {
      const req = request({ host, port, path, method: 'GET', timeout: timeoutMs }, (res) => {
        res.resume();
        resolve({ ok: true, status: res.statusCode ?? 0 });
      });
      req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
      req.on('error', (err) => resolve({ ok: false, error: err.message }));
      req.end();
    });
  },
  tcp(host, port, timeoutMs) {
    return new Promise((resolve) => {
      const socket = connect({ host, port });
      const timer = setTimeout(() => {
        socket.destroy();
        resolve({ ok: false, error: `no connection within ${timeoutMs} ms` });
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.destroy();
        resolve({ ok: true });
      });
      socket.once('error', (err) => {
        clearTimeout(timer);
        resolve({ ok: false, error: err.message });
      });
    });
  },
};
