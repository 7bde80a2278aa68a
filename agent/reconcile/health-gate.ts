import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import { sleep } from '../../shared/clock.js';
import type { ContainerRuntime } from '../runtime/runtime.js';
import type { Prober } from './probes.js';

export interface GateTarget {
  workload: string;
  /** Container id or name of the new container. */
  container: string;
  spec: WorkloadSpec;
}

export interface GateFailure {
  workload: string;
  reason: string;
  exitCode: number | null;
  logs: string;
  health: string | null;
}

export interface GateDeps {
  runtime: ContainerRuntime;
  prober: Prober;
  now: () => number;
  signal: AbortSignal;
  /** A container must stay up at least this long even with minReadySeconds 0 (catches "exits at once"). */
  minimumReadyMs: number;
  /** Budget when the image's own HEALTHCHECK decides (its timings are unknown to us). */
  imageHealthBudgetMs: number;
  pollMs: number;
}

export const GATE_DEFAULTS: { minimumReadyMs: number; imageHealthBudgetMs: number; pollMs: number } = { minimumReadyMs: 2000, imageHealthBudgetMs: 120_000, pollMs: 250 };

/**
 * The health gate of an update (DD-013): every new container must be running
 * and healthy, continuously, for minReadySeconds (at least minimumReadyMs).
 * Health is the workload's check (cmd via Docker, http/tcp probed by the
 * agent), else the image's HEALTHCHECK, else "running". A crash, a restart, an
 * unhealthy verdict or running out of time fails the gate; the caller rolls
 * back. Resolves with the first failure, or null when all passed.
 */
export async function healthGate(targets: readonly GateTarget[], deps: GateDeps): Promise<GateFailure | null> {
  const results = await Promise.all(targets.map((t) => gateOne(t, deps)));
  return results.find((r): r is GateFailure => r !== null) ?? null;
}

async function gateOne(t: GateTarget, deps: GateDeps): Promise<GateFailure | null> {
  const h = t.spec.health;
  const readyMs = Math.max(t.spec.minReadySeconds * 1000, deps.minimumReadyMs);
  const checkBudgetMs = h ? (h.startPeriodSeconds + (h.intervalSeconds + h.timeoutSeconds) * (h.retries + 1)) * 1000 : 0;
  const started = deps.now();
  const deadline = started + readyMs + Math.max(checkBudgetMs, 10_000);
  const first = await deps.runtime.inspectContainer(t.container);
  if (!first) return fail(t, deps, 'the new container disappeared', null, null);
  const restarts0 = first.restartCount;
  let usesImageHealth = first.health.status !== 'none' && h === undefined;
  let deadlineFor = usesImageHealth ? Math.max(deadline, started + deps.imageHealthBudgetMs) : deadline;
  let healthySince: number | null = null;
  let probeFailures = 0;
  let lastProbeAt = 0;
  let lastProbeError: string | null = null;

  for (;;) {
    if (deps.signal.aborted) return null; // superseded: the next pass decides
    const d = await deps.runtime.inspectContainer(t.container);
    const now = deps.now();
    if (!d) return fail(t, deps, 'the new container disappeared', null, lastProbeError);
    if (!d.running || d.restarting || d.restartCount > restarts0) {
      const how = d.restarting || d.restartCount > restarts0 ? 'crashed and is being restarted' : 'exited';
      return fail(t, deps, `the new container ${how} (exit code ${d.exitCode ?? 'unknown'})`, d.exitCode, d.health.lastOutput ?? lastProbeError);
    }
    if (!usesImageHealth && h === undefined && d.health.status !== 'none') {
      usesImageHealth = true;
      deadlineFor = Math.max(deadline, started + deps.imageHealthBudgetMs);
    }
    let healthy: boolean;
    if (h?.type === 'http' || h?.type === 'tcp') {
      const inStartPeriod = now - started < h.startPeriodSeconds * 1000;
      if (now - lastProbeAt >= h.intervalSeconds * 1000 || lastProbeAt === 0) {
        lastProbeAt = now;
        const ok = await probe(h, d.address, deps);
        if (ok === true) {
          probeFailures = 0;
          lastProbeError = null;
        } else {
          lastProbeError = ok;
          if (!inStartPeriod) probeFailures++;
        }
        if (probeFailures >= h.retries) {
          return fail(t, deps, `health check failed ${probeFailures} times: ${lastProbeError}`, null, lastProbeError);
        }
      }
      healthy = probeFailures === 0 && lastProbeError === null;
    } else if (h?.type === 'cmd' || usesImageHealth) {
      if (d.health.status === 'unhealthy') {
        return fail(t, deps, `health check reports unhealthy: ${d.health.lastOutput ?? 'no output'}`, null, d.health.lastOutput);
      }
      healthy = d.health.status === 'healthy';
    } else {
      healthy = true;
    }
    if (healthy) healthySince ??= now;
    else healthySince = null;
    if (healthySince !== null && now - healthySince >= readyMs) return null;
    if (now > deadlineFor) {
      return fail(
        t,
        deps,
        `not healthy for ${Math.round(readyMs / 1000)} s within ${Math.round((deadlineFor - started) / 1000)} s`,
        null,
        d.health.lastOutput ?? lastProbeError,
      );
    }
    await sleep(deps.pollMs, deps.signal).catch(() => undefined);
  }
}

async function probe(h: Extract<WorkloadSpec['health'], { type: 'http' | 'tcp' }>, address: string | null, deps: GateDeps): Promise<true | string> {
  if (!address) return 'the container has no network address to probe';
  if (h.type === 'tcp') {
    const r = await deps.prober.tcp(address, h.port, h.timeoutSeconds * 1000);
    return r.ok ? true : `tcp ${address}:${h.port}: ${r.error}`;
  }
  const r = await deps.prober.http(address, h.port, h.path, h.timeoutSeconds * 1000);
  if (!r.ok) return `GET http://${address}:${h.port}${h.path}: ${r.error}`;
  const good = h.expectStatus ? h.expectStatus.includes(r.status) : r.status >= 200 && r.status < 400;
  return good ? true : `GET http://${address}:${h.port}${h.path}: status ${r.status}`;
}

async function fail(t: GateTarget, deps: GateDeps, reason: string, exitCode: number | null, health: string | null): Promise<GateFailure> {
  const logs = await deps.runtime.containerLogs(t.container, 20, 4096).catch(() => '');
  return { workload: t.workload, reason, exitCode, logs, health };
}
