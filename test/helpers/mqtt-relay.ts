import { createServer, connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

/** One MQTT packet that crossed the relay. */
export interface RelayedPacket {
  /** up: client → broker; down: broker → client. */
  direction: 'up' | 'down';
  cmd: string;
  /** PUBLISH only. */
  topic?: string;
  payload?: Buffer;
  /** CONNECT only. */
  keepalive?: number;
  /** PUBLISH (QoS > 0) and its acknowledgements. */
  messageId?: number;
  /** The whole packet on the wire: fixed header, length and remaining length. */
  bytes: number;
  /** Wall clock (ms) when the chunk that completed it arrived. */
  at: number;
}

/** One chunk read from a socket: about one TCP segment of the link. */
export interface RelayedChunk {
  direction: 'up' | 'down';
  bytes: number;
  at: number;
}

/** Bytes of the MQTT fixed header and remaining length for a packet whose remaining length is `length`. */
export function packetBytes(length: number): number {
  let header = 2;
  for (let rest = length >> 7; rest > 0; rest >>= 7) header += 1;
  return header + length;
}

export interface MqttRelay {
  readonly url: string;
  readonly packets: RelayedPacket[];
  /** Every chunk relayed, in order. */
  readonly chunks: RelayedChunk[];
  /** Connections accepted so far (each is one TCP connection of the client). */
  readonly connections: number;
  /** Bytes that crossed, per direction (TCP payload, i.e. MQTT level). */
  readonly bytes: { up: number; down: number };
  /** PUBLISH packets in one direction, optionally on topics ending with `suffix` (e.g. '/events'). */
  publishes(direction: 'up' | 'down', suffix?: string): RelayedPacket[];
  /** Forget what was counted so far. */
  reset(): void;
  /** Cut every relayed connection (the client sees its link drop). */
  cut(): void;
  /**
   * Half-open: the connections open now stay open but carry nothing more, either way, and
   * neither end is told (no FIN, no RST), as when a NAT or a cellular link loses the flow.
   * Later connections work normally.
   */
  blackhole(): void;
  close(): Promise<void>;
}

/** A slow link: each direction has this bandwidth, and every chunk arrives this much later. */
export interface LinkShape {
  bitsPerSecond: number;
  delayMs: number;
}

/**
 * One direction of a shaped link, in order: a chunk leaves once the ones
 * before it have (bandwidth), and arrives `delayMs` after it left.
 */
function shaper(link: LinkShape | undefined, deliver: (chunk: Buffer) => void): (chunk: Buffer) => void {
  if (!link) return deliver;
  let freeAt = 0;
  return (chunk) => {
    const start = Math.max(Date.now(), freeAt);
    freeAt = start + (chunk.length * 8 * 1000) / link.bitsPerSecond;
    setTimeout(() => deliver(chunk), freeAt + link.delayMs - Date.now());
  };
}

/**
 * A loopback TCP relay between an MQTT client and its broker that parses
 * both directions (MQTT 3.1.1) and records every packet and byte: what a
 * device's metered link would carry (issue 11). With `link`, both directions
 * are shaped like a slow cellular link (tc netem is not available here).
 */
/** `listenPort`: a port reserved earlier (e.g. one a client already has in its broker list); a free one by default. */
export async function startMqttRelay(brokerPort: number, link?: LinkShape, listenPort = 0): Promise<MqttRelay> {
  const sockets = new Set<Socket>();
  /** Sockets whose bytes are dropped from now on (blackhole()). */
  const dead = new WeakSet<Socket>();
  const packets: RelayedPacket[] = [];
  const chunks: RelayedChunk[] = [];
  const bytes = { up: 0, down: 0 };
  let connections = 0;
  const record = (direction: 'up' | 'down') => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: mqttPacket.Packet) => {
      const publish = p.cmd === 'publish' ? (p as mqttPacket.IPublishPacket) : null;
      const messageId = (p as { messageId?: number }).messageId;
      packets.push({
        direction,
        cmd: p.cmd,
        bytes: packetBytes(p.length ?? 0),
        at: Date.now(),
        ...(messageId !== undefined ? { messageId } : {}),
        ...(publish ? { topic: publish.topic, payload: Buffer.isBuffer(publish.payload) ? publish.payload : Buffer.from(publish.payload) } : {}),
        ...(p.cmd === 'connect' ? { keepalive: (p as mqttPacket.IConnectPacket).keepalive } : {}),
      });
    });
    return (chunk: Buffer): void => {
      bytes[direction] += chunk.length;
      chunks.push({ direction, bytes: chunk.length, at: Date.now() });
      parser.parse(chunk);
    };
  };
  const server = createServer((client) => {
    const upstream = connect(brokerPort, '127.0.0.1');
    connections += 1;
    sockets.add(client).add(upstream);
    const up = record('up');
    const down = record('down');
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    const toBroker = shaper(link, (chunk) => {
      if (!upstream.destroyed) upstream.write(chunk);
    });
    const toClient = shaper(link, (chunk) => {
      if (!client.destroyed) client.write(chunk);
    });
    client.on('data', (chunk: Buffer) => {
      if (dead.has(client)) return;
      up(chunk);
      toBroker(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      if (dead.has(upstream)) return;
      down(chunk);
      toClient(chunk);
    });
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(listenPort, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    packets,
    chunks,
    get connections() {
      return connections;
    },
    bytes,
    publishes: (direction, suffix) => packets.filter((p) => p.direction === direction && p.cmd === 'publish' && (suffix === undefined || p.topic?.endsWith(suffix))),
    reset() {
      packets.length = 0;
      chunks.length = 0;
      connections = 0;
      bytes.up = 0;
      bytes.down = 0;
    },
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    blackhole() {
      for (const s of sockets) dead.add(s);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
