import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ControllerError } from '../errors.js';
import { Deployment, DeploymentInput } from '../model/deployment.js';
import { getJson, mgetJson } from './json-store.js';
import type { Keys } from './keys.js';
import { SerialQueue } from './serial.js';

/** What a device-list deployment owned by someone else (e.g. a rollout) is made of, besides its devices. */
export interface OwnedDeploymentSpec {
  app: string;
  version: string;
  priority: number;
}

export class DeploymentStore {
  /** WATCH/MULTI is per connection: this store's own transactions never interleave. */
  private readonly serial = new SerialQueue();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => number,
  ) {}

  async create(input: DeploymentInput): Promise<Deployment> {
    const parsed = DeploymentInput.parse(input);
    const id = parsed.id ?? `dep-${randomBytes(5).toString('hex')}`;
    const seq = await this.redis.incr(this.keys.deploymentSeq());
    const deployment: Deployment = Deployment.parse({
      id,
      app: parsed.app,
      version: parsed.version,
      target: parsed.target,
      priority: parsed.priority,
      createdAt: new Date(this.now()).toISOString(),
      seq,
    });
    const created = await this.redis.set(this.keys.deployment(id), JSON.stringify(deployment), 'NX');
    if (created === null) throw new ControllerError('DEPLOYMENT_EXISTS', `deployment ${id} already exists`);
    await this.redis.sadd(this.keys.deployments(), id);
    return deployment;
  }

  get(id: string): Promise<Deployment | null> {
    return getJson(this.redis, this.keys.deployment(id), Deployment);
  }

  async require(id: string): Promise<Deployment> {
    const d = await this.get(id);
    if (!d) throw new ControllerError('DEPLOYMENT_NOT_FOUND', `deployment ${id} does not exist`);
    return d;
  }

  /** Newest first. */
  async all(): Promise<Deployment[]> {
    const ids = await this.redis.smembers(this.keys.deployments());
    const values = await mgetJson(this.redis, ids.map((id) => this.keys.deployment(id)), Deployment);
    return values.filter((d): d is Deployment => d !== null).sort((a, b) => b.seq - a.seq);
  }

  async remove(id: string): Promise<Deployment> {
    const d = await this.require(id);
    await this.redis.del(this.keys.deployment(id));
    await this.redis.srem(this.keys.deployments(), id);
    return d;
  }

  /**
   * Adds devices to the device list of deployment `id` (kind `devices`),
   * creating it with `spec` if absent; a set add, so repeating it changes
   * nothing. Atomic under WATCH/MULTI: two processes adding at once both land.
   * Refuses to touch a deployment with another app or version (an operator's
   * deployment that happens to have the id). Give the store a connection no
   * other code runs transactions on (EXEC ends every WATCH of the connection).
   */
  addDevices(id: string, spec: OwnedDeploymentSpec, deviceIds: readonly string[]): Promise<{ deployment: Deployment; added: string[] }> {
    return this.serial.run(() =>
      this.transact(id, async (current) => {
        if (current && (current.app !== spec.app || current.version !== spec.version || current.target.kind !== 'devices')) {
          throw new ControllerError(
            'DEPLOYMENT_EXISTS',
            `deployment ${id} exists with ${current.app}@${current.version} (${current.target.kind}); it is not this rollout's deployment of ${spec.app}@${spec.version}`,
          );
        }
        const existing = current?.target.kind === 'devices' ? current.target.devices : [];
        const have = new Set(existing);
        const added = [...new Set(deviceIds)].filter((d) => !have.has(d));
        if (added.length === 0 && current) return { value: null, result: { deployment: current, added } };
        const deployment: Deployment = current
          ? Deployment.parse({ ...current, target: { kind: 'devices', devices: [...existing, ...added] } })
          : Deployment.parse({
              id,
              app: spec.app,
              version: spec.version,
              target: { kind: 'devices', devices: added },
              priority: spec.priority,
              createdAt: new Date(this.now()).toISOString(),
              seq: await this.redis.incr(this.keys.deploymentSeq()),
            });
        return { value: deployment, result: { deployment, added } };
      }),
    );
  }

  /**
   * Removes devices from deployment `id`'s device list; removes the
   * deployment when none are left. Absent deployment: nothing to do.
   * Returns the devices that were in the list.
   */
  removeDevices(id: string, deviceIds: readonly string[] | 'all'): Promise<string[]> {
    return this.serial.run(() =>
      this.transact(id, async (current) => {
        if (!current || current.target.kind !== 'devices') return { value: null, result: [] };
        const drop = deviceIds === 'all' ? null : new Set(deviceIds);
        const removed = current.target.devices.filter((d) => !drop || drop.has(d));
        if (removed.length === 0) return { value: null, result: [] };
        const left = current.target.devices.filter((d) => drop && !drop.has(d));
        if (left.length === 0) return { value: 'delete', result: removed };
        return { value: { ...current, target: { kind: 'devices', devices: left } }, result: removed };
      }),
    );
  }

  /** Optimistic read-modify-write of one deployment and the index, retried on conflict. */
  private async transact<R>(
    id: string,
    change: (current: Deployment | null) => Promise<{ value: Deployment | 'delete' | null; result: R }>,
    attempts = 20,
  ): Promise<R> {
    const key = this.keys.deployment(id);
    for (let i = 0; i < attempts; i++) {
      await this.redis.watch(key);
      try {
        const raw = await this.redis.get(key);
        const next = await change(raw === null ? null : Deployment.parse(JSON.parse(raw)));
        if (next.value === null) {
          await this.redis.unwatch();
          return next.result;
        }
        const multi = this.redis.multi();
        if (next.value === 'delete') multi.del(key).srem(this.keys.deployments(), id);
        else multi.set(key, JSON.stringify(next.value)).sadd(this.keys.deployments(), id);
        if (await multi.exec()) return next.result;
      } catch (err) {
        await this.redis.unwatch();
        throw err;
      }
    }
    throw new Error(`too much contention updating deployment ${id}`);
  }
}
