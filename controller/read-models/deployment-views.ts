import type { Redis } from 'ioredis';
import { prepareDeployments } from '../desired-state/compose-desired.js';
import { CompositionCache } from '../desired-state/composition-cache.js';
import type { DeviceStatus, StatusStore } from '../ingest/status-store.js';
import type { Deployment } from '../model/deployment.js';
import { releaseRef } from '../model/names.js';
import type { Release } from '../model/release.js';
import type { DeploymentOperations } from '../operations/deployment-operations.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import type { DeploymentDetail } from '../views.js';
import { desiredVersions } from './device-views.js';

export interface DeploymentViewsDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  releases: ReleaseStore;
  deployments: DeploymentStore;
  status: StatusStore;
  targetedIds: DeploymentOperations['targetedIds'];
}

/** What operators read about releases and deployments: where each applies, is shadowed, runs. */
export class DeploymentViews {
  constructor(private readonly deps: DeploymentViewsDeps) {}

  listReleases(app?: string): Promise<Release[]> {
    return this.deps.releases.list(app);
  }

  getRelease(app: string, version: string): Promise<Release> {
    return this.deps.releases.require(app, version);
  }

  list(): Promise<Deployment[]> {
    return this.deps.deployments.all();
  }

  async get(id: string): Promise<DeploymentDetail> {
    return this.detail(await this.deps.deployments.require(id));
  }

  /** `targeted`: the devices the deployment targets, when the caller has just resolved them (a fleet's worth of reads saved). */
  async detail(deployment: Deployment, targetedNow?: string[]): Promise<DeploymentDetail> {
    const targeted = targetedNow ?? (await this.deps.targetedIds(deployment));
    const devices = await this.deps.devices.many(targeted);
    const all = await this.deps.deployments.all();
    const ofApp = all.filter((d) => d.app === deployment.app);
    const prepared = prepareDeployments(ofApp);
    const refs = ofApp.map((d) => releaseRef(d.app, d.version));
    for (const d of devices) if (d.overrides.pins[deployment.app]) refs.push(releaseRef(deployment.app, d.overrides.pins[deployment.app] as string));
    const releases = await this.deps.releases.byRefs(refs);
    const statuses = await this.deps.status.many(devices.map((d) => d.id));
    const heads = await desiredVersions(this.deps.redis, this.deps.keys, devices.map((d) => d.id));
    const detail: DeploymentDetail = { ...deployment, targeted, applied: [], shadowed: [], pinned: [], running: [] };
    // Devices with equal inputs resolve equally: composed once each (DD-033).
    const compositions = new CompositionCache(prepared, releases);
    devices.forEach((device, i) => {
      const app = compositions.compose(device).apps.find((a) => a.app === deployment.app);
      if (!app || app.deploymentId !== deployment.id) {
        detail.shadowed.push(device.id);
        return;
      }
      detail.applied.push(device.id);
      if (app.source === 'pin') detail.pinned.push(device.id);
      const reported = (statuses[i] as DeviceStatus).reported;
      const desiredVersion = heads.get(device.id);
      if (reported && desiredVersion !== undefined && reported.desired.appliedVersion === desiredVersion && reported.phase === 'converged') {
        detail.running.push(device.id);
      }
    });
    return detail;
  }
}
