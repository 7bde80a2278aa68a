import type { Redis } from 'ioredis';
import { ControllerError } from '../errors.js';
import { Device, emptyOverrides, type DeviceOverrides } from '../model/device.js';
import { DecommissionRecord } from '../model/decommission.js';
import { getJson, mgetJson } from './json-store.js';
import type { Keys } from './keys.js';
import { KeyedSerial } from './serial.js';
import { deviceScope, optimistic, RegistryTx } from './registry-tx.js';

export interface CredentialOptions {
  /**
   * Also keep the secret itself until a broker's admin API has it (DD-030:
   * Mosquitto's dynamic security takes plaintext passwords only). Written in
   * the same atomic step as the credential record.
   */
  pendingSecret?: string;
}

/**
 * Devices and their per-device overrides, as JSON records in Redis. Every
 * write is one atomic step with its dirty mark (registry-tx.ts), and refuses
 * a device whose decommission has begun.
 */
export class DeviceStore {
  private readonly serial = new KeyedSerial();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => number,
  ) {}

  /**
   * Enrolment: the device, its index entry and its credential record in one
   * step, so there is never a device nobody can connect as (DD-022). A
   * finished decommission's tombstone is cleared; a running one refuses.
   */
  async enrol(id: string, labels: Record<string, string>, credentialRecord: string, opts: CredentialOptions = {}): Promise<Device> {
    const device: Device = Device.parse({ id, labels, createdAt: new Date(this.now()).toISOString(), overrides: emptyOverrides() });
    return this.serial.run(id, () =>
      optimistic(`device ${id}`, async () => {
        const tomb = await this.tombstoneRaw(id);
        const existing = await this.get(id);
        if (existing) throw new ControllerError('DEVICE_EXISTS', `device ${id} already exists`);
        const tx = this.tx()
          .expect(this.keys.device(id), null)
          .expect(this.keys.deviceTombstone(id), tomb)
          .set(this.keys.device(id), JSON.stringify(device))
          .sadd(this.keys.devices(), id)
          .set(this.keys.credential(id), credentialRecord)
          .del(this.keys.deviceTombstone(id))
          .dirty(deviceScope(id));
        this.pendingSecret(tx, id, opts.pendingSecret);
        return { tx, result: device };
      }),
    );
  }

  /** Replaces the credential record of an existing, not decommissioning device. */
  async setCredential(id: string, credentialRecord: string, opts: CredentialOptions = {}): Promise<void> {
    await this.serial.run(id, () =>
      optimistic(`device ${id}`, async () => {
        const { raw, tomb } = await this.requireActiveRaw(id);
        const tx = this.tx()
          .expect(this.keys.device(id), raw)
          .expect(this.keys.deviceTombstone(id), tomb)
          .set(this.keys.credential(id), credentialRecord);
        this.pendingSecret(tx, id, opts.pendingSecret);
        return { tx, result: undefined };
      }),
    );
  }

  get(id: string): Promise<Device | null> {
    return getJson(this.redis, this.keys.device(id), Device);
  }

  async require(id: string): Promise<Device> {
    const d = await this.get(id);
    if (!d) throw new ControllerError('DEVICE_NOT_FOUND', `device ${id} does not exist`);
    return d;
  }

  async ids(): Promise<string[]> {
    return (await this.redis.smembers(this.keys.devices())).sort();
  }

  async many(ids: readonly string[]): Promise<Device[]> {
    const records = await mgetJson(this.redis, ids.map((id) => this.keys.device(id)), Device);
    return records.filter((d): d is Device => d !== null);
  }

  async all(): Promise<Device[]> {
    return this.many(await this.ids());
  }

  /** Applies `change` to the device atomically with its dirty mark; returns the device before and after. */
  update(id: string, change: (d: Device) => Device): Promise<{ before: Device; after: Device }> {
    return this.serial.run(id, () =>
      optimistic(`device ${id}`, async () => {
        const { raw, tomb } = await this.requireActiveRaw(id);
        const before = Device.parse(JSON.parse(raw));
        const after = Device.parse(change(before));
        const next = JSON.stringify(after);
        if (next === raw) return { tx: null, result: { before, after } };
        const tx = this.tx()
          .expect(this.keys.device(id), raw)
          .expect(this.keys.deviceTombstone(id), tomb)
          .set(this.keys.device(id), next)
          .dirty(deviceScope(id));
        return { tx, result: { before, after } };
      }),
    );
  }

  setLabels(id: string, set: Record<string, string>, remove: readonly string[]): Promise<{ before: Device; after: Device }> {
    return this.update(id, (d) => {
      const labels = { ...d.labels, ...set };
      for (const k of remove) delete labels[k];
      return { ...d, labels };
    });
  }

  setOverrides(id: string, change: (o: DeviceOverrides) => DeviceOverrides): Promise<{ before: Device; after: Device }> {
    return this.update(id, (d) => ({ ...d, overrides: change(d.overrides) }));
  }

  /** The decommission record of a device (pending or recently done), or null. */
  async tombstone(id: string): Promise<DecommissionRecord | null> {
    const raw = await this.tombstoneRaw(id);
    return raw === null ? null : DecommissionRecord.parse(JSON.parse(raw));
  }

  tombstoneRaw(id: string): Promise<string | null> {
    return this.redis.get(this.keys.deviceTombstone(id));
  }

  /** DD-030: the plaintext a broker's admin API still needs, kept with the record until applied. */
  private pendingSecret(tx: RegistryTx, id: string, secret: string | undefined): void {
    if (secret === undefined) return;
    tx.set(this.keys.brokerSecretPending(id), secret).sadd(this.keys.brokerSecretsPending(), id);
  }

  tx(): RegistryTx {
    return new RegistryTx(this.redis, this.keys);
  }

  private async requireActiveRaw(id: string): Promise<{ raw: string; tomb: string | null }> {
    const [raw, tomb] = await this.redis.mget(this.keys.device(id), this.keys.deviceTombstone(id));
    if (raw === null || raw === undefined) throw new ControllerError('DEVICE_NOT_FOUND', `device ${id} does not exist`);
    if (tomb) {
      const record = DecommissionRecord.parse(JSON.parse(tomb));
      if (record.state === 'pending') {
        throw new ControllerError('DEVICE_DECOMMISSIONING', `device ${id} is being decommissioned (since ${record.requestedAt}); it can no longer be changed`);
      }
    }
    return { raw, tomb: tomb ?? null };
  }
}
