/**
 * Benchmark: a reconnect storm. N raw MQTT.js devices (default 2,000) with
 * persistent sessions (clean=false, QoS 1 subscription to their own exact
 * desired topic), enrolled in the broker's credential store, go away; a
 * retained QoS 1 desired document is published to each while they are away;
 * then all reconnect at once. Measured per persistence (DD-028), each on a
 * fresh broker child process and a fresh Redis, in the same invocation:
 * time until every device has its document (p50/p99/max), lost, duplicated,
 * CONNACK time-outs, broker CPU seconds (/proc/<pid>/stat), Redis commands
 * and Redis CPU per reconnect (INFO deltas / N). Prints JSON and a markdown
 * table with the ratio legacy / outpost.
 *
 * Usage: node dist/bench/broker-storm.js [--devices 2000] [--persistence legacy,outpost]
 *        [--connack-timeout-ms 15000] [--deadline-s 300] [--listen-backlog 4096] [--emitter redis|local] [--no-will] [--profile-dir DIR]
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createConnection, createServer, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { z } from 'zod';
import { PERSISTENCE_KINDS, type PersistenceKind } from '../broker/persistence/kinds.js';
import { DeviceCredentials } from '../shared/device-credentials.js';
import { Topics } from '../shared/topics.js';
import { cpuSeconds, startBenchChild, waitUntil, type BenchChild } from './lib/child-process.js';
import { freePort } from './lib/free-port.js';

const CLI = new URL('../cli/main.js', import.meta.url).pathname;
/** Clients set up (first connect, subscribe) at a time before the storm: set-up speed is not measured. */
const SETUP_CONCURRENCY = 100;

const Options = z.object({
  devices: z.coerce.number().int().min(1).max(100_000).default(2000),
  persistence: z
    .string()
    .default('legacy,outpost')
    .transform((s) => s.split(',').map((k) => k.trim()))
    .pipe(z.array(z.enum(PERSISTENCE_KINDS)).min(1)),
  connackTimeoutMs: z.coerce.number().int().min(1000).default(15_000),
  deadlineS: z.coerce.number().int().min(10).default(300),
  listenBacklog: z.coerce.number().int().min(1).default(4096),
  /** The broker's emitter (DD-028): redis (several broker processes can share Redis) or local. */
  emitter: z.enum(['redis', 'local']).default('redis'),
  /** Writes a V8 CPU profile of each broker run there (node --cpu-prof). */
  profileDir: z.string().min(1).optional(),
  /** Each device has a presence will (QoS 1, retained), as agents do. */
  will: z.boolean().default(true),
});
type Options = z.infer<typeof Options>;

interface StormResult {
  persistence: PersistenceKind;
  devices: number;
  converged: number;
  lost: number;
  duplicated: number;
  connackTimeouts: number;
  /** Connections closed before their CONNACK other than by a time-out (resets, refusals). */
  closedBeforeConnack: number;
  allMs: number | null;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  brokerCpuS: number;
  brokerCpuMsPerDevice: number;
  redisCommandsPerReconnect: number;
  /** Commands the broker sent (a script once, however many commands it runs), per reconnect. */
  brokerRedisCommandsPerReconnect: number;
  redisCpuMsPerDevice: number;
  redisByCommand: Record<string, number>;
  /** Broker RSS with every session stored and no client connected, and with all N connected and idle. */
  brokerRssIdleMB: number;
  brokerRssConnectedMB: number;
  /** (connected − idle) / N: what one idle connected device costs the broker. */
  brokerKBPerConnectedDevice: number;
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      persistence: { type: 'string' },
      'connack-timeout-ms': { type: 'string' },
      'deadline-s': { type: 'string' },
      'listen-backlog': { type: 'string' },
      emitter: { type: 'string' },
      'profile-dir': { type: 'string' },
      'no-will': { type: 'boolean' },
    },
  });
  return Options.parse({
    devices: values.devices,
    persistence: values.persistence,
    connackTimeoutMs: values['connack-timeout-ms'],
    deadlineS: values['deadline-s'],
    listenBacklog: values['listen-backlog'],
    emitter: values.emitter,
    profileDir: values['profile-dir'],
    will: values['no-will'] !== true,
  });
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host: '127.0.0.1' }, () => {
      socket.destroy();
      resolve(true);
    });
    socket.on('error', () => resolve(false));
  });
}

