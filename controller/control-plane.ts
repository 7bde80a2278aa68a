import type { Logger } from '../shared/logger.js';
import type { Topics } from '../shared/topics.js';
import { errorMessage } from '../shared/errors.js';
import type { DeviceCredentials } from '../broker/auth/device-credentials.js';
import { composeDesired, prepareDeployments, targets } from './desired-state/compose-desired.js';
import type { DesiredPublisher, RecomputeResult } from './desired-state/desired-publisher.js';
import { readDesiredRecord } from './desired-state/desired-record.js';
import { Labels, parseSelector, SelectorError, matches } from './desired-state/selector.js';
import type { CommandService } from './commands/command-service.js';
import type { CommandView, SendCommandInput } from './commands/command-record.js';
import type { RolloutService } from './rollout/rollout-service.js';
import { ControllerError } from './errors.js';
import type { StatusStore, DeviceStatus } from './ingest/status-store.js';
import type { ServicePublisher } from './mqtt/service-publisher.js';
import { Deployment, DeploymentInput } from './model/deployment.js';
import { Device, DeviceOverrides } from './model/device.js';
import { releaseRef } from './model/names.js';
import { ReleaseInput as ReleaseInputSchema, type Release, type ReleaseInput } from './model/release.js';
import type { z } from 'zod';
import type { DeploymentStore } from './registry/deployment-store.js';
import type { DeviceStore } from './registry/device-store.js';
import type { Keys } from './registry/keys.js';
import type { ReleaseStore } from './registry/release-store.js';
import type { Redis } from 'ioredis';
import type { DeploymentDetail, DeviceDetail, DeviceSummary, FleetSummary } from './views.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { DeviceEvent } from '../shared/schemas/event.js';
import type { Telemetry } from '../shared/schemas/telemetry.js';

export interface ControlPlaneDeps {
  redis: Redis;
  keys: Keys;
  topics: Topics;
  devices: DeviceStore;
  releases: ReleaseStore;
  deployments: DeploymentStore;
  status: StatusStore;
  publisher: DesiredPublisher;
  credentials: DeviceCredentials;
  mqtt: ServicePublisher;
  /** Purges the device's broker session and queued messages (see mqtt/purge-session.ts). */
  purgeSession: (deviceId: string) => Promise<void>;
  commands: CommandService;
  /** Rollouts (controller/rollout); absent in a control plane built without them. */
  rollouts?: RolloutService;
  logger: Logger;
  /** Device ids that can never be enrolled (e.g. the service username if it were one). */
  reservedIds?: ReadonlySet<string>;
}

export interface LabelPatch {
  set?: Record<string, string>;
  remove?: string[];
}

export interface OverridePatch {
  /** Device-wide env; a key set to null is removed. */
  env?: Record<string, string | null>;
  /** Per workload (the device's workload name, `<app>-<workload>`); null removes a key. */
  workloadEnv?: Record<string, Record<string, string | null>>;
}

/**
 * The operations operators perform (API and CLI both go through here). Each
 * mutation recomputes exactly the devices it can affect and publishes what
 * changed.
 */
export class ControlPlane {
  constructor(private readonly deps: ControlPlaneDeps) {}

  /** Waves, thresholds, windows and operations on rollouts (see controller/rollout/rollout-service.ts). */
  get rollouts(): RolloutService {
    if (!this.deps.rollouts) throw new ControllerError('INTERNAL', 'this control plane was built without rollouts');
    return this.deps.rollouts;
  }

  // ---- devices ------------------------------------------------------------

  async addDevice(input: { id: string; labels?: Record<string, string> }): Promise<{ device: Device; secret: string }> {
    const parsed = Device.pick({ id: true, labels: true }).safeParse({ id: input.id, labels: input.labels ?? {} });
    if (!parsed.success) throw invalid(parsed.error.issues);
    if (this.deps.reservedIds?.has(parsed.data.id)) throw new ControllerError('REQUEST_INVALID', `device id ${parsed.data.id} is reserved`);
    const device = await this.deps.devices.create(parsed.data.id, parsed.data.labels);
    const secret = await this.deps.credentials.issue(device.id);
    await this.deps.publisher.recompute([device.id]);
    this.deps.logger.info({ deviceId: device.id }, 'device enrolled');
    return { device, secret };
  }

