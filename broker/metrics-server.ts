import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';
import type { MetricsEndpoint } from '../shared/metrics-endpoint.js';

export interface MetricsServer {
  /** Resolves with the bound port (0 asks the kernel for one). */
  listen(host: string, port: number): Promise<number>;
  close(): Promise<void>;
}

/**
 * The broker's plain-HTTP metrics listener (DD-039): GET /metrics and
 * nothing else. No token: it binds to loopback unless --metrics-host says
 * otherwise, and serves counts only (no topics, ids or payloads).
 */
export function createMetricsServer(endpoint: MetricsEndpoint, logger: Logger): MetricsServer {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics') {
      res.writeHead(404, { 'content-type': 'text/plain; charset=utf-8' }).end('not found: the broker serves GET /metrics only\n');
      return;
    }
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD', 'content-type': 'text/plain; charset=utf-8' }).end('method not allowed\n');
      return;
    }
    endpoint.render().then(
      (text) => res.writeHead(200, { 'content-type': endpoint.contentType }).end(req.method === 'HEAD' ? undefined : text),
      (err: unknown) => {
        logger.warn({ err: errorMessage(err) }, 'metrics scrape failed');
        res.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' }).end('metrics unavailable\n');
      },
    );
  });
  let listening = false;
  return {
    listen(host, port) {
      return new Promise((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          listening = true;
          resolve((server.address() as AddressInfo).port);
        });
      });
    },
    close() {
      if (!listening) return Promise.resolve();
      listening = false;
      server.closeAllConnections();
      return new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
