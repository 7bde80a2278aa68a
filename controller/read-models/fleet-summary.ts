import type { Redis } from 'ioredis';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { DeviceStatus, StatusStore } from '../ingest/status-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { DeviceSummary, FleetSummary } from '../views.js';
import { deviceSummary } from './device-views.js';
import { pendingDevices } from './pending-devices.js';

export interface FleetSummaryDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  status: StatusStore;
}

/** The fleet summary and the device rows it was counted from: /metrics derives its gauges from both (DD-039). */
export interface FleetSnapshot {
  summary: FleetSummary;
  devices: DeviceSummary[];
}

/**
 * How many desired-state versions a device is behind: 0 when it applied the
 * stored version (or has none to apply), the whole version when it never
 * applied any. Versions only increase (DD-001), so this is a count of
 * documents it has not applied yet.
 */
export function versionsBehind(row: Pick<DeviceSummary, 'desiredVersion' | 'appliedVersion'>): number {
  if (row.desiredVersion === null) return 0;
  return Math.max(0, row.desiredVersion - (row.appliedVersion ?? 0));
}

/** Fleet-wide counts for `outpost status`, in a few pipelined round trips whatever the fleet size. */
export async function fleetSummary(deps: FleetSummaryDeps): Promise<FleetSummary> {
  return (await fleetSnapshot(deps)).summary;
}

/** The fleet summary with its per-device rows, from one read of the registry and status store. */
export async function fleetSnapshot(deps: FleetSummaryDeps): Promise<FleetSnapshot> {
  const devices = await deps.devices.all();
  const ids = devices.map((d) => d.id);
  const statuses = await deps.status.many(ids);
  const pipeline = deps.redis.pipeline();
  for (const id of ids) pipeline.hmget(deps.keys.desired(id), 'version', 'doc');
  const rows = (await pipeline.exec()) ?? [];
  const [pending, decommissioning] = await Promise.all([pendingDevices(deps.redis, deps.keys, devices), deps.redis.smembers(deps.keys.decommissioning())]);
  const byPhase: Record<string, number> = {};
  const byRelease: Record<string, { desired: number; running: number }> = {};
  const summaries: DeviceSummary[] = [];
  const tombstoned = new Set(decommissioning);
  let online = 0;
  let inSync = 0;
  let lagging = 0;
  devices.forEach((d, i) => {
    const status = statuses[i] as DeviceStatus;
    const [versionText, docText] = (rows[i]?.[1] ?? [null, null]) as (string | null)[];
    const s = deviceSummary(d, status, versionText ? Number(versionText) : null, pending.has(d.id), tombstoned.has(d.id));
    summaries.push(s);
    byPhase[s.phase] = (byPhase[s.phase] ?? 0) + 1;
    if (s.online) online++;
    if (s.inSync) inSync++;
    if (versionsBehind(s) > 0) lagging++;
    const provenance = docText ? (JSON.parse(docText) as DesiredState).provenance : {};
    const releasesOfDevice = new Set(Object.values(provenance).map((p) => p.release).filter((r): r is string => !!r));
    for (const r of releasesOfDevice) {
      const entry = (byRelease[r] ??= { desired: 0, running: 0 });
      entry.desired++;
      if (s.inSync && status.reported?.phase === 'converged') entry.running++;
    }
  });
  const summary: FleetSummary = {
    devices: devices.length,
    online,
    offline: devices.length - online,
    byPhase,
    inSync,
    lagging,
    byRelease,
    pending: pending.size,
    pendingDevices: [...pending].sort().slice(0, 100),
    decommissioning: decommissioning.sort(),
    deployments: await deps.redis.scard(deps.keys.deployments()),
    releases: await deps.redis.zcard(deps.keys.releases()),
  };
  return { summary, devices: summaries };
}
