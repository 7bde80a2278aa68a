import type { StatusStore } from '../../controller/ingest/status-store.js';
import { ReportedState } from '../../shared/schemas/reported-state.js';

/**
 * Device reports written straight into the controller's status store, for
 * tests of controller logic that need no real agent. Each call is newer than
 * the last (reportedAt = now).
 */
export async function fakeReport(
  status: StatusStore,
  deviceId: string,
  r: { seen: number; applied: number | null; phase: ReportedState['phase']; rolledBack?: number },
): Promise<void> {
  const at = new Date().toISOString();
  const report = ReportedState.parse({
    protocol: 1,
    deviceId,
    reportedAt: at,
    agent: { version: 'test', bootId: 'boot', startedAt: at },
    desired: { seenVersion: r.seen, appliedVersion: r.applied, applyingVersion: r.applied === r.seen ? null : r.seen },
    phase: r.phase,
    workloads: {},
    errors: [],
    deferred: null,
    rollback:
      r.rolledBack === undefined
        ? null
        : { version: r.rolledBack, workload: 'app-main', reason: 'exited', exitCode: 3, logs: '', health: null, at, repullNeeded: false },
    rejected: null,
  });
  await status.storeReported(report, Date.now());
}