/**
 * Counts the commands the broker sends to Redis: a TCP proxy between them
 * that parses the client-to-server RESP stream (arrays of bulk strings, what
 * ioredis writes). A Lua script counts once here, while INFO commandstats
 * also counts every redis.call inside it.
 */
class CommandCountingProxy {
  commands = 0;
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();

  constructor(targetPort: number) {
    this.#server = createServer((inbound) => {
      const outbound = createConnection({ port: targetPort, host: '127.0.0.1' });
      this.#sockets.add(inbound).add(outbound);
      const parse = respCommandCounter(() => {
        this.commands += 1;
      });
      inbound.on('data', (chunk: Buffer) => {
        parse(chunk);
        outbound.write(chunk);
      });
      outbound.pipe(inbound);
      const close = (): void => {
        inbound.destroy();
        outbound.destroy();
      };
      inbound.on('error', close).on('close', close);
      outbound.on('error', close).on('close', close);
    });
  }

  listen(): Promise<number> {
    return new Promise((resolve) => this.#server.listen(0, '127.0.0.1', () => resolve((this.#server.address() as { port: number }).port)));
  }

  close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    return new Promise((resolve) => this.#server.close(() => resolve()));
  }
}

/** A streaming parser of RESP command arrays; calls `onCommand` at the start of each. */
function respCommandCounter(onCommand: () => void): (chunk: Buffer) => void {
  let line = '';
  let bulks = 0;
  let skip = 0;
  return (chunk) => {
    let i = 0;
    while (i < chunk.length) {
      if (skip > 0) {
        const n = Math.min(skip, chunk.length - i);
        skip -= n;
        i += n;
        continue;
      }
      const end = chunk.indexOf(0x0a, i);
      if (end === -1) {
        line += chunk.toString('latin1', i);
        return;
      }
      line += chunk.toString('latin1', i, end + 1);
      i = end + 1;
      const header = line.trimEnd();
      line = '';
      if (header.startsWith('*')) {
        onCommand();
        bulks = Number(header.slice(1));
      } else if (header.startsWith('$') && bulks > 0) {
        bulks -= 1;
        skip = Number(header.slice(1)) + 2;
      }
    }
  };
}

/** Resident set size of a process, in bytes (/proc/<pid>/status VmRSS). */
function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

