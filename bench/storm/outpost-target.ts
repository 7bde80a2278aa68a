import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import type { PersistenceKind } from '../../broker/persistence/kinds.js';
import { DeviceCredentials } from '../../shared/device-credentials.js';
import { freePort } from '../lib/free-port.js';
import { memoryAfterGc } from './inspector.js';
import { accepts, inBatches, startChild, waitUntil, type Child } from './processes.js';
import { CommandCountingProxy, redisCounters } from './redis-proxy.js';
import type { Target } from './target.js';

const CLI = new URL('../../cli/main.js', import.meta.url).pathname;

export interface OutpostTargetOptions {
  persistence: PersistenceKind;
  emitter: 'redis' | 'local';
  /** `outpost broker --workers` (DD-035). */
  brokerWorkers: number;
  listenBacklog: number;
  profileDir?: string | undefined;
  /** `outpost broker --store-key-file` (DD-047). */
  storeKeyFile?: string | undefined;
}

/**
 * The Outpost broker (`outpost broker`, a child process) on a fresh Redis
 * (AOF on), the broker's Redis traffic through a command-counting proxy, the
 * broker started with --inspect on loopback so that its heap can be read
 * after a GC from outside. Devices enrolled in its credential store.
 */
export async function startOutpostTarget(o: OutpostTargetOptions): Promise<Target> {
  const dir = await mkdtemp(join(tmpdir(), 'outpost-storm-'));
  const redisPort = await freePort();
  const redisServer = startChild('redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'yes', '--dir', dir, '--maxmemory-policy', 'noeviction']);
  const proxy = new CommandCountingProxy(redisPort);
  let broker: Child | undefined;
  let redis: Redis | undefined;
  const cleanup = async (): Promise<void> => {
    redis?.disconnect();
    await broker?.stop();
    await proxy.close();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const brokerRedisUrl = `redis://127.0.0.1:${await proxy.listen()}`;
    await waitUntil('redis', () => accepts(redisPort), 10_000);
    redis = new Redis(`redis://127.0.0.1:${redisPort}`, { maxRetriesPerRequest: null });
    const port = await freePort();
    const inspectPort = await freePort();
    const service = { username: 'svc:outpost', password: randomBytes(16).toString('hex') };
    broker = startChild(
      process.execPath,
      [
        `--inspect=127.0.0.1:${inspectPort}`,
        ...(o.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] : []),
        CLI,
        'broker',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--redis',
        brokerRedisUrl,
        '--persistence',
        o.persistence,
        '--listen-backlog',
        String(o.listenBacklog),
        '--emitter',
        o.emitter,
        '--workers',
        String(o.brokerWorkers),
        '--log-level',
        'warn',
      ],
      { OUTPOST_SERVICE_PASSWORD: service.password, ...(o.storeKeyFile !== undefined ? { OUTPOST_BROKER_STORE_KEY_FILE: o.storeKeyFile } : {}) },
    );
    await waitUntil('the broker', () => accepts(port), 20_000);
    const r = redis;
    const b = broker;
    const credentials = new DeviceCredentials(r, 'outpost:');
    return {
      kind: 'outpost',
      label: `${o.persistence === 'outpost' ? 'outpost' : `outpost (${o.persistence} persistence)`}${o.brokerWorkers > 1 ? ` ×${o.brokerWorkers}` : ''}${o.storeKeyFile !== undefined ? ' sealed' : ''}`,
      url: `mqtt://127.0.0.1:${port}`,
      pid: b.pid,
      service,
      async enroll(ids) {
        const secrets = new Map<string, string>();
        await inBatches(ids, 500, async (id) => void secrets.set(id, await credentials.issue(id)));
        return secrets;
      },
      memory: async () => {
        if (o.brokerWorkers === 1) {
          const m = await memoryAfterGc(inspectPort);
          return { rssBytes: m.rssBytes, heapUsedBytes: m.heapUsedBytes };
        }
        // node:cluster gives worker i the inspector port after the primary's (inspectPort + i + 1).
        const parts = await Promise.all([inspectPort, ...Array.from({ length: o.brokerWorkers }, (_, i) => inspectPort + i + 1)].map((p) => memoryAfterGc(p)));
        return { rssBytes: parts.reduce((n, m) => n + m.rssBytes, 0), heapUsedBytes: parts.reduce((n, m) => n + m.heapUsedBytes, 0) };
      },
      waitQueued: (ids) => waitUntil('every document queued', async () => (await queued(r, o.persistence, ids)) >= ids.length, 60_000),
      redis: async () => ({ ...(await redisCounters(r)), sent: proxy.commands }),
      output: () => b.output(),
      stop: cleanup,
    };
  } catch (err) {
    if (broker) process.stderr.write(`broker output:\n${broker.output()}\n`);
    await cleanup();
    throw err;
  }
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
