/**
 * Benchmark (issue 10, item 4): end-to-end latency of one change at a
 * connected fleet (default 1,000 simulated devices). Control plane as
 * `outpost up` runs it (redis-server, `outpost broker`, `outpost controller`
 * as child processes); the devices are `outpost sim`'s worker processes
 * (DD-029: real agent cores, simulated runtime, pull/start latency 0 by
 * default), enrolled, online and converged on release 1 before anything is
 * timed. Then samples (default 200, spread over the fleet, 10 in flight at
 * once on distinct devices — `--concurrency 1` for strictly one at a time):
 * an env override of one device through the API (PATCH overrides: a new
 * desired version, a changed container spec, so the agent recreates the
 * container), followed until that device reports the new version applied.
 *
 * Timestamps, all wall clock of this one machine (epoch ms):
 *   t0         this process, just before the API call;
 *   published  this process's own MQTT client (service identity) receives the
 *              device's new desired document — the broker delivers it to the
 *              agent at the same moment, so this stands for "published";
 *   received   the agent's own `desired.received` event timestamp (`at`, ms
 *              resolution, taken in the simulator's worker process after the
 *              document was parsed and its signature verified);
 *   started    the agent's `step.succeeded` event of the new container's
 *              start step: what follows is the update's health gate, which
 *              holds every new container for at least 2 s (DD-013,
 *              agent/reconcile/health-gate.ts minimumReadyMs) — a floor of
 *              the design, not of the control path, so it is shown apart;
 *   reconciled the agent's `reconcile.succeeded` event timestamp;
 *   reported   this process receives the device's report saying the new
 *              version is applied and converged.
 * Agent timestamps are honest because every process shares the machine's
 * clock; their ms resolution puts ±1 ms on the stages either side of them.
 * Stages: API → published, published → received, received → started,
 * started → reconciled (the gate), received → reconciled, reconciled →
 * reported, the total API → reported, and API → started (the path without
 * the gate).
 *
 * Usage: node dist/bench/latency.js [--devices 1000] [--samples 200] [--concurrency 10] [--workers 2]
 *        [--pull-latency-ms 0] [--start-latency-ms 0] [--sample-timeout-s 30] [--setup-timeout-s 1800]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { runBench } from './lib/bench-control-plane.js';
import { FleetObserver } from './lib/fleet-observer.js';
import { distribution, epochMs, type Distribution } from './lib/percentiles.js';
import { startProcessControlPlane } from './lib/process-control-plane.js';
import { startSimFleet } from './lib/sim-fleet.js';

const Options = z.object({
  devices: z.coerce.number().int().min(1).max(100_000).default(1000),
  samples: z.coerce.number().int().min(1).max(100_000).default(200),
  /** Samples in flight at once, each on its own device (the gate makes one sample last > 2 s). */
  concurrency: z.coerce.number().int().min(1).max(1000).default(10),
  workers: z.coerce.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
  pullLatencyMs: z.coerce.number().int().min(0).default(0),
  startLatencyMs: z.coerce.number().int().min(0).default(0),
  sampleTimeoutS: z.coerce.number().int().min(1).default(30),
  setupTimeoutS: z.coerce.number().int().min(10).default(1800),
});
type Options = z.infer<typeof Options>;

