import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { Redis } from 'ioredis';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DeviceCredentials } from '../../shared/device-credentials.js';
import { Topics } from '../../shared/topics.js';
import { CLI } from '../helpers/agent-process.js';
import { freePort } from '../helpers/free-port.js';
import { spawnProcess, type ManagedProcess } from '../helpers/process.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * DD-035: `outpost broker --workers N` runs N broker processes that share the
 * listener and Redis. Which worker a connection reaches is the primary's
 * round-robin; the logs say which one took it (`outpost-broker-<i>`).
 */
const SERVICE = 'svc:outpost';
const topics = new Topics();

let redis: RedisServer;
let admin: Redis;
let credentials: DeviceCredentials;
const clients = new Set<MqttClient>();
const procs = new Set<ManagedProcess>();

beforeAll(async () => {
  redis = await startRedis();
  admin = new Redis(redis.url, { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  credentials = new DeviceCredentials(admin, 'outpost:');
});
afterEach(async () => {
  await Promise.all([...clients].map((c) => c.endAsync(true).catch(() => undefined)));
  clients.clear();
  await Promise.all([...procs].map((p) => p.stop()));
  procs.clear();
});
afterAll(async () => {
  admin?.disconnect();
  await redis?.stop();
});

interface Cluster {
  proc: ManagedProcess;
  url: string;
  servicePassword: string;
  /** PIDs of the running workers by index, from the primary's log. */
  workerPids(): Map<number, number>;
  /** Client ids each worker logged as connected, by worker index. */
  connectedOn(): Map<number, string[]>;
}

async function startCluster(workers: number, extraArgs: string[] = [], port?: number): Promise<Cluster> {
  const p = port ?? (await freePort());
  const servicePassword = randomBytes(16).toString('hex');
  const proc = spawnProcess(process.execPath, {
    name: `outpost broker --workers ${workers}`,
    args: [CLI, 'broker', '--host', '127.0.0.1', '--port', String(p), '--redis', redis.url, '--log-level', 'debug', '--workers', String(workers), ...extraArgs],
    env: { OUTPOST_SERVICE_PASSWORD: servicePassword },
    bufferLines: 5_000,
  });
  procs.add(proc);
  const records = (): Array<Record<string, unknown>> =>
    proc
      .output()
      .split('\n')
      .map((line) => line.replace(/^(out|err)\|/, ''))
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const cluster: Cluster = {
    proc,
    url: `mqtt://127.0.0.1:${p}`,
    servicePassword,
    workerPids() {
      const pids = new Map<number, number>();
      for (const r of records()) if (r.msg === 'broker worker listening') pids.set(Number(r.worker), Number(r.pid));
      return pids;
    },
    connectedOn() {
      const by = new Map<number, string[]>();
      for (const r of records()) {
        const m = typeof r.name === 'string' ? /^outpost-broker-(\d+)$/.exec(r.name) : null;
        if (!m || r.msg !== 'client connected') continue;
        const list = by.get(Number(m[1])) ?? [];
        list.push(String(r.clientId));
        by.set(Number(m[1]), list);
      }
      return by;
    },
  };
  return cluster;
}

async function listeningCluster(workers: number): Promise<Cluster> {
  const cluster = await startCluster(workers);
  await waitFor(() => cluster.workerPids().size === workers, { timeoutMs: 30_000, description: `${workers} workers listening\n${cluster.proc.output()}` });
  return cluster;
}

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...options }, false);
  clients.add(client);
  client.on('error', () => undefined);
  return client;
}

async function device(cluster: Cluster, id: string, options: IClientOptions = {}): Promise<MqttClient> {
  const secret = await credentials.issue(id);
  const client = await connect(cluster.url, { clientId: id, username: id, password: secret, clean: false, ...options });
  await client.subscribeAsync(topics.desired(id), { qos: 1 });
  return client;
}

