import type { Socket } from 'node:net';

/**
 * A forwarded connection (the client's socket and the one to the target),
 * tracked in `sockets` so that closing the forwarder can destroy what is
 * open. Returns drop(): destroys both and forgets them (idempotent).
 */
export function trackPair(sockets: Set<Socket>, client: Socket, upstream: Socket): () => void {
  sockets.add(client).add(upstream);
  return () => {
    client.destroy();
    upstream.destroy();
    sockets.delete(client);
    sockets.delete(upstream);
  };
}