const STAGES = [
  'apiToPublished',
  'publishedToReceived',
  'receivedToStarted',
  'startedToReconciled',
  'receivedToReconciled',
  'reconciledToReported',
  'total',
  'apiToStarted',
] as const;
type Stage = (typeof STAGES)[number];
type Sample = Record<Stage, number>;

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      samples: { type: 'string' },
      concurrency: { type: 'string' },
      workers: { type: 'string' },
      'pull-latency-ms': { type: 'string' },
      'start-latency-ms': { type: 'string' },
      'sample-timeout-s': { type: 'string' },
      'setup-timeout-s': { type: 'string' },
    },
  });
  return Options.parse({
    devices: values.devices,
    samples: values.samples,
    concurrency: values.concurrency,
    workers: values.workers,
    pullLatencyMs: values['pull-latency-ms'],
    startLatencyMs: values['start-latency-ms'],
    sampleTimeoutS: values['sample-timeout-s'],
    setupTimeoutS: values['setup-timeout-s'],
  });
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`no ${what} within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** One override of one device, followed until its report says the new version is applied. */
async function sample(observer: FleetObserver, change: () => Promise<unknown>, id: string, timeoutMs: number): Promise<Sample> {
  const v0 = observer.desired.latest.get(id)?.body.version ?? 0;
  const published = observer.desired.next(id, (m) => m.body.version > v0, false);
  const received = observer.events.next(id, (m) => m.body.type === 'desired.received' && (m.body.version ?? 0) > v0, false);
  const started = observer.events.next(id, (m) => m.body.type === 'step.succeeded' && m.body.data?.step === 'start' && (m.body.version ?? 0) > v0, false);
  const reconciled = observer.events.next(id, (m) => m.body.type === 'reconcile.succeeded' && (m.body.version ?? 0) > v0, false);
  const reported = observer.reported.next(id, (m) => m.body.phase === 'converged' && (m.body.desired.appliedVersion ?? 0) > v0, false);
  const t0 = epochMs();
  await change();
  const [p, r, s, c, rep] = await within(Promise.all([published, received, started, reconciled, reported]), timeoutMs, `converged report from ${id}`);
  const version = p.body.version;
  if (r.body.version !== version || s.body.version !== version || c.body.version !== version || rep.body.desired.appliedVersion !== version) {
    throw new Error(`${id}: version ${version} published, but received ${r.body.version}, started ${s.body.version}, reconciled ${c.body.version}, reported ${rep.body.desired.appliedVersion}`);
  }
  const receivedAt = Date.parse(r.body.at);
  const startedAt = Date.parse(s.body.at);
  const reconciledAt = Date.parse(c.body.at);
  return {
    apiToPublished: p.receivedAt - t0,
    publishedToReceived: receivedAt - p.receivedAt,
    receivedToStarted: startedAt - receivedAt,
    startedToReconciled: reconciledAt - startedAt,
    receivedToReconciled: reconciledAt - receivedAt,
    reconciledToReported: rep.receivedAt - reconciledAt,
    total: rep.receivedAt - t0,
    apiToStarted: startedAt - t0,
  };
}

async function main(): Promise<void> {
  const o = parseOptions();
  const plane = await startProcessControlPlane();
  const samples: Sample[] = [];
  const failures: string[] = [];
  let setup: { enrollS: number; startS: number; convergeS: number } | undefined;
  let cpu = { controllerS: 0, brokerS: 0 };
  try {
    const observer = await FleetObserver.start(plane.brokerUrl, plane.servicePassword, ['desired', 'reported', 'events']);
    try {
      const fleet = await startSimFleet(plane.client, plane.brokerUrl, observer, 'lat', {
        devices: o.devices,
        workers: o.workers,
        prefix: 'lat',
        pullLatencyMs: o.pullLatencyMs,
        startLatencyMs: o.startLatencyMs,
        setupTimeoutMs: o.setupTimeoutS * 1000,
        // The stage "container started" is the agent's own step.succeeded event: every step as it happens.
        eventDetail: 'steps',
      });
      setup = fleet.setup;
      try {
        const cpu0 = plane.cpu();
        // Consecutive samples are on distinct devices, so the ones in flight never share a device.
        const ids = [...fleet.ids];
        const spread = Math.min(o.samples, ids.length);
        const deviceOf = (k: number): string => ids[Math.floor((((k % spread) + 0.5) * ids.length) / spread)] ?? '';
        let next = 0;
        const lane = async (): Promise<void> => {
          for (let k = next++; k < o.samples; k = next++) {
            const id = deviceOf(k);
            try {
              samples.push(await sample(observer, () => plane.client.setOverrides(id, { env: { BENCH_SAMPLE: String(k) } }), id, o.sampleTimeoutS * 1000));
            } catch (err) {
              failures.push(err instanceof Error ? err.message : String(err));
            }
          }
        };
        await Promise.all(Array.from({ length: Math.min(o.concurrency, ids.length) }, lane));
        const cpu1 = plane.cpu();
        cpu = { controllerS: cpu1.controllerS - cpu0.controllerS, brokerS: cpu1.brokerS - cpu0.brokerS };
        failures.push(...fleet.failures);
      } finally {
        await fleet.stop();
      }
    } finally {
      await observer.close();
    }
  } finally {
    await plane.close();
  }
  const stages = Object.fromEntries(STAGES.map((s) => [s, distribution(samples.map((x) => x[s]))])) as Record<Stage, Distribution>;
  const round2 = (x: number): number => Math.round(x * 100) / 100;
  const result = {
    benchmark: 'latency',
    options: { ...o, targetP99Ms: 250 },
    devices: o.devices,
    samples: samples.length,
    failures: failures.length,
    failureDetails: failures.slice(0, 20),
    stages,
    controllerCpuMsPerSample: samples.length ? round2((cpu.controllerS * 1000) / samples.length) : 0,
    brokerCpuMsPerSample: samples.length ? round2((cpu.brokerS * 1000) / samples.length) : 0,
    setup,
  };
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n\n`);
  const label: Record<Stage, string> = {
    apiToPublished: 'API call → desired document delivered',
    publishedToReceived: 'delivered → agent received',
    receivedToStarted: 'received → new container started (agent)',
    startedToReconciled: 'started → reconciled: health gate, ≥ 2 s by design (DD-013)',
    receivedToReconciled: 'received → reconciled (agent)',
    reconciledToReported: 'reconciled → report delivered',
    total: 'total: API call → report says applied',
    apiToStarted: 'API call → new container started (no gate)',
  };
  process.stdout.write(
    [
      `| stage (${o.devices} devices connected, ${samples.length} samples) | p50 (ms) | p99 (ms) | max (ms) |`,
      '|---|---|---|---|',
      ...STAGES.map((s) => `| ${label[s]} | ${stages[s].p50Ms} | ${stages[s].p99Ms} | ${stages[s].maxMs} |`),
      '',
    ].join('\n'),
  );
  if (failures.length) {
    process.stderr.write(`failures: ${failures.slice(0, 20).join('; ')}\n`);
    process.exitCode = 1;
  }
}

runBench(main);
