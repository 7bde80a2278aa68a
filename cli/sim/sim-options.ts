import { availableParallelism } from 'node:os';
import { z } from 'zod';
import { formatIssues } from '../../shared/decode.js';
import { SimHealthStatus } from '../../agent/runtime/simulation/sim-config.js';
import { usageError } from '../commands/command-context.js';

/** What commander hands over: strings, as typed. */
export interface SimFlags {
  devices?: string;
  workers?: string;
  prefix?: string;
  label: string[];
  broker?: string;
  brokerCa?: string;
  stateDir?: string;
  pullLatencyMs?: string;
  startLatencyMs?: string;
  failureRate?: string;
  startFailureRate?: string;
  flakyHealthRate?: string;
  flakyHealth?: string;
  seed?: string;
  cleanup?: boolean;
  acceptUnsigned?: boolean;
  telemetryInterval?: string;
  progressInterval?: string;
  logLevel?: string;
  insecurePlaintext?: boolean;
}

const rate = z.coerce.number().min(0).max(1);

export const SimOptions = z.strictObject({
  devices: z.coerce.number().int().min(1).max(100_000),
  workers: z.coerce.number().int().min(1).max(256),
  prefix: z.string().regex(/^[a-z0-9][a-z0-9._-]{0,50}$/, 'the prefix must match ^[a-z0-9][a-z0-9._-]{0,50}$ (ids are <prefix>-<n>)'),
  labels: z.record(z.string(), z.string()),
  brokerUrl: z.string().regex(/^(mqtts?|tcp|tls):\/\/\S+$/, 'the broker must be a URL like mqtt://127.0.0.1:1883 or mqtts://host:8883'),
  brokerCaFile: z.string().min(1).optional(),
  stateDir: z.string().min(1).optional(),
  pullLatencyMs: z.coerce.number().int().min(0).max(3_600_000),
  startLatencyMs: z.coerce.number().int().min(0).max(3_600_000),
  pullFailureRate: rate,
  startFailureRate: rate,
  flakyHealthRate: rate,
  flakyHealthSequence: z.array(SimHealthStatus).min(1),
  seed: z.coerce.number().int(),
  cleanup: z.boolean(),
  acceptUnsigned: z.boolean(),
  insecurePlaintext: z.boolean(),
  telemetryIntervalSeconds: z.coerce.number().int().min(0),
  progressIntervalMs: z.number().int().min(100),
  logLevel: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']),
});
export type SimOptions = z.infer<typeof SimOptions>;

/** Flags → options, every bad one listed at once (USAGE). */
export function simOptionsFromFlags(flags: SimFlags, labels: Record<string, string>): Readonly<SimOptions> {
  const progress = Number(flags.progressInterval ?? '2');
  const parsed = SimOptions.safeParse({
    devices: flags.devices,
    workers: flags.workers ?? Math.max(1, availableParallelism()),
    prefix: flags.prefix ?? 'sim',
    labels: { ...labels, sim: 'true' },
    brokerUrl: flags.broker ?? 'mqtt://127.0.0.1:1883',
    brokerCaFile: flags.brokerCa,
    stateDir: flags.stateDir,
    pullLatencyMs: flags.pullLatencyMs ?? 200,
    startLatencyMs: flags.startLatencyMs ?? 50,
    pullFailureRate: flags.failureRate ?? 0,
    startFailureRate: flags.startFailureRate ?? 0,
    flakyHealthRate: flags.flakyHealthRate ?? 0,
    flakyHealthSequence: (flags.flakyHealth ?? 'starting,unhealthy').split(',').map((s) => s.trim()),
    seed: flags.seed ?? 1,
    cleanup: flags.cleanup === true,
    acceptUnsigned: flags.acceptUnsigned === true,
    insecurePlaintext: flags.insecurePlaintext === true,
    telemetryIntervalSeconds: flags.telemetryInterval ?? 0,
    progressIntervalMs: Number.isFinite(progress) ? Math.round(progress * 1000) : Number.NaN,
    logLevel: flags.logLevel ?? 'warn',
  });
  if (!parsed.success) throw usageError(`invalid sim options: ${formatIssues(parsed.error.issues, 20)}`);
  if (parsed.data.devices < parsed.data.workers) parsed.data.workers = parsed.data.devices;
  return Object.freeze(parsed.data);
}
