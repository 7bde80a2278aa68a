/**
 * Benchmark (issue 10, item 2): rollout convergence. For each fleet size
 * (default 1,000; `--devices 1000,10000` for the full issue sizes) a fresh
 * control plane as `outpost up` runs it — redis-server, `outpost broker` and
 * `outpost controller` as child processes — and N simulated devices (DD-029:
 * `outpost sim`'s worker processes, real agent cores over the simulated
 * runtime, simulated pull/start latency 0 by default so the control path is
 * what is measured) enrolled through the API, online and converged on
 * release 1. None of that set-up is timed. Then, timed from the first API
 * call: release 2 created + one all-at-once rollout (a single 100 % wave)
 * created through the API, until the rollout's own status (GET /v1/rollouts,
 * polled every 100 ms) says `succeeded` (also: when its counts first showed
 * 50 %, 90 % and 100 % of the devices succeeded).
 *
 * Also recorded, by the benchmark's own MQTT client (service identity) which
 * stamps every message with its arrival time on this machine's clock:
 * per-device time from the first API call until the device's new desired
 * document is delivered (publish; max = "every device has its document"),
 * and until its report says release 2 runs (applied; p50/p99/max); rollout
 * failures; CPU seconds of the controller and broker processes
 * (/proc/<pid>/stat) during the timed part.
 *
 * Usage: node dist/bench/rollout-convergence.js [--devices 1000[,10000]] [--workers 2]
 *        [--pull-latency-ms 0] [--start-latency-ms 0] [--rollout-poll 2] [--setup-timeout-s 1800] [--deadline-s 900]
 */
import { availableParallelism } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { createRollout, getRollout, listRollouts } from '../cli/client/rollout-client.js';
import { runBench } from './lib/bench-control-plane.js';
import { FleetObserver } from './lib/fleet-observer.js';
import { distribution, epochMs, type Distribution } from './lib/percentiles.js';
import { startProcessControlPlane } from './lib/process-control-plane.js';
import { startSimFleet } from './lib/sim-fleet.js';

const Options = z.object({
  devices: z
    .string()
    .default('1000')
    .transform((s) => s.split(',').map((n) => Number(n.trim())))
    .pipe(z.array(z.number().int().min(1).max(100_000)).min(1)),
  workers: z.coerce.number().int().min(1).max(64).default(Math.max(1, availableParallelism())),
  pullLatencyMs: z.coerce.number().int().min(0).default(0),
  startLatencyMs: z.coerce.number().int().min(0).default(0),
  rolloutPollSeconds: z.coerce.number().min(0.2).max(300).default(2),
  setupTimeoutS: z.coerce.number().int().min(10).default(1800),
  deadlineS: z.coerce.number().int().min(5).default(900),
});
type Options = z.infer<typeof Options>;

const TERMINAL_BAD = new Set(['paused', 'aborted', 'rolling-back', 'rolled-back']);
const POLL_MS = 100;

interface RolloutResult {
  devices: number;
  /** First API call (release create) → the rollout's status says succeeded (polled every 100 ms). */
  rolloutMs: number;
  /** The two API calls (release create + rollout create) alone. */
  apiMs: number;
  succeeded: number;
  /** First API call → the first poll at which the rollout's status counted at least this share of the devices succeeded. */
  statusSucceededMs: Record<'50%' | '90%' | '100%', number | null>;
  /** Devices of the rollout not succeeded, plus simulator failures. */
  failures: number;
  failureDetails: string[];
  /** First API call → each device's new desired document delivered to the benchmark's subscriber. */
  publish: Distribution;
  /** First API call → each device's report says release 2 runs (converged). */
  applied: Distribution;
  controllerCpuS: number;
  brokerCpuS: number;
  setup: { enrollS: number; startS: number; convergeS: number };
}

function parseOptions(): Options {
  const { values } = parseArgs({
    options: {
      devices: { type: 'string' },
      workers: { type: 'string' },
      'pull-latency-ms': { type: 'string' },
      'start-latency-ms': { type: 'string' },
      'rollout-poll': { type: 'string' },
      'setup-timeout-s': { type: 'string' },
      'deadline-s': { type: 'string' },
    },
  });
  return Options.parse({
    devices: values.devices,
    workers: values.workers,
    pullLatencyMs: values['pull-latency-ms'],
    startLatencyMs: values['start-latency-ms'],
    rolloutPollSeconds: values['rollout-poll'],
    setupTimeoutS: values['setup-timeout-s'],
    deadlineS: values['deadline-s'],
  });
}

const round1 = (x: number): number => Math.round(x * 10) / 10;

