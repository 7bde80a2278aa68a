/**
 * Benchmark: one deployment that changes N devices' desired state (default
 * 10,000) — compose, version, store and publish retained QoS 1 through
 * Outpost's broker — plus the no-op recompute that must publish nothing.
 * Prints JSON and a markdown table. Usage: node dist/bench/publish-fanout.js [N]
 */
import { DEFAULT_KEY_PREFIX } from '../broker/config.js';
import { PERSISTENCE_KEY_SUFFIX } from '../broker/persistence/create-persistence.js';
import { persistenceKeys } from '../broker/persistence/keys.js';
import { startBenchControlPlane, runBench } from './lib/bench-control-plane.js';
import { commandCalls, commandStats, perUnit } from './lib/redis-stats.js';

const N = Number(process.argv[2] ?? 10_000);

async function main(): Promise<void> {
  const plane = await startBenchControlPlane();
  const { controller, redis, keys } = plane;
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
        byCommand: perUnit(stats0, stats1, N),
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
    const retained = await redis.hlen(persistenceKeys(`${DEFAULT_KEY_PREFIX}${PERSISTENCE_KEY_SUFFIX}`).retained);
    const out = { benchmark: 'publish-fanout', node: process.version, devices: N, retainedDocuments: retained, controllerRssMBDelta: Math.round((process.memoryUsage().rss - rss0) / 1e6), rows };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n\n`);
    process.stdout.write('| step | devices | published | ms | devices/s | Redis commands | per device |\n|---|---|---|---|---|---|---|\n');
    for (const r of rows) process.stdout.write(`| ${r.name} | ${r.devices} | ${r.published} | ${r.ms} | ${r.devicesPerSecond} | ${r.redisCommands} | ${r.redisCommandsPerDevice} |\n`);
  } finally {
    await plane.close();
  }
}

runBench(main);