async function redisCounters(redis: Redis): Promise<{ calls: Map<string, number>; cpuS: number }> {
  const stats = await redis.info('commandstats');
  const calls = new Map<string, number>();
  for (const m of stats.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) calls.set(m[1] ?? '', Number(m[2]));
  const cpu = await redis.info('cpu');
  const num = (name: string): number => Number(new RegExp(`${name}:([0-9.]+)`).exec(cpu)?.[1] ?? 0);
  return { calls, cpuS: num('used_cpu_sys') + num('used_cpu_user') };
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

/** How many entries the offline queues of `ids` hold, per the persistence's key layout. */
async function queued(redis: Redis, kind: PersistenceKind, ids: readonly string[]): Promise<number> {
  let total = 0;
  for (let i = 0; i < ids.length; i += 1000) {
    const p = redis.pipeline();
    for (const id of ids.slice(i, i + 1000)) p.llen(kind === 'legacy' ? `outgoing:${encodeURIComponent(id)}` : `outpost:mqtt:q:${encodeURIComponent(id)}`);
    for (const [err, n] of (await p.exec()) ?? []) if (!err) total += Number(n);
  }
  return total;
}

async function inBatches<T>(items: readonly T[], size: number, run: (item: T) => Promise<void>): Promise<void> {
  for (let i = 0; i < items.length; i += size) await Promise.all(items.slice(i, i + size).map(run));
}

async function storm(kind: PersistenceKind, options: Options): Promise<StormResult> {
  const n = options.devices;
  const dir = await mkdtemp(join(tmpdir(), 'outpost-storm-'));
  const redisPort = await freePort();
  const redisServer = startBenchChild('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir, '--maxmemory-policy', 'noeviction']);
  const redisUrl = `redis://127.0.0.1:${redisPort}`;
  const proxy = new CommandCountingProxy(redisPort);
  const brokerRedisUrl = `redis://127.0.0.1:${await proxy.listen()}`;
  const port = await freePort();
  const servicePassword = randomBytes(16).toString('hex');
  let broker: BenchChild | undefined;
  const clients: MqttClient[] = [];
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  try {
    await waitUntil('redis', () => accepts(redisPort), 10_000);
    broker = startBenchChild(
      process.execPath,
      [...(options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []), CLI, 'broker', '--host', '127.0.0.1', '--port', String(port), '--redis', brokerRedisUrl, '--persistence', kind, '--listen-backlog', String(options.listenBacklog), '--emitter', options.emitter, '--log-level', 'warn'],
      { OUTPOST_SERVICE_PASSWORD: servicePassword },
    );
    await waitUntil('the broker', () => accepts(port), 20_000);
    const url = `mqtt://127.0.0.1:${port}`;
    const topics = new Topics();
    const ids = Array.from({ length: n }, (_, i) => `storm-${String(i).padStart(6, '0')}`);
    const credentials = new DeviceCredentials(redis, 'outpost:');
    const secrets = new Map<string, string>();
    await inBatches(ids, 500, async (id) => void secrets.set(id, await credentials.issue(id)));
    const deviceOptions = (id: string) => ({
      clientId: id,
      username: id,
      password: secrets.get(id) ?? '',
      clean: false,
      protocolVersion: 4 as const,
      resubscribe: false,
      writeCache: false,
      ...(options.will ? { will: { topic: topics.presence(id), payload: Buffer.from('{"status":"offline"}'), qos: 1 as const, retain: true } } : {}),
    });

    // Persistent sessions, then away.
    await inBatches(ids, SETUP_CONCURRENCY, async (id) => {
      const c = await mqtt.connectAsync(url, { ...deviceOptions(id), reconnectPeriod: 0 }, false);
      await c.subscribeAsync(topics.desired(id), { qos: 1 });
      await c.endAsync();
    });

    // A document for each while they are away.
    const svc = await mqtt.connectAsync(url, { clientId: 'svc:storm', username: 'svc:outpost', password: servicePassword, protocolVersion: 4, reconnectPeriod: 0 });
    const doc = (id: string): string => JSON.stringify({ protocol: 1, deviceId: id, version: 1, pad: 'x'.repeat(400) });
    await inBatches(ids, 500, (id) => svc.publishAsync(topics.desired(id), doc(id), { qos: 1, retain: true }).then(() => undefined));
    await svc.endAsync();
    await waitUntil('every document queued', async () => (await queued(redis, kind, ids)) >= n, 60_000);

    // The storm.
    const brokerPid = broker.proc.pid ?? 0;
    const rssIdle = rssBytes(brokerPid);
    const cpu0 = cpuSeconds(brokerPid);
    const redis0 = await redisCounters(redis);
    const sent0 = proxy.commands;
    const received = new Map<string, number[]>();
    let connackTimeouts = 0;
    let closedBeforeConnack = 0;
    const t0 = performance.now();
    let lastDoc = t0;
    for (const id of ids) {
      const c = mqtt.connect(url, { ...deviceOptions(id), reconnectPeriod: 1000, connectTimeout: options.connackTimeoutMs });
      clients.push(c);
      let connected = false;
      c.on('connect', () => {
        connected = true;
      });
      c.on('error', (err) => {
        if (err.message === 'connack timeout') connackTimeouts += 1;
      });
      c.on('close', () => {
        if (!connected) closedBeforeConnack += 1;
        connected = false;
      });
      c.on('message', (_topic, payload) => {
        if (payload.toString() !== doc(id)) return;
        const now = performance.now();
        lastDoc = now;
        const times = received.get(id) ?? [];
        times.push(now - t0);
        received.set(id, times);
      });
    }
    let allMs: number | null = null;
    await waitUntil(
      'every device converged',
      () => {
        if (received.size >= n && allMs === null) allMs = lastDoc - t0;
        return received.size >= n;
      },
      options.deadlineS * 1000,
    ).catch(() => undefined);
    // Duplicates arrive shortly after; give the queues a moment to settle (bounded, not a fixed sleep in a test).
    const settle = Date.now() + 1000;
    await waitUntil('settle', () => Date.now() > settle, 2000);
    const cpu1 = cpuSeconds(brokerPid);
    const rssConnected = rssBytes(brokerPid);
    const redis1 = await redisCounters(redis);
    const sent = proxy.commands - sent0;

    const firsts = [...received.values()].map((t) => t[0] ?? 0).sort((a, b) => a - b);
    let commands = 0;
    const byCommand: Record<string, number> = {};
    for (const [cmd, calls] of redis1.calls) {
      const delta = calls - (redis0.calls.get(cmd) ?? 0) - (cmd === 'info' ? 2 : 0);
      if (delta <= 0) continue;
      commands += delta;
      if (delta / n >= 0.01) byCommand[cmd] = Number((delta / n).toFixed(2));
    }
    const brokerCpuS = cpu1 - cpu0;
    return {
      persistence: kind,
      devices: n,
      converged: received.size,
      lost: n - received.size,
      duplicated: [...received.values()].filter((t) => t.length > 1).length,
      connackTimeouts,
      closedBeforeConnack: Math.max(0, closedBeforeConnack - connackTimeouts),
      allMs: allMs === null ? null : Math.round(allMs),
      p50Ms: Math.round(percentile(firsts, 50)),
      p99Ms: Math.round(percentile(firsts, 99)),
      maxMs: Math.round(firsts.at(-1) ?? 0),
      brokerCpuS: Number(brokerCpuS.toFixed(2)),
      brokerCpuMsPerDevice: Number(((brokerCpuS * 1000) / n).toFixed(3)),
      redisCommandsPerReconnect: Number((commands / n).toFixed(2)),
      brokerRedisCommandsPerReconnect: Number((sent / n).toFixed(2)),
      redisCpuMsPerDevice: Number((((redis1.cpuS - redis0.cpuS) * 1000) / n).toFixed(3)),
      redisByCommand: Object.fromEntries(Object.entries(byCommand).sort((a, b) => b[1] - a[1])),
      brokerRssIdleMB: Number((rssIdle / 1e6).toFixed(1)),
      brokerRssConnectedMB: Number((rssConnected / 1e6).toFixed(1)),
      brokerKBPerConnectedDevice: Number(((rssConnected - rssIdle) / 1024 / n).toFixed(2)),
    };
  } catch (err) {
    if (broker) process.stderr.write(`broker output:\n${broker.output()}\n`);
    throw err;
  } finally {
    await Promise.all(clients.map((c) => c.endAsync(true).catch(() => undefined)));
    redis.disconnect();
    await broker?.stop();
    await proxy.close();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

function table(results: readonly StormResult[]): string {
  const rows: Array<[string, (r: StormResult) => string]> = [
    ['all devices have their document', (r) => (r.allMs === null ? `not all (${r.converged}/${r.devices})` : `${(r.allMs / 1000).toFixed(2)} s`)],
    ['p50 / p99 / max', (r) => `${(r.p50Ms / 1000).toFixed(2)} / ${(r.p99Ms / 1000).toFixed(2)} / ${(r.maxMs / 1000).toFixed(2)} s`],
    ['lost / duplicated', (r) => `${r.lost} / ${r.duplicated}`],
    ['CONNACK time-outs / closed before CONNACK', (r) => `${r.connackTimeouts} / ${r.closedBeforeConnack}`],
    ['broker CPU (per device)', (r) => `${r.brokerCpuS.toFixed(2)} s (${r.brokerCpuMsPerDevice.toFixed(2)} ms)`],
    ['Redis commands per reconnect (commandstats, incl. inside scripts)', (r) => r.redisCommandsPerReconnect.toFixed(2)],
    ['commands the broker sends per reconnect (a script once)', (r) => r.brokerRedisCommandsPerReconnect.toFixed(2)],
    ['Redis CPU per device', (r) => `${r.redisCpuMsPerDevice.toFixed(3)} ms`],
    ['broker RSS: sessions stored, none connected → all connected, idle', (r) => `${r.brokerRssIdleMB} → ${r.brokerRssConnectedMB} MB`],
    ['broker memory per idle connected device', (r) => `${r.brokerKBPerConnectedDevice.toFixed(1)} KB`],
  ];
  const legacy = results.find((r) => r.persistence === 'legacy');
  const outpost = results.find((r) => r.persistence === 'outpost');
  const ratio = legacy && outpost;
  const head = `| figure (${results[0]?.devices ?? 0} devices) | ${results.map((r) => r.persistence).join(' | ')} |${ratio ? ' legacy / outpost |' : ''}`;
  const sep = `|---|${results.map(() => '---').join('|')}|${ratio ? '---|' : ''}`;
  const ratioOf = (name: string): string => {
    if (!legacy || !outpost) return '';
    const pick: Record<string, [number | null, number | null]> = {
      'all devices have their document': [legacy.allMs, outpost.allMs],
      'p50 / p99 / max': [legacy.p99Ms, outpost.p99Ms],
      'broker CPU (per device)': [legacy.brokerCpuS, outpost.brokerCpuS],
      'Redis commands per reconnect (commandstats, incl. inside scripts)': [legacy.redisCommandsPerReconnect, outpost.redisCommandsPerReconnect],
      'commands the broker sends per reconnect (a script once)': [legacy.brokerRedisCommandsPerReconnect, outpost.brokerRedisCommandsPerReconnect],
      'Redis CPU per device': [legacy.redisCpuMsPerDevice, outpost.redisCpuMsPerDevice],
    };
    const [a, b] = pick[name] ?? [null, null];
    return a !== null && b !== null && b > 0 ? ` ${(a / b).toFixed(2)}× |` : ' — |';
  };
  return [head, sep, ...rows.map(([name, cell]) => `| ${name} | ${results.map(cell).join(' | ')} |${ratioOf(name)}`)].join('\n');
}

async function main(): Promise<void> {
  const options = parseOptions();
  const results: StormResult[] = [];
  for (const kind of options.persistence) results.push(await storm(kind, options));
  const legacy = results.find((r) => r.persistence === 'legacy');
  const outpost = results.find((r) => r.persistence === 'outpost');
  const ratio =
    legacy && outpost
      ? {
          allMs: legacy.allMs !== null && outpost.allMs ? Number((legacy.allMs / outpost.allMs).toFixed(2)) : null,
          brokerCpu: outpost.brokerCpuS > 0 ? Number((legacy.brokerCpuS / outpost.brokerCpuS).toFixed(2)) : null,
          redisCommandsPerReconnect: Number((legacy.redisCommandsPerReconnect / outpost.redisCommandsPerReconnect).toFixed(2)),
          brokerRedisCommandsPerReconnect: Number((legacy.brokerRedisCommandsPerReconnect / outpost.brokerRedisCommandsPerReconnect).toFixed(2)),
        }
      : undefined;
  process.stdout.write(`${JSON.stringify({ bench: 'broker-storm', options, results, ...(ratio ? { ratio } : {}) }, null, 2)}\n\n${table(results)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
