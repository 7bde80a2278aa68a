import type { ClientKind, StormObservation } from './client-fleet.js';
import type { RedisFigures } from './redis-proxy.js';
import type { TargetKind } from './target.js';

export interface MemorySample {
  rssBytes: number;
  heapUsedBytes: number | null;
}

export interface MemoryFigures {
  /** Broker started, nothing enrolled → sessions stored, none connected → all connected, idle. */
  rssMB: { empty: number; stored: number; connected: number };
  heapUsedAfterGcMB: { empty: number; stored: number; connected: number } | null;
  /** (stored − empty) / N and (connected − stored) / N. */
  rssKBPerStoredSession: number;
  rssKBPerConnectedDevice: number;
  heapKBPerStoredSession: number | null;
  heapKBPerConnectedDevice: number | null;
}

export interface StormResult {
  target: TargetKind;
  label: string;
  clients: ClientKind;
  devices: number;
  /** Not part of the storm: credentials (dynsec: clients and roles through the broker-admin code), then sessions. */
  /** Not timed in the storm: credentials, sessions, and publishing every device's document while it is away (until all are queued). */
  setup: { enrolS: number; sessionsS: number; publishS: number };
  converged: number;
  lost: number;
  duplicated: number;
  /** Devices the document reached more than once on the wire (agents drop the copies: DD-001). */
  deliveredMoreThanOnce: number;
  connackTimeouts: number;
  closedBeforeConnack: number;
  /** Until the last device converged; null when not all did by the deadline. */
  allMs: number | null;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** When the document arrived (equal to the convergence figures for raw clients). */
  receivedP50Ms: number;
  receivedP99Ms: number;
  brokerCpuS: number;
  brokerCpuMsPerDevice: number;
  redis: RedisFigures | null;
  memory: MemoryFigures;
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? 0;
}

const mb = (bytes: number): number => Number((bytes / 1e6).toFixed(1));
const kbPer = (bytes: number, n: number): number => Number((bytes / 1024 / n).toFixed(2));

export function memoryFigures(empty: MemorySample, stored: MemorySample, connected: MemorySample, n: number): MemoryFigures {
  const heap = empty.heapUsedBytes !== null && stored.heapUsedBytes !== null && connected.heapUsedBytes !== null;
  return {
    rssMB: { empty: mb(empty.rssBytes), stored: mb(stored.rssBytes), connected: mb(connected.rssBytes) },
    heapUsedAfterGcMB: heap ? { empty: mb(empty.heapUsedBytes ?? 0), stored: mb(stored.heapUsedBytes ?? 0), connected: mb(connected.heapUsedBytes ?? 0) } : null,
    rssKBPerStoredSession: kbPer(stored.rssBytes - empty.rssBytes, n),
    rssKBPerConnectedDevice: kbPer(connected.rssBytes - stored.rssBytes, n),
    heapKBPerStoredSession: heap ? kbPer((stored.heapUsedBytes ?? 0) - (empty.heapUsedBytes ?? 0), n) : null,
    heapKBPerConnectedDevice: heap ? kbPer((connected.heapUsedBytes ?? 0) - (stored.heapUsedBytes ?? 0), n) : null,
  };
}

export interface StormFigures {
  target: TargetKind;
  label: string;
  clients: ClientKind;
  devices: number;
  setup: StormResult['setup'];
  observation: StormObservation;
  allMs: number | null;
  brokerCpuS: number;
  redis: RedisFigures | null;
  memory: MemoryFigures;
}

export function stormResult(f: StormFigures): StormResult {
  const o = f.observation;
  const n = f.devices;
  const times = [...o.converged.values()].sort((a, b) => a - b);
  const firsts = [...o.received.values()].map((t) => Math.min(...t)).sort((a, b) => a - b);
  return {
    target: f.target,
    label: f.label,
    clients: f.clients,
    devices: n,
    setup: f.setup,
    converged: o.converged.size,
    lost: n - o.converged.size,
    duplicated: o.duplicated(),
    deliveredMoreThanOnce: [...o.received.values()].filter((t) => t.length > 1).length,
    connackTimeouts: o.connackTimeouts(),
    closedBeforeConnack: o.closedBeforeConnack(),
    allMs: f.allMs === null ? null : Math.round(f.allMs),
    p50Ms: Math.round(percentile(times, 50)),
    p99Ms: Math.round(percentile(times, 99)),
    maxMs: Math.round(times.at(-1) ?? 0),
    receivedP50Ms: Math.round(percentile(firsts, 50)),
    receivedP99Ms: Math.round(percentile(firsts, 99)),
    brokerCpuS: Number(f.brokerCpuS.toFixed(2)),
    brokerCpuMsPerDevice: Number(((f.brokerCpuS * 1000) / n).toFixed(3)),
    redis: f.redis,
    memory: f.memory,
  };
}