describe('outpost broker --workers', () => {
  it('spreads devices over the workers; each gets what the service publishes, live and retained', async () => {
    const cluster = await listeningCluster(2);
    const ids = Array.from({ length: 8 }, (_, i) => `dev-workers-${i}`);
    const received = new Map<string, string[]>();
    for (const id of ids) {
      const client = await device(cluster, id);
      client.on('message', (_t, payload) => received.set(id, [...(received.get(id) ?? []), payload.toString()]));
    }
    // Both workers took devices: the fan-out below crosses processes.
    await waitFor(() => [0, 1].every((w) => (cluster.connectedOn().get(w) ?? []).some((c) => c.startsWith('dev-workers-'))), {
      description: 'devices connected on both workers',
    });
    const service = await connect(cluster.url, { clientId: 'svc:workers-fanout', username: SERVICE, password: cluster.servicePassword });
    for (const id of ids) await service.publishAsync(topics.desired(id), `doc for ${id}`, { qos: 1, retain: true });
    await waitFor(() => ids.every((id) => received.get(id)?.includes(`doc for ${id}`)), { description: 'every device got its document' });
    expect(ids.every((id) => received.get(id)?.length === 1)).toBe(true);

    // The retained copy is in Redis: a device coming back on whichever worker gets it.
    const late = await connect(cluster.url, { clientId: 'svc:workers-reader', username: SERVICE, password: cluster.servicePassword });
    const retained: string[] = [];
    late.on('message', (_t, payload, packet) => {
      if (packet.retain) retained.push(payload.toString());
    });
    await late.subscribeAsync(topics.desired('dev-workers-3'), { qos: 1 });
    await waitFor(() => retained.includes('doc for dev-workers-3'), { description: 'retained document read back' });
  });

  it('a CONNECT on one worker ends the same client id on the other, and the session moves with it', async () => {
    const cluster = await listeningCluster(2);
    const id = 'dev-workers-takeover';
    const secret = await credentials.issue(id);
    const options = { clientId: id, username: id, password: secret, clean: false };
    const connectsOf = (): number[] => [0, 1].map((w) => (cluster.connectedOn().get(w) ?? []).filter((c) => c === id).length);
    /** Connects once more and says which worker took it. */
    const connectAgain = async (): Promise<{ client: MqttClient; worker: number }> => {
      const before = connectsOf();
      const client = await connect(cluster.url, options);
      const worker = await waitFor(() => {
        const after = connectsOf();
        const w = after.findIndex((n, i) => n > (before[i] ?? 0));
        return w === -1 ? undefined : { w };
      });
      return { client, worker: worker.w };
    };
    let current = await connectAgain();
    await current.client.subscribeAsync(topics.desired(id), { qos: 1 });
    // Round-robin sends the next connection to the other worker; a same-worker takeover is retried.
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const previous = current;
      const closed = new Promise<void>((resolve) => previous.client.once('close', () => resolve()));
      current = await connectAgain();
      await closed;
      if (current.worker !== previous.worker) break;
    }
    const workersUsed = new Set([0, 1].filter((w) => (connectsOf()[w] ?? 0) > 0));
    expect(workersUsed.size).toBe(2);

    // The subscription made on the first worker is the session's, in Redis: the new connection has it.
    const got: string[] = [];
    current.client.on('message', (_t, payload) => got.push(payload.toString()));
    const service = await connect(cluster.url, { clientId: 'svc:workers-takeover', username: SERVICE, password: cluster.servicePassword });
    await service.publishAsync(topics.desired(id), 'after takeover', { qos: 1 });
    await waitFor(() => got.includes('after takeover'), { description: 'the moved session delivers' });
    expect(current.client.connected).toBe(true);
  });

  it('a worker killed with -9 is started again; its devices reconnect and are served', async () => {
    const cluster = await listeningCluster(2);
    const id = 'dev-workers-survivor';
    const secret = await credentials.issue(id);
    const client = await connect(cluster.url, { clientId: id, username: id, password: secret, clean: false, reconnectPeriod: 200 });
    await client.subscribeAsync(topics.desired(id), { qos: 1 });
    // Wrapped: worker 0 is falsy.
    const { worker } = await waitFor(() => {
      const found = [...cluster.connectedOn()].find(([, list]) => list.includes(id));
      return found ? { worker: found[0] } : undefined;
    });
    const pid = cluster.workerPids().get(worker);
    expect(pid).toBeGreaterThan(0);
    const reconnected = new Promise<void>((resolve) => client.once('close', () => client.once('connect', () => resolve())));
    process.kill(pid as number, 'SIGKILL');
    await cluster.proc.waitForLine(/broker worker died; starting it again/, 10_000);
    await reconnected;
    await waitFor(() => cluster.workerPids().get(worker) !== pid && cluster.workerPids().size === 2, {
      timeoutMs: 30_000,
      description: 'the killed worker runs again',
    });
    const got: string[] = [];
    client.on('message', (_t, payload) => got.push(payload.toString()));
    const service = await connect(cluster.url, { clientId: 'svc:workers-survivor', username: SERVICE, password: cluster.servicePassword });
    await service.publishAsync(topics.desired(id), 'after the crash', { qos: 1 });
    await waitFor(() => got.includes('after the crash'), { description: 'the reconnected device is served' });
  });

  it('SIGTERM closes every worker and exits 0; kill -9 of the primary takes the workers with it', async () => {
    const alive = (pid: number): boolean => {
      try {
        process.kill(pid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const graceful = await listeningCluster(2);
    const pids = [...graceful.workerPids().values()];
    graceful.proc.kill('SIGTERM');
    expect((await graceful.proc.waitForExit(20_000)).code).toBe(0);
    expect(graceful.proc.output().match(/"msg":"broker closed"/g)?.length).toBe(2);
    await waitFor(() => pids.every((pid) => !alive(pid)), { description: 'workers gone after SIGTERM' });

    const crashed = await listeningCluster(2);
    const crashedPids = [...crashed.workerPids().values()];
    crashed.proc.kill('SIGKILL');
    await crashed.proc.waitForExit(10_000);
    await waitFor(() => crashedPids.every((pid) => !alive(pid)), { timeoutMs: 10_000, description: 'workers gone after the primary was killed' });
  });

  it('refuses --workers above 1 with the local emitter, and stops when no worker can listen', async () => {
    const local = await startCluster(2, ['--emitter', 'local']);
    const exit = await local.proc.waitForExit(20_000);
    expect(exit.code).toBe(2);
    expect(local.proc.output()).toMatch(/workers.*needs the redis emitter/);

    const busy: Server = createServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', () => resolve()));
    const port = (busy.address() as { port: number }).port;
    try {
      const clash = await startCluster(2, [], port);
      const exited = await clash.proc.waitForExit(30_000);
      expect(exited.code).not.toBe(0);
      expect(clash.proc.output()).toMatch(/broker worker failed to start; stopping the broker/);
    } finally {
      await new Promise<void>((resolve) => busy.close(() => resolve()));
    }
  });
});
