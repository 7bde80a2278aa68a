import { connect, createServer, type Socket } from 'node:net';
import { seededRandom } from '../../shared/seeded-random.js';
import { defaultRtoMs, newDirectionState, scheduleChunk, type DirectionState, type LossModel } from './tcp-loss-model.js';
import { trackPair } from './socket-pair.js';

export interface LossyLinkOptions {
  /** Where the proxy forwards to. */
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Where the proxy listens (e.g. the host's end of a device's veth); loopback by default. */
  readonly listenHost?: string;
  readonly delayMs: number;
  readonly lossRate: number;
  /** Same seed, same losses at the same segment numbers of each direction. */
  readonly seed: number;
  readonly rtoMs?: number;
  readonly mss?: number;
}

export interface LossyLinkStats {
  readonly up: Readonly<DirectionState>;
  readonly down: Readonly<DirectionState>;
  readonly connections: number;
}

export interface LossyLink {
  readonly host: string;
  readonly port: number;
  readonly model: LossModel;
  /** Counts so far; up: client → target, down: target → client. */
  stats(): LossyLinkStats;
  close(): Promise<void>;
}

/** In-order delivery of one direction: a single timer for the head of a queue sorted by construction. */
function deliveryQueue(write: (chunk: Buffer) => void): (chunk: Buffer, at: number) => void {
  const queue: { chunk: Buffer; at: number }[] = [];
  let timer: NodeJS.Timeout | undefined;
  const pump = (): void => {
    timer = undefined;
    while (queue.length && (queue[0]?.at ?? 0) <= Date.now()) write((queue.shift() as { chunk: Buffer }).chunk);
    if (queue.length) timer = setTimeout(pump, (queue[0]?.at ?? 0) - Date.now());
  };
  return (chunk, at) => {
    queue.push({ chunk, at });
    if (!timer) timer = setTimeout(pump, at - Date.now());
  };
}

/**
 * A TCP proxy that makes a link slow and lossy as TCP shows it to the
 * application (tcp-loss-model.ts): every segment `delayMs` late, each lost
 * with `lossRate` and delivered after its retransmission time-out, with what
 * follows held behind it. Seeded per direction; the model is shared by every
 * connection, so losses keep their segment numbers across reconnects.
 */
export async function startLossyLink(opts: LossyLinkOptions): Promise<LossyLink> {
  const model: LossModel = { delayMs: opts.delayMs, lossRate: opts.lossRate, rtoMs: opts.rtoMs ?? defaultRtoMs(opts.delayMs), mss: opts.mss ?? 1448 };
  const random = { up: seededRandom(opts.seed), down: seededRandom(opts.seed ^ 0x5bd1e995) };
  const totals = { up: newDirectionState(), down: newDirectionState() };
  const sockets = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections += 1;
    const upstream = connect(opts.targetPort, opts.targetHost ?? '127.0.0.1');
    const drop = trackPair(sockets, client, upstream);
    const direction = (name: 'up' | 'down', to: Socket): ((chunk: Buffer) => void) => {
      const state = newDirectionState();
      const enqueue = deliveryQueue((chunk) => {
        if (!to.destroyed) to.write(chunk);
      });
      return (chunk) => {
        const before = { ...state };
        for (const s of scheduleChunk(model, state, Date.now(), chunk.length, random[name])) enqueue(chunk.subarray(s.start, s.end), s.deliverAt);
        totals[name].segments += state.segments - before.segments;
        totals[name].lost += state.lost - before.lost;
        totals[name].retransmitWaitMs += state.retransmitWaitMs - before.retransmitWaitMs;
      };
    };
    client.on('data', direction('up', upstream));
    upstream.on('data', direction('down', client));
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  const host = opts.listenHost ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, host, resolve));
  const address = server.address();
  return {
    host,
    port: typeof address === 'object' && address ? address.port : 0,
    model,
    stats: () => ({ up: { ...totals.up }, down: { ...totals.down }, connections }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
