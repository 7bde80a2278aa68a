/**
 * Benchmark: the controller at a large enrolled fleet (default 100,000
 * devices, registry written directly; no device connects — the broker holds
 * the retained documents). Measures what operators and the fleet cost:
 * deploy (compose, store, publish retained QoS 1 to every device), the no-op
 * recompute, `device ls`, the fleet summary, anti-entropy (a slice pass with
 * the broker intact, and a full pass), the delivery check of the deploy (DD-062),
 * and — at a small fleet and again at the
 * large one — single-device operations, whose cost must not grow with the
 * fleet (ratio ≈ 1). Prints JSON and markdown tables.
 * Usage: node dist/bench/controller-scale.js [--devices 100000] [--small 1000] [--reps 20] [--only deploy]
 * (`--only deploy`: the fleet deploy alone, e.g. to profile it with node --cpu-prof.)
 */
import { parseArgs } from 'node:util';
import type { Redis } from 'ioredis';
import type { Keys } from '../controller/registry/keys.js';
import { ReceiptWatch } from '../controller/desired-state/receipt-watch.js';
import { silentLogger } from '../shared/logger.js';
import { startBenchControlPlane, runBench } from './lib/bench-control-plane.js';
import { commandCalls } from './lib/redis-stats.js';

const { values: args } = parseArgs({
  options: { devices: { type: 'string', default: '100000' }, small: { type: 'string', default: '1000' }, reps: { type: 'string', default: '20' }, only: { type: 'string' } },
});
const N = Number(args.devices);
const SMALL = Math.min(N, Number(args.small));
const REPS = Math.max(1, Number(args.reps));
const ONLY = args.only ?? null;
if (ONLY !== null && ONLY !== 'deploy') throw new Error(`--only: expected "deploy", got "${ONLY}"`);
const idOf = (i: number): string => `scale-${String(i).padStart(6, '0')}`;

interface Step {
  name: string;
  devices: number;
  ms: number;
  /** CPU of this process (controller and broker) during the step: comparable on a loaded machine, unlike ms. */
  cpuMs?: number;
  redisCommands: number;
  detail?: string;
}

async function enroll(redis: Redis, keys: Keys, from: number, to: number): Promise<void> {
  const createdAt = new Date().toISOString();
  for (let i = from; i < to; i += 1000) {
    const p = redis.pipeline();
    for (let j = i; j < Math.min(to, i + 1000); j++) {
      const id = idOf(j);
      p.set(keys.device(id), JSON.stringify({ id, labels: { fleet: 'scale', shard: String(j % 100) }, createdAt, overrides: { env: {}, workloadEnv: {}, pins: {} } }));
      p.sadd(keys.devices(), id);
    }
    await p.exec();
  }
}

