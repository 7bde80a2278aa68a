/**
 * The chaos run of issue 13 (DD-056): a real control plane (Redis with AOF,
 * two `outpost broker` nodes on it, `outpost controller`), SIMULATED devices
 * (`outpost sim`'s agents) in groups behind fault links, and for --duration a
 * seeded random mix of faults F1–F8 and F10, with F9 (an hour of clock skew)
 * on a share of the devices throughout, while releases keep being deployed
 * and rolled out. Then everything heals, the fleet must converge, and the
 * history checker (bench/chaos/checker.ts) must count 0 lost, 0 duplicated,
 * 0 unexpected; the exit code is 1 otherwise.
 * Prints the JSON result, then markdown tables; --out FILE keeps the JSON.
 *
 * Usage: node dist/bench/chaos/run.js [--duration 90s|30m] [--seed N] [--devices 30]
 *        [--group-size 5] [--workers 2] [--keepalive 15] [--max-queued 5]
 *        [--fault-gap 6s] [--change-gap 5s] [--converge-timeout 300s] [--out FILE]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { formatIssues } from '../../shared/decode.js';
import { runBench } from '../lib/bench-control-plane.js';
import { chaosTables, failures } from './chaos-report.js';
import { runChaos } from './chaos-run.js';

/** `90s`, `30m`, `1h` or plain seconds. */
const Duration = z
  .string()
  .regex(/^\d+(\.\d+)?(ms|s|m|h)?$/, 'a duration like 90s, 30m or 1h')
  .transform((v) => {
    const n = Number.parseFloat(v);
    const unit = /[a-z]+$/.exec(v)?.[0] ?? 's';
    return Math.round(n * { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[unit as 'ms' | 's' | 'm' | 'h']);
  });

const Options = z.strictObject({
  duration: Duration.default(90_000),
  seed: z.coerce.number().int().min(0).max(2 ** 31 - 1).default(() => Math.floor(Math.random() * 1_000_000)),
  devices: z.coerce.number().int().min(2).max(10_000).default(30),
  'group-size': z.coerce.number().int().min(1).max(1000).default(5),
  workers: z.coerce.number().int().min(1).max(64).default(2),
  keepalive: z.coerce.number().int().min(5).max(300).default(15),
  'max-queued': z.coerce.number().int().min(1).max(1000).default(5),
  'fault-gap': Duration.default(6_000),
  'change-gap': Duration.default(5_000),
  'converge-timeout': Duration.default(300_000),
  out: z.string().min(1).optional(),
});

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: Object.fromEntries(Object.keys(Options.shape).map((k) => [k, { type: 'string' as const }])),
    strict: true,
  });
  const parsed = Options.safeParse(values);
  if (!parsed.success) {
    process.stderr.write(`chaos: invalid options: ${formatIssues(parsed.error.issues, 20)}\n`);
    process.exitCode = 2;
    return;
  }
  const o = parsed.data;
  process.stderr.write(`chaos: seed ${o.seed} (repeat with --seed ${o.seed})\n`);
  const result = await runChaos({
    seed: o.seed,
    durationMs: o.duration,
    devices: o.devices,
    groupSize: o['group-size'],
    workers: o.workers,
    brokers: 2,
    keepaliveSeconds: o.keepalive,
    maxQueuedMessages: o['max-queued'],
    faultGapMs: o['fault-gap'],
    changeGapMs: o['change-gap'],
    skewedShare: 0.1,
    convergeTimeoutMs: o['converge-timeout'],
    log: (line) => process.stderr.write(`${line}\n`),
  });
  const json = JSON.stringify(result, null, 2);
  process.stdout.write(`${json}\n\n${chaosTables(result)}\n`);
  if (o.out) {
    await mkdir(dirname(o.out), { recursive: true });
    await writeFile(o.out, `${json}\n`);
  }
  const failed = failures(result);
  if (failed.length) {
    process.stderr.write(`chaos: FAILED: ${failed.join(', ')} (seed ${o.seed})\n`);
    process.exitCode = 1;
  }
}

runBench(main);
