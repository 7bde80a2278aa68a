import { randomBytes } from 'node:crypto';
import type { StatusStore } from '../../controller/ingest/status-store.js';
import { DeviceEvent } from '../../shared/schemas/event.js';
import { Presence } from '../../shared/schemas/presence.js';
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

/** A presence written straight into the controller's status store, as if the device's agent had sent it. */
export async function fakePresence(status: StatusStore, deviceId: string, online: boolean, epoch: number): Promise<void> {
  const presence = Presence.parse({
    protocol: 1,
    deviceId,
    status: online ? 'online' : 'offline',
    epoch,
    at: new Date().toISOString(),
    agentVersion: 'test',
    bootId: 'boot',
  });
  await status.storePresence(presence, Date.now());
}

/** An event written straight into the controller's status store. */
export async function fakeEvent(status: StatusStore, deviceId: string, e: { type: DeviceEvent['type']; version: number | null }): Promise<void> {
  const event = DeviceEvent.parse({
    protocol: 1,
    deviceId,
    id: randomBytes(8).toString('hex'),
    at: new Date().toISOString(),
    type: e.type,
    level: 'info',
    message: e.type,
    version: e.version,
  });
  await status.storeEvent(event, Date.now());
}
