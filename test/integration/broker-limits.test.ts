import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import type { IClientOptions, MqttClient } from 'mqtt';
import { captureLogs, type LogLine } from '../helpers/log-capture.js';
import { describe, expect, it, onTestFailed, onTestFinished } from 'vitest';
import { parseBrokerConfig, type BrokerConfigInput } from '../../broker/config.js';
import { createBroker, type OutpostBroker } from '../../broker/create-broker.js';
import { Topics } from '../../shared/topics.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';
import { connectEarly } from '../helpers/mqtt-connect-early.js';
import { within } from '../helpers/within.js';
import { remainingLength } from '../helpers/mqtt-bytes.js';
import { PERSISTENCE_KINDS, persistenceProbe, type PersistenceKind, type PersistenceProbe } from '../helpers/persistence-probe.js';

/**
 * DD-020: what one device can make the broker store in Redis is bounded.
 * Real Redis, real aedes broker on a random loopback port, raw MQTT.js clients,
 * on each persistence (DD-028).
 */

const SERVICE = 'svc:outpost';
const SERVICE_PASSWORD = randomBytes(16).toString('hex');
const topics = new Topics();

/**
 * Stated bound (docs/operations.md "Broker limits"): a device flooding QoS 2
 * PUBLISHes leaves no inbound QoS 2 record in Redis, and all of aedes's keys
 * together grow by less than this while the flood sends 5 MiB.
 */
const QOS2_FLOOD_GROWTH_BOUND_BYTES = 64 * 1024;
const FLOOD_ROUNDS = 5;
const FLOOD_MESSAGES_PER_ROUND = 1000;
const FLOOD_PAYLOAD_BYTES = 1024;

interface Env {
  broker: OutpostBroker;
  url: string;
  redis: RedisServer;
  /** Reads Redis directly, as an operator would. */
  admin: Redis;
  /** The persistence's state in Redis. */
  probe: PersistenceProbe;
  logs: LogLine[];
  enroll(deviceId: string): Promise<string>;
  /** A device client; closed when the test ends. */
  device(deviceId: string, extra?: IClientOptions): Promise<MqttClient>;
  /** A device client whose messages are collected from before its CONNACK (queued ones follow right behind it). */
  deviceCollecting(deviceId: string): Promise<{ client: MqttClient; got: Map<string, string[]> }>;
  service(): Promise<MqttClient>;
}

/** A fresh Redis and broker for one test, cleaned up when it ends. */
async function startEnv(persistence: PersistenceKind, overrides: Partial<BrokerConfigInput> = {}): Promise<Env> {
  const redis = await startRedis();
  onTestFinished(() => redis.stop());
  const admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  onTestFinished(() => admin.disconnect());
  const { logger, logs } = captureLogs();
  onTestFailed(() => {
    process.stderr.write(`\n----- broker log (last lines) -----\n${logs.slice(-200).map((l) => JSON.stringify(l)).join('\n')}\n`);
  });
  const config = parseBrokerConfig({
    host: '127.0.0.1',
    port: 0,
    redisUrl: redis.url,
    servicePassword: SERVICE_PASSWORD,
    logLevel: 'debug',
    persistence,
    ...overrides,
  });
  const broker = await createBroker(config, { logger });
  onTestFinished(() => broker.close());
  const url = `mqtt://127.0.0.1:${(await broker.listen()).port}`;
  const secrets = new Map<string, string>();

  async function connect(options: IClientOptions, attach: (client: MqttClient) => void = () => undefined): Promise<MqttClient> {
    const client = await connectEarly(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, resubscribe: false, ...options }, attach);
    client.on('error', () => undefined);
    onTestFinished(() => client.endAsync(true).catch(() => undefined));
    return client;
  }

  return {
    broker,
    url,
    redis,
    admin,
    probe: persistenceProbe(persistence, admin),
    logs,
    async enroll(deviceId) {
      const secret = await broker.credentials.issue(deviceId);
      secrets.set(deviceId, secret);
      return secret;
    },
    device: (deviceId, extra = {}) =>
      connect({ clientId: deviceId, username: deviceId, password: secrets.get(deviceId) ?? '', clean: false, ...extra }),
    async deviceCollecting(deviceId) {
      let got = new Map<string, string[]>();
      const client = await connect({ clientId: deviceId, username: deviceId, password: secrets.get(deviceId) ?? '', clean: false }, (c) => {
        got = collect(c);
      });
      return { client, got };
    },
    service: () => connect({ clientId: `svc:limits-${randomBytes(4).toString('hex')}`, username: SERVICE, password: SERVICE_PASSWORD }),
  };
}