async function main(): Promise<void> {
  const plane = await startBenchControlPlane();
  const { controller, redis, keys } = plane;
  const cp = controller.controlPlane;
  const measure = async (name: string, devices: number, fn: () => Promise<string | void>): Promise<Step> => {
    const calls0 = await commandCalls(redis);
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    const detail = await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(cpu0);
    // The INFO of each snapshot counts itself.
    const redisCommands = (await commandCalls(redis)) - calls0 - 1;
    return { name, devices, ms: Math.round(ms * 10) / 10, cpuMs: Math.round((cpu.user + cpu.system) / 1000), redisCommands, ...(detail ? { detail } : {}) };
  };
  /** Single-device operations, each on REPS different devices; the median time and commands per operation. */
  const deviceOps = async (fleet: number): Promise<Step[]> => {
    const ops: Array<[string, (id: string, r: number) => Promise<unknown>]> = [
      ['relabel a device', (id) => cp.updateLabels(id, { set: { shard: 'moved' } })],
      ['override one env value', (id, r) => cp.setOverrides(id, { env: { SITE: `s${r}` } })],
      ['pin a release no deployment uses', (id) => cp.setPin(id, 'app', '3')],
      ['device show', (id) => cp.getDevice(id)],
      ['enroll one device', (_id, r) => cp.addDevice({ id: `extra-${fleet}-${r}` })],
    ];
    const out: Step[] = [];
    for (const [name, op] of ops) {
      const samples: Step[] = [];
      for (let r = 0; r < REPS; r++) {
        const id = idOf(Math.floor(((r + 0.5) * fleet) / REPS));
        samples.push(await measure(name, fleet, async () => void (await op(id, r))));
      }
      const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      out.push({ name, devices: fleet, ms: median(samples.map((s) => s.ms)), redisCommands: median(samples.map((s) => s.redisCommands)) });
    }
    return out;
  };

  try {
    await cp.createRelease({ app: 'app', version: '1', workloads: { web: { image: 'registry.local/app:1', env: { A: '1' } }, side: { image: 'registry.local/side:1' } } });
    await cp.createRelease({ app: 'app', version: '2', workloads: { web: { image: 'registry.local/app:2', env: { A: '2' } }, side: { image: 'registry.local/side:1' } } });
    await cp.createRelease({ app: 'app', version: '3', workloads: { web: { image: 'registry.local/app:3' }, side: { image: 'registry.local/side:1' } } });
    // A small fleet with a deployment: the per-device operations' baseline.
    await enroll(redis, keys, 0, SMALL);
    await cp.createDeployment({ app: 'app', version: '1', target: { kind: 'selector', selector: 'fleet=scale' } });
    const small = ONLY === 'deploy' ? [] : await deviceOps(SMALL);
    // The large fleet.
    await enroll(redis, keys, SMALL, N);
    const rss0 = process.memoryUsage().rss;
    const fleet: Step[] = [];
    fleet.push(
      await measure(`deploy app@2 to all ${N} (selector)`, N, async () => {
        const { result } = await cp.createDeployment({ app: 'app', version: '2', target: { kind: 'selector', selector: 'fleet=scale' }, priority: 10 });
        return `${result.published.length} published`;
      }),
    );
    if (ONLY === 'deploy') {
      process.stdout.write(`${JSON.stringify({ benchmark: 'controller-scale', only: ONLY, node: process.version, devices: N, fleet }, null, 2)}\n\n`);
      process.stdout.write('| fleet operation | devices | ms | CPU ms | Redis commands | result |\n|---|---|---|---|---|---|\n');
      for (const r of fleet) process.stdout.write(`| ${r.name} | ${r.devices} | ${r.ms} | ${r.cpuMs ?? ''} | ${r.redisCommands} | ${r.detail ?? ''} |\n`);
      return;
    }
    fleet.push(await measure('recompute all, nothing changed', N, async () => `${(await controller.publisher.recompute()).published.length} published`));
    fleet.push(await measure('device ls (every device)', N, async () => `${(await cp.listDevices()).length} listed`));
    fleet.push(await measure('device ls --selector shard=7', N, async () => `${(await cp.listDevices({ selector: 'shard=7' })).length} listed`));
    fleet.push(await measure('fleet summary (outpost status)', N, async () => `${(await cp.fleetSummary()).devices} devices`));
    fleet.push(
      await measure('anti-entropy pass, broker intact', N, async () => {
        const r = await controller.antiEntropy.run();
        return `${r.scope}: ${r.checked} checked, ${r.republished.length} republished`;
      }),
    );
    fleet.push(
      await measure('anti-entropy full pass (after a broker lost its store)', N, async () => {
        const r = await controller.antiEntropy.run({ full: true });
        return `${r.scope}: ${r.checked} checked, ${r.republished.length} republished`;
      }),
    );
    fleet.push(
      await measure(`delivery check of the deploy (DD-062; devices offline)`, N, async () => {
        // The controller's own watch waits a day (bench-control-plane.ts); this one finds every acknowledged document due.
        const watch = new ReceiptWatch({ redis, keys, drain: controller.drain, logger: silentLogger(), now: Date.now, graceMs: 0, checkEveryMs: 3_600_000 });
        let checked = 0;
        let resent = 0;
        for (;;) {
          const r = await watch.checkDue();
          if (r.checked === 0) break;
          checked += r.checked;
          resent += r.resent.length;
        }
        return `${checked} checked, ${resent} re-sent`;
      }),
    );
    const controllerRssMBDelta = Math.round((process.memoryUsage().rss - rss0) / 1e6);
    const large = await deviceOps(N);
    const perDevice = small.map((s, i) => {
      const l = large[i] as Step;
      return { name: s.name, smallFleet: SMALL, largeFleet: N, msSmall: s.ms, msLarge: l.ms, commandsSmall: s.redisCommands, commandsLarge: l.redisCommands, commandRatio: Number((l.redisCommands / Math.max(1, s.redisCommands)).toFixed(2)) };
    });
    const out = { benchmark: 'controller-scale', node: process.version, devices: N, controllerRssMBDelta, fleet, perDevice };
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n\n`);
    process.stdout.write('| fleet operation | devices | ms | CPU ms | Redis commands | result |\n|---|---|---|---|---|---|\n');
    for (const r of fleet) process.stdout.write(`| ${r.name} | ${r.devices} | ${r.ms} | ${r.cpuMs ?? ''} | ${r.redisCommands} | ${r.detail ?? ''} |\n`);
    process.stdout.write(`\n| single-device operation (median of ${REPS}) | ms at ${SMALL} | ms at ${N} | Redis commands at ${SMALL} | at ${N} | ratio |\n|---|---|---|---|---|---|\n`);
    for (const r of perDevice) process.stdout.write(`| ${r.name} | ${r.msSmall} | ${r.msLarge} | ${r.commandsSmall} | ${r.commandsLarge} | ${r.commandRatio} |\n`);
  } finally {
    await plane.close();
  }
}

runBench(main);
