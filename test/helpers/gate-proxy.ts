import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { waitFor } from './wait-for.js';

export interface GateProxy {
  readonly port: number;
  /** `127.0.0.1:<port>`: use it as the registry host of image references. */
  readonly host: string;
  /** Every request seen, as `METHOD /path`, in arrival order. */
  readonly requests: readonly string[];
  /** Holds back every later request whose path matches, until `open()`. */
  hold(path: RegExp): void;
  /** Lets held requests (and all later ones) through. */
  open(): void;
  /** Resolves with the first request held since `hold()`. */
  waitForHeld(timeoutMs?: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * An HTTP proxy in front of a loopback server (a registry) that can hold
 * requests at a gate, so a test sees a download in progress and acts while
 * it is stuck there, without guessing how long it takes. Unlike
 * delay-proxy.ts it works per request, not per TCP chunk.
 */
export async function startGateProxy(targetPort: number): Promise<GateProxy> {
  const requests: string[] = [];
  let gate: RegExp | null = null;
  let held: { line: string; resume: () => void }[] = [];
  let heldSinceHold: string[] = [];

  const forward = (req: IncomingMessage, res: ServerResponse): void => {
    const upstream = request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  };

  const server = createServer((req, res) => {
    const line = `${req.method ?? '?'} ${req.url ?? ''}`;
    requests.push(line);
    if (gate && gate.test(req.url ?? '')) {
      heldSinceHold.push(line);
      held.push({ line, resume: () => forward(req, res) });
      return;
    }
    forward(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;

  return {
    port,
    host: `127.0.0.1:${port}`,
    requests,
    hold(path) {
      gate = path;
      heldSinceHold = [];
    },
    open() {
      gate = null;
      const waiting = held;
      held = [];
      for (const h of waiting) h.resume();
    },
    waitForHeld: (timeoutMs = 30_000) =>
      waitFor(() => heldSinceHold[0], { timeoutMs, description: `a request held at the gate; seen: ${requests.slice(-5).join(', ')}` }),
    close: () =>
      new Promise<void>((resolve) => {
        gate = null;
        held = [];
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