  async listDevices(opts: { selector?: string } = {}): Promise<DeviceSummary[]> {
    const selector = opts.selector !== undefined ? this.selector(opts.selector) : null;
    const devices = (await this.deps.devices.all()).filter((d) => !selector || matches(selector, d.labels));
    const statuses = await this.deps.status.many(devices.map((d) => d.id));
    const heads = await this.desiredVersions(devices.map((d) => d.id));
    return devices.map((d, i) => summary(d, statuses[i] as DeviceStatus, heads.get(d.id) ?? null));
  }

  async getDevice(id: string): Promise<DeviceDetail> {
    const device = await this.deps.devices.require(id);
    const [status, record, deployments] = await Promise.all([
      this.deps.status.get(id),
      readDesiredRecord(this.deps.redis, this.deps.keys, id),
      this.deps.deployments.all(),
    ]);
    const refs = deployments.map((d) => releaseRef(d.app, d.version));
    for (const [app, version] of Object.entries(device.overrides.pins)) refs.push(releaseRef(app, version));
    const composed = composeDesired(device, prepareDeployments(deployments), await this.deps.releases.byRefs(refs));
    return {
      ...summary(device, status, record?.version ?? null),
      overrides: device.overrides,
      apps: composed.apps,
      problems: composed.problems,
      desired: record?.doc ?? null,
      reported: status.reported,
      presence: status.presence,
    };
  }

  async updateLabels(id: string, patch: LabelPatch): Promise<Device> {
    const labels = Labels.safeParse(patch.set ?? {});
    if (!labels.success) throw invalid(labels.error.issues, 'set');
    const { after } = await this.deps.devices.setLabels(id, labels.data, patch.remove ?? []);
    await this.deps.publisher.recompute([id]);
    return after;
  }

  async setOverrides(id: string, patch: OverridePatch): Promise<Device> {
    const check = DeviceOverrides.safeParse({
      env: Object.fromEntries(Object.entries(patch.env ?? {}).map(([k, v]) => [k, v ?? ''])),
      workloadEnv: Object.fromEntries(
        Object.entries(patch.workloadEnv ?? {}).map(([w, e]) => [w, Object.fromEntries(Object.entries(e).map(([k, v]) => [k, v ?? '']))]),
      ),
    });
    if (!check.success) throw invalid(check.error.issues);
    const { after } = await this.deps.devices.setOverrides(id, (o) => {
      const env = applyNullable(o.env, patch.env);
      const workloadEnv = { ...o.workloadEnv };
      for (const [w, p] of Object.entries(patch.workloadEnv ?? {})) {
        const merged = applyNullable(workloadEnv[w] ?? {}, p);
        if (Object.keys(merged).length) workloadEnv[w] = merged;
        else delete workloadEnv[w];
      }
      return DeviceOverrides.parse({ ...o, env, workloadEnv });
    });
    await this.deps.publisher.recompute([id]);
    return after;
  }

  async setPin(id: string, app: string, version: string | null): Promise<Device> {
    if (version !== null) await this.deps.releases.require(app, version);
    const { after } = await this.deps.devices.setOverrides(id, (o) => {
      const pins = { ...o.pins };
      if (version === null) delete pins[app];
      else pins[app] = version;
      return { ...o, pins };
    });
    await this.deps.publisher.recompute([id]);
    return after;
  }

