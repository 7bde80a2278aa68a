import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it, onTestFinished } from 'vitest';
import { DeviceCredentials } from '../../shared/device-credentials.js';
import { Topics } from '../../shared/topics.js';
import { CLI } from '../helpers/agent-process.js';
import { freePort } from '../helpers/free-port.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';
import { connectEarly } from '../helpers/mqtt-connect-early.js';
import { join } from 'node:path';
import type { PacketSeal } from '../../broker/persistence/packet-seal.js';
import { ensureStoreKeyFile, readStoreKey } from '../../broker/persistence/store-key.js';
import { keysHolding } from '../helpers/redis-scan.js';
import { makeTempDir, type TempDir } from '../helpers/temp-dir.js';
import { PERSISTENCE_KINDS, persistenceProbe, type PersistenceKind } from '../helpers/persistence-probe.js';

const SERVICE = 'svc:outpost';
const topics = new Topics();

/** `outpost broker` as a child process, restartable on the same port and Redis. */
interface BrokerProcess {
  readonly url: string;
  readonly servicePassword: string;
  current(): ManagedProcess;
  start(): Promise<void>;
  kill9(): Promise<void>;
  stop(): Promise<void>;
}

async function startBrokerProcess(redis: RedisServer, persistence: PersistenceKind = 'outpost', emitter: Emitter = 'redis', workers = 1, storeKeyFile?: string): Promise<BrokerProcess> {
  const port = await freePort();
  const servicePassword = randomBytes(16).toString('hex');
  let proc: ManagedProcess | undefined;
  const self: BrokerProcess = {
    url: `mqtt://127.0.0.1:${port}`,
    servicePassword,
    current() {
      if (!proc) throw new Error('broker is not running');
      return proc;
    },
    async start() {
      const p = spawnProcess(process.execPath, {
        name: `outpost broker :${port}`,
        args: [CLI, 'broker', '--host', '127.0.0.1', '--port', String(port), '--redis', redis.url, '--log-level', 'debug', '--persistence', persistence, '--emitter', emitter, '--workers', String(workers)],
        // The store key from the environment: the workers re-run this command and get it too (DD-047).
        env: { OUTPOST_SERVICE_PASSWORD: servicePassword, ...(storeKeyFile !== undefined ? { OUTPOST_BROKER_STORE_KEY_FILE: storeKeyFile } : {}) },
        bufferLines: 2_000,
      });
      proc = p;
      await p.waitForLine(/"msg":"broker listening"/, 20_000);
    },
    async kill9() {
      const p = self.current();
      p.kill('SIGKILL');
      expect((await p.waitForExit(10_000)).signal).toBe('SIGKILL');
      proc = undefined;
    },
    async stop() {
      await proc?.stop();
      proc = undefined;
    },
  };
  await self.start();
  return self;
}

const clients = new Set<MqttClient>();

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(
    url,
    { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, resubscribe: false, ...options },
    false,
  );
  clients.add(client);
  client.on('error', () => undefined);
  return client;
}

interface Received {
  payload: string;
  retain: boolean;
}

function collect(client: MqttClient, topic: string): Received[] {
  const received: Received[] = [];
  client.on('message', (t, payload, packet) => {
    if (t === topic) received.push({ payload: payload.toString(), retain: packet.retain });
  });
  return received;
}

afterAll(async () => {
  await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
});

beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`npm run build\` first (npm test does)`);
});

type Emitter = 'redis' | 'local';
type Sealing = 'in clear' | 'sealed';
/**
 * Every persistence with the default emitter, the outpost persistence with
 * the in-process one, and two broker processes (DD-035; kill -9 of the
 * primary takes its workers down with it), those with a store key too (DD-047).
 */
const SETUPS: Array<[PersistenceKind, Emitter, number, Sealing]> = [
  ...PERSISTENCE_KINDS.map((k): [PersistenceKind, Emitter, number, Sealing] => [k, 'redis', 1, 'in clear']),
  ['outpost', 'local', 1, 'in clear'],
  ['outpost', 'redis', 2, 'in clear'],
  ['outpost', 'redis', 2, 'sealed'],
];

