/**
 * Benchmark: one deployment that changes N devices' desired state (default
 * 10,000) — compose, version, store and publish retained QoS 1 through
 * Outpost's broker — plus the no-op recompute that must publish nothing.
 * Prints JSON and a markdown table. Usage: node dist/bench/publish-fanout.js [N]
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:net';
import { randomBytes } from 'node:crypto';
import { Redis } from 'ioredis';
import { checkBrokerConfig } from '../broker/config.js';
import { createBroker } from '../broker/create-broker.js';
import { parseControllerConfig } from '../controller/config.js';
import { createController } from '../controller/create-controller.js';
import { startEmbeddedRedis } from '../controller/embedded-redis.js';
import { Keys } from '../controller/registry/keys.js';
import { silentLogger } from '../shared/logger.js';

const N = Number(process.argv[2] ?? 10_000);

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

async function commandStats(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info('commandstats');
  const out = new Map<string, number>();
  for (const m of info.matchAll(/cmdstat_([a-z|_-]+):calls=(\d+)/g)) out.set(m[1] as string, Number(m[2]));
  return out;
}

async function commandCalls(redis: Redis): Promise<number> {
  let total = 0;
  for (const n of (await commandStats(redis)).values()) total += n;
  return total;
}

/** Redis commands per device during a step, by command (the biggest first). */
function perDevice(before: Map<string, number>, after: Map<string, number>, devices: number): Record<string, number> {
  const rows = [...after].map(([cmd, n]) => [cmd, (n - (before.get(cmd) ?? 0)) / devices] as const).filter(([, n]) => n >= 0.01);
  return Object.fromEntries(rows.sort((a, b) => b[1] - a[1]).map(([cmd, n]) => [cmd, Number(n.toFixed(2))]));
}

async function main(): Promise<void> {
  const logger = silentLogger();
  const dir = await mkdtemp(join(tmpdir(), 'outpost-bench-'));
  const redisServer = await startEmbeddedRedis({ dataDir: dir, port: await freePort(), password: randomBytes(16).toString('hex'), logger });
  const servicePassword = randomBytes(16).toString('hex');
  const bc = checkBrokerConfig({ host: '127.0.0.1', port: 0, redisUrl: redisServer.url, servicePassword, logLevel: 'silent' });
  if (!bc.ok) throw new Error(JSON.stringify(bc.issues));
  const broker = await createBroker(bc.config, { logger });
  const { port } = await broker.listen();
  const controller = createController(
    parseControllerConfig({
      redisUrl: redisServer.url,
      brokerUrl: `mqtt://127.0.0.1:${port}`,
      servicePassword,
      adminTokens: [randomBytes(16).toString('hex')],
      antiEntropyIntervalSeconds: 0,
    }),
    { logger },
  );
  await controller.start();
  const redis = new Redis(redisServer.url);
  const keys = new Keys('outpost:');
  try {
    // Enroll N devices in bulk (the registry format, written directly: enrollment speed is not measured here).
    const createdAt = new Date().toISOString();
    for (let i = 0; i < N; i += 1000) {
      const p = redis.pipeline();
      for (let j = i; j < Math.min(N, i + 1000); j++) {
        const id = `bench-${String(j).padStart(6, '0')}`;
        p.set(keys.device(id), JSON.stringify({ id, labels: { fleet: 'bench', shard: String(j % 10) }, createdAt, overrides: { env: {}, workloadEnv: {}, pins: {} } }));
        p.sadd(keys.devices(), id);
      }
      await p.exec();
    }
    const cp = controller.controlPlane;
    await cp.createRelease({ app: 'app', version: '1', workloads: { web: { image: 'registry.local/app:1', env: { A: '1' } }, side: { image: 'registry.local/side:1' } } });
    await cp.createRelease({ app: 'app', version: '2', workloads: { web: { image: 'registry.local/app:2', env: { A: '2' } }, side: { image: 'registry.local/side:1' } } });
    const rss0 = process.memoryUsage().rss;

    const measure = async (name: string, fn: () => Promise<{ published: number }>) => {
      const calls0 = await commandCalls(redis);
      const stats0 = await commandStats(redis);
      const t0 = performance.now();
      const r = await fn();
      const ms = performance.now() - t0;
      const stats1 = await commandStats(redis);
      const calls = (await commandCalls(redis)) - calls0 - 2;
      return {
        name,
        devices: N,
        published: r.published,
        ms: Math.round(ms),
        devicesPerSecond: Math.round((N / ms) * 1000),
        redisCommands: calls,
        redisCommandsPerDevice: Number((calls / N).toFixed(2)),
        byCommand: perDevice(stats0, stats1, N),
      };
    };
    const rows = [
      await measure('deploy app@1 to all (selector)', async () => {
        const { result } = await cp.createDeployment({ app: 'app', version: '1', target: { kind: 'selector', selector: 'fleet=bench' } });
        return { published: result.published.length };
      }),
      await measure('recompute all, nothing changed', async () => ({ published: (await controller.publisher.recompute()).published.length })),
      await measure('deploy app@2 over it (priority 10)', async () => {
        const { result } = await cp.createDeployment({ app: 'app', version: '2', target: { kind: 'selector', selector: 'fleet=bench' }, priority: 10 });
        return { published: result.published.length };
      }),
    ];
    const retained = await redis.hlen('retained');
    const out = { benchmark: 'publish-fanout', node: process.version, devices: N, retainedDocuments: retained, controllerRssMBDelta: Math.round((process.memoryUsage().rss - rss0) / 1e6), rows };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n\n`);
    process.stdout.write('| step | devices | published | ms | devices/s | Redis commands | per device |\n|---|---|---|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.name} | ${r.devices} | ${r.published} | ${r.ms} | ${r.devicesPerSecond} | ${r.redisCommands} | ${r.redisCommandsPerDevice} |\n`);
  } finally {
    redis.disconnect();
    await controller.close();
    await broker.close();
    await redisServer.stop();
    await rm(dir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.stack : String(err)}\n`);
  process.exitCode = 1;
});