  /**
   * Decommission: revoke the credential, purge the broker session and its
   * queue, clear the device's retained topics, forget its records. The
   * version counter stays, so a re-enrolled device keeps counting upwards.
   */
  async removeDevice(id: string): Promise<void> {
    await this.deps.devices.require(id);
    try {
      await this.deps.purgeSession(id);
    } catch (err) {
      this.deps.logger.warn({ deviceId: id, err: errorMessage(err) }, 'could not purge the broker session');
    }
    await this.deps.credentials.revoke(id);
    for (const topic of [this.deps.topics.desired(id), this.deps.topics.reported(id), this.deps.topics.presence(id)]) {
      await this.deps.mqtt.publish(topic, Buffer.alloc(0), { retain: true, qos: 1 }).catch((err: unknown) => {
        this.deps.logger.warn({ deviceId: id, topic, err: errorMessage(err) }, 'could not clear retained topic');
      });
    }
    await this.deps.devices.remove(id);
    await this.deps.status.remove(id);
    await this.deps.redis.del(this.deps.keys.desired(id));
    this.deps.logger.info({ deviceId: id }, 'device decommissioned');
  }

  /** What the device last reported, without composing anything. */
  async statusOf(id: string): Promise<DeviceStatus> {
    await this.deps.devices.require(id);
    return this.deps.status.get(id);
  }

  async desiredOf(id: string): Promise<DesiredState | null> {
    await this.deps.devices.require(id);
    return (await readDesiredRecord(this.deps.redis, this.deps.keys, id))?.doc ?? null;
  }

  async eventsOf(id: string, limit = 50): Promise<DeviceEvent[]> {
    await this.deps.devices.require(id);
    return this.deps.status.events(id, limit);
  }

  // ---- commands and telemetry ---------------------------------------------

  /** Sends a command; `answered` is false when it is still queued (device offline or slow). */
  async sendCommand(id: string, input: SendCommandInput): Promise<{ view: CommandView; answered: boolean }> {
    await this.deps.devices.require(id);
    const workload = input.workload;
    if (workload !== undefined) {
      // Catch a mistyped workload here rather than as a failed result from the device.
      const doc = (await readDesiredRecord(this.deps.redis, this.deps.keys, id))?.doc;
      if (doc && !(workload in doc.workloads)) {
        const names = Object.keys(doc.workloads).sort().join(', ') || 'none';
        throw new ControllerError('REQUEST_INVALID', `workload: ${id} has no workload ${workload} (its workloads: ${names}; names are <app>-<workload>)`);
      }
    }
    return this.deps.commands.send(id, input);
  }

  async commandOf(id: string, commandId: string): Promise<CommandView> {
    await this.deps.devices.require(id);
    const view = await this.deps.commands.get(id, commandId);
    if (!view) throw new ControllerError('COMMAND_NOT_FOUND', `device ${id} has no command ${commandId} (records are kept for a day after they expire)`);
    return view;
  }

  async telemetryOf(id: string): Promise<Telemetry | null> {
    await this.deps.devices.require(id);
    return this.deps.status.telemetry(id);
  }

  // ---- releases -----------------------------------------------------------

  async createRelease(input: ReleaseInput): Promise<{ release: Release; created: boolean }> {
    const parsed = ReleaseInputSchema.safeParse(input);
    if (!parsed.success) throw invalid(parsed.error.issues);
    return this.deps.releases.create(parsed.data);
  }

  listReleases(app?: string): Promise<Release[]> {
    return this.deps.releases.list(app);
  }

  getRelease(app: string, version: string): Promise<Release> {
    return this.deps.releases.require(app, version);
  }

  // ---- deployments --------------------------------------------------------

  async createDeployment(input: DeploymentInput): Promise<{ deployment: DeploymentDetail; result: RecomputeResult }> {
    const parsed = DeploymentInput.safeParse(input);
    if (!parsed.success) throw invalid(parsed.error.issues);
    if (parsed.data.target.kind === 'selector') this.selector(parsed.data.target.selector);
    await this.deps.releases.require(parsed.data.app, parsed.data.version);
    const deployment = await this.deps.deployments.create(parsed.data);
    const affected = await this.targetedIds(deployment);
    const result = await this.deps.publisher.recompute(affected);
    return { deployment: await this.getDeployment(deployment.id), result };
  }

  async listDeployments(): Promise<Deployment[]> {
    return this.deps.deployments.all();
  }

