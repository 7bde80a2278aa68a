import type { Redis } from 'ioredis';
import { ControllerError } from '../errors.js';
import { Device, emptyOverrides, type DeviceOverrides } from '../model/device.js';
import { getJson, mgetJson, updateJson } from './json-store.js';
import type { Keys } from './keys.js';
import type { SerialQueue } from './serial.js';

/** Devices and their per-device overrides, as JSON records in Redis. */
export class DeviceStore {
  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly serial: SerialQueue,
    private readonly now: () => number,
  ) {}

  async create(id: string, labels: Record<string, string>): Promise<Device> {
    const device: Device = Device.parse({ id, labels, createdAt: new Date(this.now()).toISOString(), overrides: emptyOverrides() });
    const created = await this.redis.set(this.keys.device(id), JSON.stringify(device), 'NX');
    if (created === null) throw new ControllerError('DEVICE_EXISTS', `device ${id} already exists`);
    await this.redis.sadd(this.keys.devices(), id);
    return device;
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

  /** Applies `change` to the device atomically; returns the device before and after. */
  update(id: string, change: (d: Device) => Device): Promise<{ before: Device; after: Device }> {
    return this.serial.run(() =>
      updateJson(this.redis, this.keys.device(id), Device, (current) => {
        if (!current) throw new ControllerError('DEVICE_NOT_FOUND', `device ${id} does not exist`);
        const after = Device.parse(change(current));
        return { value: after, result: { before: current, after } };
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

  async remove(id: string): Promise<boolean> {
    const removed = await this.redis.del(this.keys.device(id));
    await this.redis.srem(this.keys.devices(), id);
    return removed > 0;
  }
}