/** Payloads received per topic. */
function collect(client: MqttClient): Map<string, string[]> {
  const got = new Map<string, string[]>();
  client.on('message', (topic, payload) => {
    const list = got.get(topic) ?? [];
    list.push(payload.toString());
    got.set(topic, list);
  });
  return got;
}


/**
 * A QoS 2 PUBLISH, encoded by hand: written straight to the socket, so
 * MQTT.js knows nothing of it and ignores the PUBREC ("ack in error"), i.e.
 * never sends the PUBREL that would let aedes delete what it stored.
 */
function closed(client: MqttClient): Promise<void> {
  if (!client.connected) return Promise.resolve();
  return new Promise((resolve) => client.once('close', () => resolve()));
}

function qos2Publish(topic: string, messageId: number, payload: Buffer): Buffer {
  const name = Buffer.from(topic, 'utf8');
  const nameLength = Buffer.alloc(2);
  nameLength.writeUInt16BE(name.length, 0);
  const id = Buffer.alloc(2);
  id.writeUInt16BE(messageId, 0);
  const body = Buffer.concat([nameLength, name, id, payload]);
  return Buffer.concat([Buffer.from([0x34]), remainingLength(body.length), body]);
}

/** Every key aedes's persistence owns, with its MEMORY USAGE. */
async function aedesFootprint(admin: Redis, probe: PersistenceProbe): Promise<{ keys: number; bytes: number; incoming: number }> {
  let cursor = '0';
  const footprint = { keys: 0, bytes: 0, incoming: 0 };
  do {
    const [next, keys] = await admin.scan(cursor, 'COUNT', 1000);
    cursor = next;
    for (const key of keys.filter((k) => probe.ownsKey(k))) {
      footprint.keys += 1;
      footprint.bytes += Number(await admin.call('MEMORY', 'USAGE', key, 'SAMPLES', '0'));
      if (probe.isIncomingKey(key)) footprint.incoming += 1;
    }
  } while (cursor !== '0');
  return footprint;
}

const desiredDoc = (deviceId: string, version: number): string => JSON.stringify({ protocol: 1, deviceId, version });

