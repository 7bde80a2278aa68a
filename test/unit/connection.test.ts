import { EventEmitter } from 'node:events';
import { describe, expect, it } from 'vitest';
import type { IClientOptions, MqttClient } from 'mqtt';
import { DeviceConnection, type ConnectionOptions } from '../../agent/mqtt/connection.js';
import { silentLogger } from '../../shared/logger.js';
import { ManualClock } from '../helpers/manual-clock.js';

/** A stand-in MQTT.js client: records what the connection asks of it; the test drives its events. */
class FakeClient extends EventEmitter {
  subscribed: string[][] = [];
  ended = false;
  handleMessage: ((packet: unknown, cb: () => void) => void) | undefined;
  constructor(readonly options: IClientOptions) {
    super();
  }
  subscribe(topics: Record<string, unknown>, cb: (err: Error | null, granted: { topic: string; qos: number }[]) => void): void {
    this.subscribed.push(Object.keys(topics));
    cb(null, Object.keys(topics).map((topic) => ({ topic, qos: 1 })));
  }
  /** When set, PUBACKs never come (a broker that died with the PUBLISH in flight). */
  holdPublishes = false;
  publish(_t: string, _p: unknown, _o: unknown, cb?: (err?: Error) => void): void {
    if (!this.holdPublishes) cb?.();
  }
  end(_force?: boolean, _opts?: unknown, cb?: () => void): void {
    this.ended = true;
    cb?.();
  }
}

