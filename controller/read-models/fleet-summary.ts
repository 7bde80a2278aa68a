import type { Redis } from 'ioredis';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { DeviceStatus, StatusStore } from '../ingest/status-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { FleetSummary } from '../views.js';
import { deviceSummary } from './device-views.js';
import { pendingDevices } from './pending-devices.js';

export interface FleetSummaryDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  status: StatusStore;
}

/** Fleet-wide counts for `outpost status`, in a few pipelined round trips whatever the fleet size. */
export async function fleetSummary(deps: FleetSummaryDeps): Promise<FleetSummary> {
  const devices = await deps.devices.all();
  const ids = devices.map((d) => d.id);
  const statuses = await deps.status.many(ids);
  const pipeline = deps.redis.pipeline();
  for (const id of ids) pipeline.hmget(deps.keys.desired(id), 'version', 'doc');
  const rows = (await pipeline.exec()) ?? [];
  const [pending, decommissioning] = await Promise.all([pendingDevices(deps.redis, deps.keys, devices), deps.redis.smembers(deps.keys.decommissioning())]);
  const byPhase: Record<string, number> = {};
  const byRelease: Record<string, { desired: number; running: number }> = {};
  let online = 0;
  let inSync = 0;
  devices.forEach((d, i) => {
    const status = statuses[i] as DeviceStatus;
    const [versionText, docText] = (rows[i]?.[1] ?? [null, null]) as (string | null)[];
    const s = deviceSummary(d, status, versionText ? Number(versionText) : null, pending.has(d.id), false);
    byPhase[s.phase] = (byPhase[s.phase] ?? 0) + 1;
    if (s.online) online++;
    if (s.inSync) inSync++;
    const provenance = docText ? (JSON.parse(docText) as DesiredState).provenance : {};
    const releasesOfDevice = new Set(Object.values(provenance).map((p) => p.release).filter((r): r is string => !!r));
    for (const r of releasesOfDevice) {
      const entry = (byRelease[r] ??= { desired: 0, running: 0 });
      entry.desired++;
      if (s.inSync && status.reported?.phase === 'converged') entry.running++;
    }
  });
  return {
    devices: devices.length,
    online,
    offline: devices.length - online,
    byPhase,
    inSync,
    byRelease,
    pending: pending.size,
    pendingDevices: [...pending].sort().slice(0, 100),
    decommissioning: decommissioning.sort(),
    deployments: await deps.redis.scard(deps.keys.deployments()),
    releases: await deps.redis.zcard(deps.keys.releases()),
  };
}