describe.each(PERSISTENCE_KINDS)('broker limits (DD-020), %s persistence', (kind) => {
  it(`a device flooding QoS 2 (${FLOOD_ROUNDS} reconnects × ${FLOOD_MESSAGES_PER_ROUND} × ${FLOOD_PAYLOAD_BYTES} B) grows aedes's Redis keys by < ${QOS2_FLOOD_GROWTH_BOUND_BYTES} B while other devices keep converging`, async () => {
    const env = await startEnv(kind);
    const flooder = 'dev-flood';
    const others = ['dev-ok-1', 'dev-ok-2', 'dev-ok-3', 'dev-ok-4', 'dev-ok-5'];
    for (const id of [flooder, ...others]) await env.enroll(id);

    const received = new Map<string, Map<string, string[]>>();
    for (const id of others) {
      const client = await env.device(id);
      received.set(id, collect(client));
      await client.subscribeAsync(topics.desired(id), { qos: 1 });
    }
    const svc = await env.service();
    const converge = async (version: number): Promise<void> => {
      await Promise.all(others.map((id) => svc.publishAsync(topics.desired(id), desiredDoc(id, version), { qos: 1, retain: true })));
      await waitFor(() => others.every((id) => received.get(id)?.get(topics.desired(id))?.includes(desiredDoc(id, version))), {
        description: `every other device has desired version ${version}`,
      });
    };
    await converge(1);
    const before = await aedesFootprint(env.admin, env.probe);

    const payload = Buffer.alloc(FLOOD_PAYLOAD_BYTES, 0x71);
    let pubrecs = 0;
    let closedByBroker = 0;
    for (let round = 1; round <= FLOOD_ROUNDS; round++) {
      // clean=false: the session (and, before DD-020, every stored QoS 2 message) outlives the connection.
      const client = await env.device(flooder);
      let answered = 0;
      let isClosed = false;
      client.on('packetreceive', (packet) => {
        if (packet.cmd === 'pubrec') answered += 1;
      });
      client.once('close', () => {
        isClosed = true;
      });
      // Fresh message ids every round: aedes's in-flight cap (1000) starts again with each connection.
      const ids = Array.from({ length: FLOOD_MESSAGES_PER_ROUND }, (_, i) => (round - 1) * FLOOD_MESSAGES_PER_ROUND + i + 1);
      client.stream.write(Buffer.concat(ids.map((id) => qos2Publish(topics.events(flooder), id, payload))));
      // Published while the flood is being refused.
      await converge(round + 1);
      // Refused: the broker closes the connection. (Accepted, it would answer every one with a PUBREC.)
      await waitFor(() => isClosed || answered === FLOOD_MESSAGES_PER_ROUND, { description: `flood round ${round} answered` });
      pubrecs += answered;
      if (isClosed) closedByBroker += 1;
      await client.endAsync(true);
    }

    const after = await aedesFootprint(env.admin, env.probe);
    expect(after.incoming).toBe(0);
    expect(after.bytes - before.bytes).toBeLessThan(QOS2_FLOOD_GROWTH_BOUND_BYTES);
    expect({ pubrecs, closedByBroker }).toEqual({ pubrecs: 0, closedByBroker: FLOOD_ROUNDS });
    // Refused with a coded warning, once per connection, not once per packet.
    const refusals = env.logs.filter((l) => l.msg === 'publish refused' && l['clientId'] === flooder && l.level === 40);
    expect(refusals.length).toBe(FLOOD_ROUNDS);
    expect(refusals[0]).toMatchObject({ code: 'QOS_NOT_ALLOWED', qos: 2, deviceId: flooder });
  });

  it('a device offline while 50 QoS 1 messages are queued for it (maxQueuedMessages 20) gets only the newest 20, and the retained desired document still arrives', async () => {
    const max = 20;
    const env = await startEnv(kind, { maxQueuedMessages: max, maxSessionDelivery: 100 });
    const id = 'dev-offline';
    await env.enroll(id);
    const first = await env.device(id);
    await first.subscribeAsync([topics.desired(id), topics.commands(id)], { qos: 1 });
    await first.endAsync();

    const svc = await env.service();
    await svc.publishAsync(topics.desired(id), desiredDoc(id, 1), { qos: 1, retain: true });
    const command = (n: number): string => `command-${String(n).padStart(3, '0')}`;
    for (let n = 1; n <= 50; n++) await svc.publishAsync(topics.commands(id), command(n), { qos: 1 });
    // aedes queues after the PUBACK: wait until the last command is the newest entry.
    await waitFor(async () => String((await env.probe.queued(id)).at(-1)?.['payload'] ?? '') === command(50), {
      description: 'the last command is queued',
    });
    expect(await env.probe.queueLength(id)).toBe(max);
    // The dropped messages' packets went with their entries.
    expect(await env.probe.storedPackets()).toBe(max);

    const { client: device, got } = await env.deviceCollecting(id);
    // Like an agent: subscribe explicitly on every connect, so the retained document comes.
    await device.subscribeAsync([topics.desired(id), topics.commands(id)], { qos: 1 });
    const newest = Array.from({ length: max }, (_, i) => command(50 - max + 1 + i));
    await waitFor(() => newest.every((c) => got.get(topics.commands(id))?.includes(c)), { description: 'the newest 20 commands' });
    await waitFor(() => got.get(topics.desired(id))?.includes(desiredDoc(id, 1)), { description: 'the retained desired document' });
    await svc.publishAsync(topics.commands(id), 'sentinel', { qos: 1 });
    await waitFor(() => got.get(topics.commands(id))?.includes('sentinel'), { description: 'the sentinel' });

    expect([...new Set(got.get(topics.commands(id)))].sort()).toEqual([...newest, 'sentinel'].sort());
    // Everything acknowledged: no queue entry and no packet left behind.
    await waitFor(async () => (await env.probe.queueLength(id)) === 0 && (await env.probe.storedPackets()) === 0, {
      description: 'queue and packets released after the PUBACKs',
    });
  });

  it("the session sweep removes the session, queue and will of a device whose credential was deleted, and keeps an enrolled offline device's", async () => {
    const env = await startEnv(kind, { sessionSweepIntervalMs: 200 });
    const gone = 'dev-decommissioned';
    const kept = 'dev-enrolled';
    for (const id of [gone, kept]) {
      await env.enroll(id);
      const client = await env.device(id);
      await client.subscribeAsync([topics.desired(id), topics.commands(id)], { qos: 1 });
      await client.endAsync();
    }
    const svc = await env.service();
    for (const id of [gone, kept]) {
      for (let v = 1; v <= 3; v++) await svc.publishAsync(topics.desired(id), desiredDoc(id, v), { qos: 1, retain: true });
    }
    await waitFor(async () => (await env.probe.queueLength(gone)) === 3 && (await env.probe.queueLength(kept)) === 3, {
      description: 'three versions queued for each device',
    });
    // Wills a broker that died with both devices connected would have left.
    const willOf = (clientId: string) => ({ brokerId: 'dead-broker', clientId });
    for (const id of [gone, kept]) await env.probe.plantWill(willOf(id));

    expect(await env.broker.credentials.revoke(gone)).toBe(true);
    const passes = (): number => env.logs.filter((l) => l.msg === 'session sweep pass').length;
    await waitFor(
      async () =>
        !Object.values(await env.probe.session(gone)).includes(true) && !(await env.probe.wills()).some((w) => w.clientId === gone),
      { description: `${gone}'s subscriptions, queue and will removed` },
    );
    // One more whole pass, so `kept` was looked at after the credential went.
    const seen = passes();
    await waitFor(() => passes() > seen, { description: 'another sweep pass' });

    expect(await env.probe.session(kept)).toEqual({ stored: true, listed: true });
    expect(await env.probe.queueLength(kept)).toBe(3);
    expect(await env.probe.wills()).toContainEqual(willOf(kept));
    // Only the kept device's three packets are left.
    expect(await env.probe.storedPackets()).toBe(3);
    expect(env.logs.find((l) => l.msg === 'state of devices without a credential removed')).toMatchObject({
      level: 30,
      deviceIds: [gone],
    });

    // The kept session is whole: its queue arrives on reconnect.
    const { client: device, got } = await env.deviceCollecting(kept);
    expect(device.connected).toBe(true);
    await waitFor(() => [1, 2, 3].every((v) => got.get(topics.desired(kept))?.includes(desiredDoc(kept, v))), {
      description: 'the kept device gets its queued versions',
    });
  });

  it('QoS 2 anywhere else: a QoS 2 will is refused at CONNECT, the service may not publish QoS 2, a QoS 2 subscription is served at QoS 1, a PUBREC is refused', async () => {
    const env = await startEnv(kind);
    const id = 'dev-qos';
    await env.enroll(id);

    const will = { topic: topics.presence(id), payload: Buffer.from('offline'), qos: 2 as const, retain: true };
    await expect(env.device(id, { will })).rejects.toMatchObject({ code: 5 });
    expect(env.logs.find((l) => l.msg === 'authentication refused' && l['clientId'] === id)).toMatchObject({ code: 'QOS_NOT_ALLOWED' });

    const forger = await env.service();
    const forgerGone = closed(forger);
    forger.publish(topics.desired(id), desiredDoc(id, 1), { qos: 2, retain: true });
    await within(10_000, 'the broker closes the QoS 2 publisher', forgerGone);
    expect(env.logs.find((l) => l.msg === 'publish refused' && l['service'] === SERVICE)).toMatchObject({ level: 40, code: 'QOS_NOT_ALLOWED' });
    expect(await env.probe.retained(topics.desired(id))).toBeNull();

    const device = await env.device(id);
    const publishes: Array<{ payload: string; qos: number; messageId: number | undefined }> = [];
    device.on('packetreceive', (packet) => {
      if (packet.cmd === 'publish') publishes.push({ payload: packet.payload.toString(), qos: packet.qos, messageId: packet.messageId });
    });
    // MQTT.js sends the PUBACK only once this calls back: the message stays in flight.
    device.handleMessage = () => undefined;
    await within(10_000, 'SUBACK', device.subscribeAsync(topics.commands(id), { qos: 2 }));
    const svc = await env.service();
    await within(10_000, "the command's PUBACK", svc.publishAsync(topics.commands(id), 'in-flight', { qos: 1 }));
    const inFlight = await waitFor(() => publishes.find((p) => p.payload === 'in-flight'), { description: 'the command' });
    expect(inFlight.qos).toBe(1);

    // A PUBREC answers only QoS 2, which the broker never sends: the connection is closed.
    const deviceGone = closed(device);
    const messageId = inFlight.messageId ?? 0;
    device.stream.write(Buffer.from([0x50, 0x02, messageId >> 8, messageId & 0xff]));
    await within(10_000, 'the broker closes the device that sent a PUBREC', deviceGone);
    expect(env.logs.find((l) => l.msg === 'PUBREC refused: the broker never sends QoS 2')).toMatchObject({ level: 40, clientId: id });
    // The queue entry is still the plain packet, redelivered on the next connect.
    const queued = await env.probe.queued(id);
    expect(queued).toHaveLength(1);
    expect(queued[0]).toMatchObject({ cmd: 'publish', qos: 1 });
    const { got } = await env.deviceCollecting(id);
    await waitFor(() => got.get(topics.commands(id))?.includes('in-flight'), { description: 'the command redelivered' });
  });

  it("the controller's purge (a clean=true CONNECT as the device) leaves none of the queued messages behind", async () => {
    const env = await startEnv(kind);
    const id = 'dev-purged';
    await env.enroll(id);
    const first = await env.device(id);
    await first.subscribeAsync([topics.desired(id), topics.commands(id)], { qos: 1 });
    await first.endAsync();
    const svc = await env.service();
    for (let v = 1; v <= 5; v++) await svc.publishAsync(topics.desired(id), desiredDoc(id, v), { qos: 1, retain: true });
    await waitFor(async () => (await env.probe.queueLength(id)) === 5, { description: 'five versions queued' });
    expect(await env.probe.storedPackets()).toBe(5);

    const purge = await env.device(id, { clean: true });
    await purge.endAsync();
    await waitFor(async () => !Object.values(await env.probe.session(id)).includes(true), { description: 'session removed' });
    // aedes-persistence-redis alone deletes the list but leaves every packet it referred to.
    await waitFor(async () => (await env.probe.storedPackets()) === 0, { description: 'queued packets released' });
  });
});