  async getDeployment(id: string): Promise<DeploymentDetail> {
    const deployment = await this.deps.deployments.require(id);
    const targeted = await this.targetedIds(deployment);
    const devices = await this.deps.devices.many(targeted);
    const all = await this.deps.deployments.all();
    const prepared = prepareDeployments(all.filter((d) => d.app === deployment.app));
    const refs = all.filter((d) => d.app === deployment.app).map((d) => releaseRef(d.app, d.version));
    for (const d of devices) if (d.overrides.pins[deployment.app]) refs.push(releaseRef(deployment.app, d.overrides.pins[deployment.app] as string));
    const releases = await this.deps.releases.byRefs(refs);
    const statuses = await this.deps.status.many(devices.map((d) => d.id));
    const heads = await this.desiredVersions(devices.map((d) => d.id));
    const detail: DeploymentDetail = { ...deployment, targeted, applied: [], shadowed: [], pinned: [], running: [] };
    devices.forEach((device, i) => {
      const app = composeDesired(device, prepared, releases).apps.find((a) => a.app === deployment.app);
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

  async removeDeployment(id: string): Promise<RecomputeResult> {
    const deployment = await this.deps.deployments.require(id);
    const affected = await this.targetedIds(deployment);
    await this.deps.deployments.remove(id);
    return this.deps.publisher.recompute(affected);
  }

  // ---- fleet --------------------------------------------------------------

  async fleetSummary(): Promise<FleetSummary> {
    const devices = await this.deps.devices.all();
    const ids = devices.map((d) => d.id);
    const statuses = await this.deps.status.many(ids);
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hmget(this.deps.keys.desired(id), 'version', 'doc');
    const rows = (await pipeline.exec()) ?? [];
    const byPhase: Record<string, number> = {};
    const byRelease: Record<string, { desired: number; running: number }> = {};
    let online = 0;
    let inSync = 0;
    devices.forEach((d, i) => {
      const status = statuses[i] as DeviceStatus;
      const [versionText, docText] = ((rows[i]?.[1] ?? [null, null]) as (string | null)[]);
      const s = summary(d, status, versionText ? Number(versionText) : null);
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
      deployments: (await this.deps.redis.scard(this.deps.keys.deployments())),
      releases: (await this.deps.redis.zcard(this.deps.keys.releases())),
    };
  }

  // ---- helpers ------------------------------------------------------------

  private selector(text: string) {
    try {
      return parseSelector(text);
    } catch (err) {
      if (err instanceof SelectorError) throw new ControllerError('SELECTOR_INVALID', err.message);
      throw err;
    }
  }

  private async targetedIds(deployment: Deployment): Promise<string[]> {
    const prepared = prepareDeployments([deployment])[0];
    if (!prepared) return [];
    if (deployment.target.kind === 'devices') {
      const existing = new Set(await this.deps.devices.ids());
      return deployment.target.devices.filter((id) => existing.has(id));
    }
    return (await this.deps.devices.all()).filter((d) => targets(prepared, d)).map((d) => d.id);
  }

  private async desiredVersions(ids: readonly string[]): Promise<Map<string, number>> {
    const pipeline = this.deps.redis.pipeline();
    for (const id of ids) pipeline.hget(this.deps.keys.desired(id), 'version');
    const rows = (await pipeline.exec()) ?? [];
    const out = new Map<string, number>();
    rows.forEach(([err, v], i) => {
      const id = ids[i];
      if (!err && v && id) out.set(id, Number(v));
    });
    return out;
  }
}

function summary(d: Device, s: DeviceStatus, desiredVersion: number | null): DeviceSummary {
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
  };
}

function applyNullable(base: Record<string, string>, patch: Record<string, string | null> | undefined): Record<string, string> {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function invalid(issues: readonly z.core.$ZodIssue[], prefix?: string): ControllerError {
  const text = issues.map((i) => `${[prefix, ...i.path].filter((p) => p !== undefined && p !== '').join('.') || 'body'}: ${i.message}`).join('; ');
  return new ControllerError('REQUEST_INVALID', text);
}
