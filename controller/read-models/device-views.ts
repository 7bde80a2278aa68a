import type { Redis } from 'ioredis';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { DeviceEvent } from '../../shared/schemas/event.js';
import type { Telemetry } from '../../shared/schemas/telemetry.js';
import { composeDesired, prepareDeployments } from '../desired-state/compose-desired.js';
import { readDesiredRecord } from '../desired-state/desired-record.js';
import { matches } from '../desired-state/selector.js';
import type { DeviceStatus, StatusStore } from '../ingest/status-store.js';
import type { Device } from '../model/device.js';
import { releaseRef } from '../model/names.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import { selectorOf } from '../operations/validation.js';
import type { DeviceDetail, DeviceSummary } from '../views.js';
import { pendingDevices } from './pending-devices.js';
import { planRegistryAuth } from '../desired-state/registry-auth.js';
import type { RegistryCredentialStore } from '../registry-auth/registry-credential-store.js';

export interface DeviceViewsDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  releases: ReleaseStore;
  deployments: DeploymentStore;
  status: StatusStore;
  /** To name registry credentials that cannot be used (DD-041); absent: none. */
  registryCredentials?: Pick<RegistryCredentialStore, 'snapshot'>;
}

/** What operators read about devices: lists, details, desired and reported state, events, telemetry. */
export class DeviceViews {
  constructor(private readonly deps: DeviceViewsDeps) {}

  async list(opts: { selector?: string } = {}): Promise<DeviceSummary[]> {
    const selector = opts.selector !== undefined ? selectorOf(opts.selector) : null;
    const devices = (await this.deps.devices.all()).filter((d) => !selector || matches(selector, d.labels));
    const ids = devices.map((d) => d.id);
    const [statuses, heads, pending, tombs] = await Promise.all([
      this.deps.status.many(ids),
      desiredVersions(this.deps.redis, this.deps.keys, ids),
      pendingDevices(this.deps.redis, this.deps.keys, devices),
      this.tombstoned(ids),
    ]);
    return devices.map((d, i) => deviceSummary(d, statuses[i] as DeviceStatus, heads.get(d.id) ?? null, pending.has(d.id), tombs.has(d.id)));
  }

  async get(id: string): Promise<DeviceDetail> {
    const device = await this.deps.devices.require(id);
    const [status, record, deployments, pending, decommission] = await Promise.all([
      this.deps.status.get(id),
      readDesiredRecord(this.deps.redis, this.deps.keys, id),
      this.deps.deployments.all(),
      pendingDevices(this.deps.redis, this.deps.keys, [device]),
      this.deps.devices.tombstone(id),
    ]);
    const refs = deployments.map((d) => releaseRef(d.app, d.version));
    for (const [app, version] of Object.entries(device.overrides.pins)) refs.push(releaseRef(app, version));
    const composed = composeDesired(device, prepareDeployments(deployments), await this.deps.releases.byRefs(refs));
    const credentials = await this.deps.registryCredentials?.snapshot();
    const auth = credentials ? planRegistryAuth(composed.workloads, composed.contentHash, credentials).problems : [];
    return {
      ...deviceSummary(device, status, record?.version ?? null, pending.has(id), decommission !== null),
      overrides: device.overrides,
      apps: composed.apps,
      problems: [...composed.problems, ...auth],
      desired: record?.doc ?? null,
      reported: status.reported,
      presence: status.presence,
      decommission,
    };
  }

  /** What the device last reported, without composing anything. */
  async status(id: string): Promise<DeviceStatus> {
    await this.deps.devices.require(id);
    return this.deps.status.get(id);
  }

  async desired(id: string): Promise<DesiredState | null> {
    await this.deps.devices.require(id);
    return (await readDesiredRecord(this.deps.redis, this.deps.keys, id))?.doc ?? null;
  }

  async events(id: string, limit = 50): Promise<DeviceEvent[]> {
    await this.deps.devices.require(id);
    return this.deps.status.events(id, limit);
  }

  async telemetry(id: string): Promise<Telemetry | null> {
    await this.deps.devices.require(id);
    return this.deps.status.telemetry(id);
  }

  private async tombstoned(ids: readonly string[]): Promise<Set<string>> {
    if (ids.length === 0) return new Set();
    const members = await this.deps.redis.smembers(this.deps.keys.decommissioning());
    return new Set(members);
  }
}

export function deviceSummary(d: Device, s: DeviceStatus, desiredVersion: number | null, pending: boolean, decommissioning: boolean): DeviceSummary {
  const appliedVersion = s.reported?.desired.appliedVersion ?? null;
  return {
    id: d.id,
    labels: d.labels,
    createdAt: d.createdAt,
    online: s.online,
    lastSeen: s.lastSeen,
    phase: s.reported?.phase ?? 'unknown',
    desiredVersion,
    appliedVersion,
    inSync: desiredVersion === null ? appliedVersion === null : appliedVersion === desiredVersion,
    pending,
    decommissioning,
  };
}

/** Version of each device's stored desired document, one pipeline. */
export async function desiredVersions(redis: Redis, keys: Keys, ids: readonly string[]): Promise<Map<string, number>> {
  const pipeline = redis.pipeline();
  for (const id of ids) pipeline.hget(keys.desired(id), 'version');
  const rows = (await pipeline.exec()) ?? [];
  const out = new Map<string, number>();
  rows.forEach(([err, v], i) => {
    const id = ids[i];
    if (!err && v && id) out.set(id, Number(v));
  });
  return out;
}
