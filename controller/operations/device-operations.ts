import { checkSecret, credentialRecord, newSecret, verifyRecord } from '../../shared/device-credentials.js';
import { errorMessage } from '../../shared/errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { Logger } from '../../shared/logger.js';
import type { Redis } from 'ioredis';
import type { DesiredPublisher } from '../desired-state/desired-publisher.js';
import { Labels } from '../desired-state/selector.js';
import { ControllerError } from '../errors.js';
import { Device, DeviceOverrides } from '../model/device.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import type { SessionControl } from '../mqtt/session-control.js';
import { deliveryOf, type Delivery } from './delivery.js';
import { invalid } from './validation.js';

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

export interface DeviceOperationsDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  releases: ReleaseStore;
  publisher: Pick<DesiredPublisher, 'settle'>;
  sessions: SessionControl;
  /**
   * Keep each new secret beside its hash until the broker applied it (DD-030:
   * Mosquitto's dynamic security takes plaintext passwords only).
   */
  keepPendingSecret?: boolean;
  logger: Logger;
  failpoints?: Failpoints;
  /** Device ids that can never be enrolled (e.g. the service username if it were one). */
  reservedIds?: ReadonlySet<string>;
}

export interface DeviceChange {
  device: Device;
  delivery: Delivery;
}

/**
 * Operator changes to one device: enrolment, labels, overrides, pins,
 * secret rotation. Each is one atomic registry step that also marks the
 * device dirty (so a crash right after it loses nothing, DD-021), then a
 * drain whose outcome the answer reports.
 */
export class DeviceOperations {
  private readonly failpoints: Failpoints;

  constructor(private readonly deps: DeviceOperationsDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
  }

  /**
   * Enrols a device with a generated secret, or with the client's own. With
   * the client's secret a retry is idempotent: the same id, labels and
   * secret answer `created: false` instead of a conflict.
   */
  async add(input: { id: string; labels?: Record<string, string>; secret?: string }): Promise<DeviceChange & { secret: string; created: boolean }> {
    const parsed = Device.pick({ id: true, labels: true }).safeParse({ id: input.id, labels: input.labels ?? {} });
    if (!parsed.success) throw invalid(parsed.error.issues);
    const { id, labels } = parsed.data;
    if (this.deps.reservedIds?.has(id)) throw new ControllerError('REQUEST_INVALID', `device id ${id} is reserved`);
    const secret = input.secret ?? newSecret();
    try {
      checkSecret(secret);
    } catch (err) {
      throw new ControllerError('REQUEST_INVALID', `secret: ${(err as Error).message}`);
    }
    let device: Device;
    try {
      device = await this.deps.devices.enrol(id, labels, credentialRecord(secret), this.pending(secret));
    } catch (err) {
      const replay = input.secret !== undefined && err instanceof ControllerError && err.code === 'DEVICE_EXISTS' ? await this.replayOfAdd(id, labels, input.secret) : null;
      if (!replay) throw err;
      return { device: replay, secret, created: false, delivery: deliveryOf(await this.deps.publisher.settle([id])) };
    }
    await this.failpoints.hit('device.add:after-write');
    // The broker learns of the device; if it cannot now, the repair pass retries (DD-030).
    await this.deps.sessions.credentialChanged(id).catch((err: unknown) => this.deps.logger.warn({ deviceId: id, err: errorMessage(err) }, 'broker not told of the enrolment yet'));
    this.deps.logger.info({ deviceId: id }, 'device enrolled');
    return { device, secret, created: true, delivery: deliveryOf(await this.deps.publisher.settle([id])) };
  }

  async updateLabels(id: string, patch: LabelPatch): Promise<DeviceChange> {
    const labels = Labels.safeParse(patch.set ?? {});
    if (!labels.success) throw invalid(labels.error.issues, 'set');
    const { after } = await this.deps.devices.setLabels(id, labels.data, patch.remove ?? []);
    await this.failpoints.hit('device.labels:after-write');
    return { device: after, delivery: deliveryOf(await this.deps.publisher.settle([id])) };
  }

  async setOverrides(id: string, patch: OverridePatch): Promise<DeviceChange> {
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
    await this.failpoints.hit('device.overrides:after-write');
    return { device: after, delivery: deliveryOf(await this.deps.publisher.settle([id])) };
  }

  async setPin(id: string, app: string, version: string | null): Promise<DeviceChange> {
    if (version !== null) await this.deps.releases.require(app, version);
    const { after } = await this.deps.devices.setOverrides(id, (o) => {
      const pins = { ...o.pins };
      if (version === null) delete pins[app];
      else pins[app] = version;
      return { ...o, pins };
    });
    await this.failpoints.hit('device.pin:after-write');
    return { device: after, delivery: deliveryOf(await this.deps.publisher.settle([id])) };
  }

  /**
   * A new secret for the device (generated, or the client's own), then every
   * live session that authenticated with an older one is ended at once
   * (broker side: mqtt/session-control.ts). Repeating it with the same
   * client secret is harmless: a session already on it stays.
   */
  async rotateSecret(id: string, input: { secret?: string } = {}): Promise<{ deviceId: string; secret: string; brokersNotified: number }> {
    const secret = input.secret ?? newSecret();
    try {
      checkSecret(secret);
    } catch (err) {
      throw new ControllerError('REQUEST_INVALID', `secret: ${(err as Error).message}`);
    }
    // A retry with the same client secret keeps the record (and so the sessions that already use it).
    const current = await this.deps.redis.get(this.deps.keys.credential(id));
    if (!verifyRecord(current, secret)) await this.deps.devices.setCredential(id, credentialRecord(secret), this.pending(secret));
    else await this.deps.devices.require(id);
    await this.failpoints.hit('device.rotate:after-write');
    const brokersNotified = await this.deps.sessions.credentialChanged(id);
    this.deps.logger.info({ deviceId: id, brokersNotified }, 'device secret rotated');
    return { deviceId: id, secret, brokersNotified };
  }

  private pending(secret: string): { pendingSecret?: string } {
    return this.deps.keepPendingSecret ? { pendingSecret: secret } : {};
  }

  /** The existing device when a retried enrolment matches it exactly (same labels, same secret). */
  private async replayOfAdd(id: string, labels: Record<string, string>, secret: string): Promise<Device | null> {
    const [device, record] = await Promise.all([this.deps.devices.get(id), this.deps.redis.get(this.deps.keys.credential(id))]);
    if (!device || !verifyRecord(record, secret)) return null;
    return JSON.stringify(sortKeys(device.labels)) === JSON.stringify(sortKeys(labels)) ? device : null;
  }
}

function applyNullable(base: Record<string, string>, patch: Record<string, string | null> | undefined): Record<string, string> {
  const out = { ...base };
  for (const [k, v] of Object.entries(patch ?? {})) {
    if (v === null) delete out[k];
    else out[k] = v;
  }
  return out;
}

function sortKeys(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}
