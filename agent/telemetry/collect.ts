import { WORKLOAD_NAME_PATTERN } from '../../shared/device-id.js';
import { PROTOCOL_VERSION } from '../../shared/schemas/common.js';
import type { Telemetry } from '../../shared/schemas/telemetry.js';
import type { ObservedContainer } from '../runtime/runtime.js';

/** The shape of `os.cpus()[n].times` (milliseconds since boot). */
export interface CpuTimes {
  user: number;
  nice: number;
  sys: number;
  idle: number;
  irq: number;
}

/** Busy and total CPU time over all cores, the input of the usage percentage. */
export interface CpuSample {
  busyMs: number;
  totalMs: number;
}

/** What one telemetry sample is made of, read by the caller (see system-sources.ts). */
export interface TelemetrySources {
  deviceId: string;
  nowMs: number;
  agentStartedAtMs: number;
  os: {
    uptimeSeconds: number;
    loadavg: readonly number[];
    cpus: readonly { times: CpuTimes }[];
    totalmemBytes: number;
    freememBytes: number;
  };
  /** fs.statfs of the agent's state directory; null when it could not be read. */
  disk: { path: string; stats: { bsize: number; blocks: number; bavail: number } | null };
  /** null when the container engine could not be asked. */
  containers: readonly ObservedContainer[] | null;
  mqtt: { bytesIn: number; bytesOut: number };
}

const MAX_CONTAINERS = 64;
const RANK: Record<string, number> = { running: 0, restarting: 1, paused: 2, created: 3, exited: 4 };

export function cpuSample(cpus: readonly { times: CpuTimes }[]): CpuSample {
  let busyMs = 0;
  let totalMs = 0;
  for (const { times } of cpus) {
    const total = times.user + times.nice + times.sys + times.idle + times.irq;
    totalMs += total;
    busyMs += total - times.idle;
  }
  return { busyMs, totalMs };
}

/** Busy share of all cores between two samples, 0-100 with one decimal; null without a usable previous one. */
export function cpuUsagePct(previous: CpuSample | null, current: CpuSample): number | null {
  if (!previous) return null;
  const total = current.totalMs - previous.totalMs;
  const busy = current.busyMs - previous.busyMs;
  if (total <= 0 || busy < 0) return null; // counters reset or went backwards (e.g. a core went offline)
  return Math.round(Math.min(100, Math.max(0, (busy / total) * 100)) * 10) / 10;
}

/**
 * Pure: one Telemetry document from its sources and the CPU sample of the
 * previous call (returned for the next one).
 */
export function collectTelemetry(src: TelemetrySources, previousCpu: CpuSample | null): { telemetry: Telemetry; cpu: CpuSample } {
  const cpu = cpuSample(src.os.cpus);
  const stats = src.disk.stats;
  const int = (n: number): number => (Number.isFinite(n) && n > 0 ? Math.floor(n) : 0);
  const load1m = src.os.loadavg[0] ?? 0;
  const telemetry: Telemetry = {
    protocol: PROTOCOL_VERSION,
    deviceId: src.deviceId,
    at: new Date(src.nowMs).toISOString(),
    uptimeSeconds: int(src.os.uptimeSeconds),
    agentUptimeSeconds: int((src.nowMs - src.agentStartedAtMs) / 1000),
    cpu: {
      cores: Math.max(1, src.os.cpus.length),
      // os.loadavg() gives 0.3955078125 and the like: two decimals are all a reader uses, and a shorter number (one
      // that changes less often) keeps deltas small (DD-038).
      loadAverage1m: Number.isFinite(load1m) ? Math.round(Math.max(0, load1m) * 100) / 100 : 0,
      usagePct: cpuUsagePct(previousCpu, cpu),
    },
    memory: { totalBytes: int(src.os.totalmemBytes), availableBytes: int(src.os.freememBytes) },
    disk: {
      path: src.disk.path.slice(0, 1024),
      totalBytes: stats ? int(stats.blocks * stats.bsize) : 0,
      freeBytes: stats ? int(stats.bavail * stats.bsize) : 0,
    },
    containers: perWorkload(src.containers ?? []),
    mqtt: { bytesIn: int(src.mqtt.bytesIn), bytesOut: int(src.mqtt.bytesOut) },
  };
  return { telemetry, cpu };
}

/** One row per workload: the container that matters (running first, then the newest), sorted by name. */
function perWorkload(containers: readonly ObservedContainer[]): Telemetry['containers'] {
  const best = new Map<string, ObservedContainer>();
  for (const c of containers) {
    if (!WORKLOAD_NAME_PATTERN.test(c.workload)) continue;
    const cur = best.get(c.workload);
    const better = !cur || (RANK[c.state] ?? 9) - (RANK[cur.state] ?? 9) < 0 || ((RANK[c.state] ?? 9) === (RANK[cur.state] ?? 9) && c.createdAt > cur.createdAt);
    if (better) best.set(c.workload, c);
  }
  return [...best.values()]
    .sort((a, b) => a.workload.localeCompare(b.workload))
    .slice(0, MAX_CONTAINERS)
    .map((c) => ({ workload: c.workload, state: c.state.slice(0, 32), restartCount: Math.max(0, Math.floor(c.restartCount)) }));
}
