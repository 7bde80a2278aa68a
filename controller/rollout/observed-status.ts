import type { DeviceStatus } from '../ingest/status-store.js';
import type { ObservedDevice } from './model.js';

/** Workload states that count as "running" for a converged version (same rule as the agent's phase). */
const RUNNING_STATES = new Set(['running', 'stopped', 'removed']);

/**
 * What the planner needs from a device's stored status; undefined before the
 * first report. The failure a `failed` / `rolled-back` phase is about is the
 * version being applied, or the version the agent rolled back.
 */
export function observedFromStatus(status: DeviceStatus): ObservedDevice | undefined {
  const r = status.reported;
  if (!r) return undefined;
  const phaseVersion = r.phase === 'rolled-back' ? (r.rollback?.version ?? null) : r.phase === 'failed' ? r.desired.applyingVersion : null;
  return {
    appliedVersion: r.desired.appliedVersion,
    seenVersion: r.desired.seenVersion,
    phase: r.phase,
    phaseVersion,
    allRunning: Object.values(r.workloads).every((w) => RUNNING_STATES.has(w.state)),
    online: status.online,
  };
}