describe.each(SETUPS)('broker durability (child process, %s persistence, %s emitter, %i worker(s), stored %s)', (kind, emitter, workers, sealing) => {
  let redis: RedisServer;
  let admin: Redis;
  let credentials: DeviceCredentials;
  let dir: TempDir | undefined;
  let storeKeyFile: string | undefined;
  let seal: PacketSeal | undefined;
  const brokerProcess = (r: RedisServer, k: PersistenceKind, e: Emitter, w: number): Promise<BrokerProcess> => startBrokerProcess(r, k, e, w, storeKeyFile);

  beforeAll(async () => {
    if (sealing === 'sealed') {
      dir = await makeTempDir('store-key');
      storeKeyFile = join(dir.path, 'broker-store.key');
      await ensureStoreKeyFile(storeKeyFile);
      seal = readStoreKey(storeKeyFile);
    }
    redis = await startRedis({ appendonly: true, appendfsync: 'always' });
    admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
    admin.on('error', () => undefined);
    credentials = new DeviceCredentials(admin, 'outpost:');
  });
  afterAll(async () => {
    admin?.disconnect();
    await redis?.stop();
    await dir?.remove();
  });

  it('after kill -9 and a restart on the same Redis, an offline device gets the retained latest and every queued version', async () => {
    const broker = await brokerProcess(redis, kind, emitter, workers);
    onTestFinished(() => broker.stop());
    const probe = persistenceProbe(kind, admin, 'outpost:', seal);
    const deviceId = `dev-durable-${kind}-${emitter}-${workers}-${sealing.replace(' ', '-')}`;
    const secret = await credentials.issue(deviceId);
    const deviceOptions: IClientOptions = { clientId: deviceId, username: deviceId, password: secret, clean: false };
    const desired = topics.desired(deviceId);

    const first = await connect(broker.url, deviceOptions);
    expect((await first.subscribeAsync(desired, { qos: 1 }))[0]?.qos).toBe(1);
    await first.endAsync();

    const svc = await connect(broker.url, { clientId: 'svc:durability', username: SERVICE, password: broker.servicePassword });
    for (const version of [1, 2, 3]) {
      await svc.publishAsync(desired, JSON.stringify({ version }), { qos: 1, retain: true });
    }
    await svc.endAsync();
    // aedes 1.x sends the PUBACK before it stores the retained copy and the
    // offline queue; Outpost's broker stores both first (DD-010, DD-058), so
    // both are in Redis once the publisher holds the PUBACK: no waiting here.
    expect(await probe.queueLength(deviceId)).toBe(3);
    expect((await probe.retained(desired))?.includes('{"version":3}')).toBe(true);

    // With a store key no payload is in Redis in clear (the probe above opened them with the key).
    if (sealing === 'sealed') expect(await keysHolding(redis.url, '{"version":')).toEqual([]);

    await broker.kill9();
    await broker.start();

    // Collecting from before the CONNACK: queued messages follow right behind it.
    let got: Received[] = [];
    const device = await connectEarly(broker.url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, resubscribe: false, ...deviceOptions }, (c) => {
      got = collect(c, desired);
    });
    clients.add(device);
    device.on('error', () => undefined);
    // Like an agent: resubscribe explicitly on every connect so the retained document arrives.
    await device.subscribeAsync(desired, { qos: 1 });
    await waitFor(() => [1, 2, 3].every((v) => got.some((m) => m.payload === JSON.stringify({ version: v }))), {
      description: 'versions 1, 2 and 3 delivered',
      timeoutMs: 15_000,
    });
    const versions = got.map((m) => (JSON.parse(m.payload) as { version: number }).version);
    expect(Math.max(...versions)).toBe(3);
    // Queued once each (the early queue write and aedes's own are one entry); 3 may come again as the retained copy.
    expect([1, 2].map((v) => versions.filter((x) => x === v).length)).toEqual([1, 1]);
    await device.endAsync();

    // The retained document a newcomer sees is the latest.
    const newcomer = await connect(broker.url, { clientId: 'svc:probe', username: SERVICE, password: broker.servicePassword });
    const retained = collect(newcomer, desired);
    await newcomer.subscribeAsync(desired, { qos: 1 });
    await waitFor(() => retained[0]);
    expect(retained).toEqual([{ payload: JSON.stringify({ version: 3 }), retain: true }]);
    await newcomer.endAsync();
  });

  it('survives Redis being killed and restarted under it, and serves again once Redis is back', async () => {
    const broker = await brokerProcess(redis, kind, emitter, workers);
    onTestFinished(() => broker.stop());
    const deviceId = `dev-redis-blip-${kind}-${emitter}-${workers}-${sealing.replace(' ', '-')}`;
    const secret = await credentials.issue(deviceId);
    const deviceOptions: IClientOptions = { clientId: deviceId, username: deviceId, password: secret, clean: false };
    const desired = topics.desired(deviceId);
    const attached = await connect(broker.url, deviceOptions);
    await attached.subscribeAsync(desired, { qos: 1 });

    await redis.kill9();
    const proc = broker.current();
    await proc.waitForLine(/"msg":"redis connection lost"/, 10_000);
    // While Redis is away, a CONNECT is answered "server unavailable" (3), not left hanging.
    const refused = await connect(broker.url, deviceOptions).then(
      () => 'accepted',
      (err: unknown) => (err as { code?: number }).code,
    );
    expect(refused).toBe(3);
    // A publish into the outage from the connected session must not crash anything either.
    attached.publish(topics.reported(deviceId), 'during-outage', { qos: 1 });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(proc.exitInfo).toBeUndefined();

    await redis.restart();
    await proc.waitForLine(/"redis":"persistence".*"msg":"redis connection restored"/, 15_000);

    const device = await waitFor(() => connect(broker.url, deviceOptions), {
      description: 'device can connect again',
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    const got = collect(device, desired);
    await device.subscribeAsync(desired, { qos: 1 });
    const svc = await waitFor(
      () => connect(broker.url, { clientId: 'svc:after-blip', username: SERVICE, password: broker.servicePassword }),
      { timeoutMs: 10_000 },
    );
    await svc.publishAsync(desired, 'after-restart', { qos: 1 });
    await waitFor(() => got.find((m) => m.payload === 'after-restart'), { timeoutMs: 10_000 });
    await Promise.all([device.endAsync(), svc.endAsync()]);

    expect(proc.exitInfo).toBeUndefined();
    expect(proc.output()).not.toMatch(/Unhandled|uncaught|ERR_UNHANDLED_REJECTION/i);
  });
});

describe('outpost broker CLI', () => {
  it('exits 2 listing every bad setting, flags and env alike', async () => {
    const proc = spawnProcess(process.execPath, {
      args: [CLI, 'broker', '--port', 'abc', '--redis', 'http://nope', '--log-level', 'loud'],
      env: { OUTPOST_TOPIC_PREFIX: 'bad/#', OUTPOST_SERVICE_PASSWORD: 'short' },
    });
    const exit = await proc.waitForExit(20_000);
    expect(exit.code).toBe(2);
    for (const key of ['port', 'redisUrl', 'logLevel', 'topicPrefix', 'servicePassword']) {
      expect(proc.output()).toContain(`- ${key} (`);
    }
    expect(proc.output()).not.toContain('short');
  });

  it('refuses a missing store key file, creating none, and a store key with the legacy persistence (DD-047)', async () => {
    const dir = await makeTempDir('store-key-cli');
    onTestFinished(() => dir.remove());
    const missing = join(dir.path, 'absent.key');
    const proc = spawnProcess(process.execPath, {
      args: [CLI, 'broker', '--redis', 'redis://127.0.0.1:1', '--store-key-file', missing],
    });
    expect((await proc.waitForExit(20_000)).code).toBe(2);
    expect(proc.output()).toContain(`- storeKeyFile (--store-key-file / OUTPOST_BROKER_STORE_KEY_FILE): cannot read ${missing}`);
    expect(proc.output()).toContain('head -c 32 /dev/urandom | base64');
    expect(existsSync(missing)).toBe(false);

    const key = join(dir.path, 'broker-store.key');
    await ensureStoreKeyFile(key);
    const legacy = spawnProcess(process.execPath, {
      args: [CLI, 'broker', '--redis', 'redis://127.0.0.1:1', '--persistence', 'legacy'],
      env: { OUTPOST_BROKER_STORE_KEY_FILE: key },
    });
    expect((await legacy.waitForExit(20_000)).code).toBe(2);
    expect(legacy.output()).toContain('- storeKeyFile (--store-key-file / OUTPOST_BROKER_STORE_KEY_FILE): needs the outpost persistence');
  });

  it('add-device prints a secret the device connects with; remove-device locks it out', async () => {
    const redis = await startRedis();
    onTestFinished(() => redis.stop());
    const broker = await startBrokerProcess(redis);
    onTestFinished(() => broker.stop());
    const deviceId = 'dev-cli';

    const add = spawnProcess(process.execPath, { args: [CLI, 'broker', 'add-device', deviceId], env: { REDIS_URL: redis.url } });
    expect((await add.waitForExit(20_000)).code).toBe(0);
    const secret = add.output().split('\n').find((l) => l.startsWith('out|'))?.slice(4) ?? '';
    expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const device = await connect(broker.url, { clientId: deviceId, username: deviceId, password: secret });
    await device.endAsync();

    const remove = spawnProcess(process.execPath, { args: [CLI, 'broker', 'remove-device', deviceId, '--redis', redis.url] });
    expect((await remove.waitForExit(20_000)).code).toBe(0);
    const refused = await connect(broker.url, { clientId: deviceId, username: deviceId, password: secret }).then(
      () => 'accepted',
      (err: unknown) => (err as { code?: number }).code,
    );
    expect(refused).toBe(5);
  });
});
