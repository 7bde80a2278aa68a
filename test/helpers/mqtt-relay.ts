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
}

export interface MqttRelay {
  readonly url: string;
  readonly packets: RelayedPacket[];
  /** Bytes that crossed, per direction (TCP payload, i.e. MQTT level). */
  readonly bytes: { up: number; down: number };
  /** PUBLISH packets in one direction, optionally on topics ending with `suffix` (e.g. '/events'). */
  publishes(direction: 'up' | 'down', suffix?: string): RelayedPacket[];
  /** Forget what was counted so far. */
  reset(): void;
  /** Cut every relayed connection (the client sees its link drop). */
  cut(): void;
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
export async function startMqttRelay(brokerPort: number, link?: LinkShape): Promise<MqttRelay> {
  const sockets = new Set<Socket>();
  const packets: RelayedPacket[] = [];
  const bytes = { up: 0, down: 0 };
  const record = (direction: 'up' | 'down') => {
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p: mqttPacket.Packet) => {
      const publish = p.cmd === 'publish' ? (p as mqttPacket.IPublishPacket) : null;
      packets.push({
        direction,
        cmd: p.cmd,
        ...(publish ? { topic: publish.topic, payload: Buffer.isBuffer(publish.payload) ? publish.payload : Buffer.from(publish.payload) } : {}),
        ...(p.cmd === 'connect' ? { keepalive: (p as mqttPacket.IConnectPacket).keepalive } : {}),
      });
    });
    return (chunk: Buffer): void => {
      bytes[direction] += chunk.length;
      parser.parse(chunk);
    };
  };
  const server = createServer((client) => {
    const upstream = connect(brokerPort, '127.0.0.1');
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
      up(chunk);
      toBroker(chunk);
    });
    upstream.on('data', (chunk: Buffer) => {
      down(chunk);
      toClient(chunk);
    });
    client.on('close', drop).on('error', drop);
    upstream.on('close', drop).on('error', drop);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `mqtt://127.0.0.1:${port}`,
    packets,
    bytes,
    publishes: (direction, suffix) => packets.filter((p) => p.direction === direction && p.cmd === 'publish' && (suffix === undefined || p.topic?.endsWith(suffix))),
    reset() {
      packets.length = 0;
      bytes.up = 0;
      bytes.down = 0;
    },
    cut() {
      for (const s of sockets) s.destroy();
      sockets.clear();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
