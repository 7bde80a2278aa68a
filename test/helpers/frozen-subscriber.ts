import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';

export interface FrozenSubscriberOptions {
  /** `mqtt://host:port` */
  url: string;
  clientId: string;
  username?: string;
  password?: string;
  /** QoS 1 filters it subscribes to before it freezes. */
  topics: readonly string[];
  /** Persistent session (clean=false), like a device; default true. */
  persistent?: boolean;
  /** MQTT keepalive in seconds; default 0 (none), so only the broker's own bounds can end it. */
  keepaliveSeconds?: number;
}

export interface FrozenSubscriber {
  readonly socket: Socket;
  /** Stops reading the socket: what the broker writes piles up in the kernel, then in the broker. */
  freeze(): void;
  close(): void;
}

/**
 * Issue 13, F10: an MQTT client on a raw socket that connects, subscribes at
 * QoS 1, and then (freeze()) stops reading its socket without closing it —
 * a device whose process hangs, or a peer stuck behind a full receive
 * window. Packets are built with mqtt-packet; nothing is acknowledged.
 */
export async function connectFrozenSubscriber(opts: FrozenSubscriberOptions): Promise<FrozenSubscriber> {
  const url = new URL(opts.url);
  const socket = connect(Number(url.port), url.hostname);
  socket.on('error', () => undefined);
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  const parser = mqttPacket.parser({ protocolVersion: 4 });
  const packets: mqttPacket.Packet[] = [];
  socket.on('data', (chunk: Buffer) => parser.parse(chunk));
  parser.on('packet', (p) => packets.push(p));
  const next = (cmd: string): Promise<mqttPacket.Packet> =>
    new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`frozen subscriber ${opts.clientId}: no ${cmd} within 10 s`)), 10_000);
      const check = (): void => {
        const found = packets.find((p) => p.cmd === cmd);
        if (!found) return;
        clearTimeout(timer);
        parser.removeListener('packet', check);
        resolve(found);
      };
      parser.on('packet', check);
      check();
    });

  socket.write(
    mqttPacket.generate({
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion: 4,
      clientId: opts.clientId,
      clean: !(opts.persistent ?? true),
      keepalive: opts.keepaliveSeconds ?? 0,
      ...(opts.username !== undefined ? { username: opts.username } : {}),
      ...(opts.password !== undefined ? { password: Buffer.from(opts.password) } : {}),
    }),
  );
  const connack = (await next('connack')) as mqttPacket.IConnackPacket;
  if (connack.returnCode !== 0) throw new Error(`frozen subscriber ${opts.clientId}: CONNACK ${String(connack.returnCode)}`);
  socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: opts.topics.map((topic) => ({ topic, qos: 1 as const })) }));
  const suback = (await next('suback')) as mqttPacket.ISubackPacket;
  if (suback.granted.some((g) => typeof g === 'number' && g >= 0x80)) throw new Error(`frozen subscriber ${opts.clientId}: subscription refused ${JSON.stringify(suback.granted)}`);

  return {
    socket,
    freeze() {
      socket.removeAllListeners('data');
      socket.pause();
    },
    close() {
      socket.destroy();
    },
  };
}