function setup(over: Partial<ConnectionOptions> = {}) {
  const clients: FakeClient[] = [];
  const urls: string[] = [];
  const clock = new ManualClock();
  let epoch = 0;
  const conn = new DeviceConnection(
    {
      deviceId: 'dev-1',
      brokerUrl: 'mqtt://127.0.0.1:1',
      secret: 's',
      keepaliveSeconds: 60,
      connectTimeoutMs: 1000,
      reconnect: { baseMs: 1000, capMs: 8000, factor: 2 },
      watchdogMs: 60_000,
      subscriptions: ['outpost/v1/devices/dev-1/desired'],
      presenceTopic: 'outpost/v1/devices/dev-1/presence',
      publishTimeoutMs: 1000,
      ...over,
    },
    {
      connect: (url, options) => {
        urls.push(url);
        const c = new FakeClient(options);
        clients.push(c);
        return c as unknown as MqttClient;
      },
      clock,
      random: () => 0.999,
      logger: silentLogger(),
      nextEpoch: async () => ++epoch,
      presencePayload: (status, e) => JSON.stringify({ status, epoch: e }),
      onMessage: async () => undefined,
    },
  );
  return { conn, clients, clock, urls };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('DeviceConnection', () => {
  it('with failover brokers: the next attempt after a failed one or a lost connection goes to the next broker, round robin, each with a new epoch', async () => {
    const { conn, clients, clock, urls } = setup({ brokerUrl: 'mqtt://a:1883', failoverUrls: ['mqtt://b:1883', 'mqtt://c:1883'] });
    conn.start();
    await tick();
    expect(conn.currentBrokerUrl).toBe('mqtt://a:1883');
    clients[0]!.emit('close'); // a refuses or is down
    await clock.advance(10_000);
    clients[1]!.emit('connect', { sessionPresent: true });
    expect(conn.isConnected).toBe(true);
    clients[1]!.emit('close'); // b dies while connected
    await clock.advance(10_000);
    clients[2]!.emit('close');
    await clock.advance(10_000);
    expect(urls).toEqual(['mqtt://a:1883', 'mqtt://b:1883', 'mqtt://c:1883', 'mqtt://a:1883']);
    expect(clients.map((c) => JSON.parse(String(c.options.will?.payload)).epoch)).toEqual([1, 2, 3, 4]);
    await conn.close();
  });

  it('a publish waiting for its PUBACK fails as soon as its connection goes, not at the time-out, so it is resent on the next one', async () => {
    const { conn, clients } = setup({ publishTimeoutMs: 60_000 });
    conn.start();
    await tick();
    clients[0]!.emit('connect', { sessionPresent: false });
    clients[0]!.holdPublishes = true;
    const pending = conn.publish('outpost/v1/devices/dev-1/events', 'x', { retain: false });
    clients[0]!.emit('close');
    await expect(pending).rejects.toThrow(/connection lost before the PUBACK/);
    await conn.close();
  });

  it('with one broker, every attempt goes to it', async () => {
    const { conn, clients, clock, urls } = setup();
    conn.start();
    await tick();
    clients[0]!.emit('close');
    await clock.advance(10_000);
    expect(urls).toEqual(['mqtt://127.0.0.1:1', 'mqtt://127.0.0.1:1']);
    await conn.close();
  });

  it('connects with a persistent session, client id = device id, MQTT.js reconnect and resubscribe off, will with the epoch', async () => {
    const { conn, clients } = setup();
    conn.start();
    await tick();
    const o = clients[0]!.options;
    expect(o).toMatchObject({ clientId: 'dev-1', username: 'dev-1', clean: false, reconnectPeriod: 0, resubscribe: false, protocolVersion: 4 });
    expect(o.will?.retain).toBe(true);
    expect(JSON.parse(String(o.will?.payload))).toEqual({ status: 'offline', epoch: 1 });
    await conn.close();
  });

  it('subscribes explicitly on every connect, also with the session present', async () => {
    const { conn, clients, clock } = setup();
    let subscribedEvents = 0;
    conn.on('subscribed', () => subscribedEvents++);
    conn.start();
    await tick();
    clients[0]!.emit('connect', { sessionPresent: false });
    clients[0]!.emit('close');
    await clock.advance(10_000);
    expect(clients).toHaveLength(2);
    clients[1]!.emit('connect', { sessionPresent: true });
    expect(clients.map((c) => c.subscribed)).toEqual([[['outpost/v1/devices/dev-1/desired']], [['outpost/v1/devices/dev-1/desired']]]);
    expect(subscribedEvents).toBe(2);
    expect(JSON.parse(String(clients[1]!.options.will?.payload)).epoch).toBe(2);
    await conn.close();
  });

  it('reconnects with exponential backoff (full jitter below the ceiling), each attempt a fresh client', async () => {
    const { conn, clients, clock } = setup();
    conn.start();
    await tick();
    const attemptsAt: number[] = [];
    for (let i = 0; i < 5; i++) {
      const before = clients.length;
      clients[before - 1]!.emit('close');
      const start = clock.now();
      while (clients.length === before) await clock.advance(100);
      attemptsAt.push(clock.now() - start);
    }
    // random() = 0.999 → just under the ceiling: 1 s, 2 s, 4 s, 8 s, then capped at 8 s.
    expect(attemptsAt).toEqual([1000, 2000, 4000, 8000, 8000]);
    expect(clients.slice(0, -1).every((c) => c.ended)).toBe(true);
    await conn.close();
  });

  it('resets the backoff after a successful connect', async () => {
    const { conn, clients, clock } = setup();
    conn.start();
    await tick();
    clients[0]!.emit('close');
    await clock.advance(1000);
    clients[1]!.emit('close');
    await clock.advance(2000);
    clients[2]!.emit('connect', { sessionPresent: false });
    clients[2]!.emit('close');
    const before = clients.length;
    await clock.advance(1000);
    expect(clients.length).toBe(before + 1);
    await conn.close();
  });

  it('the watchdog recreates the client when the reconnect loop has gone silent', async () => {
    const { conn, clients, clock } = setup({ watchdogMs: 1000 });
    conn.start();
    await tick();
    // The client never reports anything (no connect, no close): a latched-off library.
    const before = clients.length;
    await clock.advance(750);
    expect(clients.length).toBe(before);
    await clock.advance(500);
    expect(clients.length).toBeGreaterThan(before);
    expect(clients[0]!.ended).toBe(true);
    await conn.close();
  });
});