async function measure(n: number, o: Options): Promise<RolloutResult> {
  const plane = await startProcessControlPlane({ rolloutPollSeconds: o.rolloutPollSeconds });
  try {
    const observer = await FleetObserver.start(plane.brokerUrl, plane.servicePassword, ['desired', 'reported']);
    try {
      const app = `roll${n}`;
      const fleet = await startSimFleet(plane.client, plane.brokerUrl, observer, app, {
        devices: n,
        workers: o.workers,
        prefix: `roll${n}`,
        pullLatencyMs: o.pullLatencyMs,
        startLatencyMs: o.startLatencyMs,
        setupTimeoutMs: o.setupTimeoutS * 1000,
      });
      try {
        const v1 = new Map(fleet.ids.map((id) => [id, observer.desired.latest.get(id)?.body.version ?? 0]));
        const published = fleet.ids.map((id) => observer.desired.next(id, (m) => m.body.version > (v1.get(id) ?? 0), false));
        const applied = fleet.ids.map((id) =>
          observer.reported.next(id, (m) => m.body.phase === 'converged' && m.body.workloads[`${app}-web`]?.image === `sim/${app}:2` && m.body.workloads[`${app}-web`]?.state === 'running', false),
        );

        const cpu0 = plane.cpu();
        const t0 = epochMs();
        await plane.client.createRelease({ app, version: '2', workloads: { web: { image: `sim/${app}:2`, stopTimeoutSeconds: 1 } } });
        const rollout = await createRollout(plane.client, { app, toVersion: '2', target: { kind: 'selector', selector: fleet.selector }, waves: { kind: 'sizes', sizes: ['100%'] } });
        const apiMs = epochMs() - t0;
        const deadline = Date.now() + o.deadlineS * 1000;
        let phase = rollout.phase;
        const statusSucceededMs: RolloutResult['statusSucceededMs'] = { '50%': null, '90%': null, '100%': null };
        while (phase !== 'succeeded') {
          if (TERMINAL_BAD.has(phase)) break;
          if (Date.now() > deadline) throw new Error(`rollout not succeeded after ${o.deadlineS} s (phase ${phase})`);
          await new Promise((r) => setTimeout(r, POLL_MS));
          const summary = (await listRollouts(plane.client)).find((r) => r.id === rollout.id);
          phase = summary?.phase ?? 'missing';
          const share = (summary?.totals.succeeded ?? 0) / n;
          const at = round1(epochMs() - t0);
          for (const [key, min] of [['50%', 0.5], ['90%', 0.9], ['100%', 1]] as const) if (share >= min) statusSucceededMs[key] ??= at;
        }
        const rolloutMs = epochMs() - t0;
        const cpu1 = plane.cpu();

        const detail = await getRollout(plane.client, rollout.id);
        const notSucceeded = detail.devices.filter((d) => d.status !== 'succeeded');
        const failureDetails = [
          ...(phase === 'succeeded' ? [] : [`rollout ended ${phase}: ${detail.reason ?? ''}`]),
          ...notSucceeded.slice(0, 10).map((d) => `${d.deviceId}: ${d.status}${d.reason ? ` (${d.reason})` : ''}`),
          ...fleet.failures.slice(0, 10),
        ];
        // Devices the rollout did not move never publish or report release 2: only the succeeded ones are waited for.
        const succeededIds = new Set(detail.devices.filter((d) => d.status === 'succeeded').map((d) => d.deviceId));
        const settle = <T>(ps: Promise<T>[]): Promise<T[]> =>
          Promise.race([Promise.all(ps), new Promise<never>((_, reject) => setTimeout(() => reject(new Error('reports of succeeded devices did not reach the benchmark')), 60_000).unref())]);
        const publishedAt = await settle(published.filter((_, i) => succeededIds.has(fleet.ids[i] ?? '')));
        const appliedAt = await settle(applied.filter((_, i) => succeededIds.has(fleet.ids[i] ?? '')));
        return {
          devices: n,
          rolloutMs: round1(rolloutMs),
          apiMs: round1(apiMs),
          succeeded: detail.totals.succeeded,
          statusSucceededMs,
          failures: notSucceeded.length + fleet.failures.length + (phase === 'succeeded' ? 0 : 1),
          failureDetails,
          publish: distribution(publishedAt.map((m) => m.receivedAt - t0)),
          applied: distribution(appliedAt.map((m) => m.receivedAt - t0)),
          controllerCpuS: round1(cpu1.controllerS - cpu0.controllerS),
          brokerCpuS: round1(cpu1.brokerS - cpu0.brokerS),
          setup: fleet.setup,
        };
      } finally {
        await fleet.stop();
      }
    } finally {
      await observer.close();
    }
  } finally {
    await plane.close();
  }
}

async function main(): Promise<void> {
  const o = parseOptions();
  const results: RolloutResult[] = [];
  for (const n of o.devices) results.push(await measure(n, o));
  const options = { workers: o.workers, pullLatencyMs: o.pullLatencyMs, startLatencyMs: o.startLatencyMs, rolloutPollSeconds: o.rolloutPollSeconds, targetMsAt10000: 10_000 };
  process.stdout.write(`${JSON.stringify({ benchmark: 'rollout-convergence', options, results }, null, 2)}\n\n`);
  const rows = results.map(
    (r) =>
      `| ${r.devices} | ${r.rolloutMs} | ${r.apiMs} | ${r.publish.maxMs} | ${r.applied.p50Ms} | ${r.applied.p99Ms} | ${r.applied.maxMs} | ${r.succeeded} | ${r.failures} | ${r.controllerCpuS} | ${r.brokerCpuS} |`,
  );
  process.stdout.write(
    [
      '| devices | API → rollout succeeded (ms) | API calls (ms) | every document delivered (ms) | applied p50 (ms) | applied p99 (ms) | applied max (ms) | succeeded | failures | controller CPU (s) | broker CPU (s) |',
      '|---|---|---|---|---|---|---|---|---|---|---|',
      ...rows,
      '',
    ].join('\n'),
  );
  if (results.some((r) => r.failures > 0)) {
    process.stderr.write(`failures: ${results.flatMap((r) => r.failureDetails).join('; ')}\n`);
    process.exitCode = 1;
  }
}

runBench(main);
