import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { canonicalJson } from '../../shared/canonical-json.js';
import { ControllerError } from '../errors.js';
import { normalizeApplyPolicy, type DeploymentApplyPolicy } from '../model/apply-policy.js';
import { Deployment, DeploymentInput, type DeploymentTarget } from '../model/deployment.js';
import { getJson, mgetJson } from './json-store.js';
import type { Keys } from './keys.js';
import { KeyedSerial } from './serial.js';
import { deviceScope, optimistic, RegistryTx, selectorScope } from './registry-tx.js';

/** How long a removed deployment is remembered, so a retried DELETE is not a 404. */
export const DEPLOYMENT_TOMBSTONE_MS = 24 * 3600 * 1000;

/** What a device-list deployment owned by someone else (e.g. a rollout) is made of, besides its devices. */
export interface OwnedDeploymentSpec {
  app: string;
  version: string;
  priority: number;
}

/** The scopes whose documents a deployment with this target can change. */
export function targetScopes(target: DeploymentTarget): string[] {
  return target.kind === 'selector' ? [selectorScope(target.selector)] : target.devices.map(deviceScope);
}

/**
 * Deployments. Every write is one atomic step together with its dirty marks
 * (registry-tx.ts, DD-021), so a crash right after it loses nothing: the
 * drain publishes what it changed.
 */
export class DeploymentStore {
  private readonly serial = new KeyedSerial();

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly now: () => number,
  ) {}

  /**
   * Creates the deployment. With a client-supplied id, repeating the same
   * request returns the existing deployment (`created: false`) instead of a
   * conflict, so a retry after a lost answer is safe.
   */
  async create(input: DeploymentInput): Promise<{ deployment: Deployment; created: boolean }> {
    const parsed = DeploymentInput.parse(input);
    const id = parsed.id ?? `dep-${randomBytes(5).toString('hex')}`;
    const apply = normalizeApplyPolicy(parsed.apply);
    const key = this.keys.deployment(id);
    let seq: number | undefined;
    return this.serial.run(id, () =>
      optimistic<{ deployment: Deployment; created: boolean }>(`deployment ${id}`, async () => {
        const raw = await this.redis.get(key);
        if (raw !== null) {
          const existing = Deployment.parse(JSON.parse(raw));
          if (sameSpec(existing, { ...parsed, id, apply })) return { tx: null, result: { deployment: existing, created: false } };
          throw new ControllerError('DEPLOYMENT_EXISTS', `deployment ${id} already exists with other content (${existing.app}@${existing.version})`);
        }
        seq ??= await this.redis.incr(this.keys.deploymentSeq());
        const deployment = Deployment.parse({
          id,
          app: parsed.app,
          version: parsed.version,
          target: parsed.target,
          priority: parsed.priority,
          ...(apply ? { apply } : {}),
          createdAt: new Date(this.now()).toISOString(),
          seq,
        });
        const tx = this.tx()
          .expect(key, null)
          .set(key, JSON.stringify(deployment))
          .sadd(this.keys.deployments(), id)
          .del(this.keys.deploymentTombstone(id));
        for (const s of targetScopes(deployment.target)) tx.dirty(s);
        return { tx, result: { deployment, created: true } };
      }),
    );
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

  /**
   * Removes the deployment and leaves a tombstone for a day. Returns the
   * removed deployment, or with `alreadyRemoved` the tombstone's copy when a
   * retry finds it gone; 404 only for an id that never existed (or long ago).
   */
  async remove(id: string): Promise<{ deployment: Deployment; alreadyRemoved: boolean }> {
    const key = this.keys.deployment(id);
    return this.serial.run(id, () =>
      optimistic<{ deployment: Deployment; alreadyRemoved: boolean }>(`deployment ${id}`, async () => {
        const raw = await this.redis.get(key);
        if (raw === null) {
          const tomb = await getJson(this.redis, this.keys.deploymentTombstone(id), Deployment);
          if (tomb) return { tx: null, result: { deployment: tomb, alreadyRemoved: true } };
          throw new ControllerError('DEPLOYMENT_NOT_FOUND', `deployment ${id} does not exist`);
        }
        const deployment = Deployment.parse(JSON.parse(raw));
        const tx = this.tx()
          .expect(key, raw)
          .del(key)
          .srem(this.keys.deployments(), id)
          .set(this.keys.deploymentTombstone(id), raw, { pxMs: DEPLOYMENT_TOMBSTONE_MS });
        for (const s of targetScopes(deployment.target)) tx.dirty(s);
        return { tx, result: { deployment, alreadyRemoved: false } };
      }),
    );
  }

  /**
   * Adds devices to the device list of deployment `id` (kind `devices`),
   * creating it with `spec` if absent; a set add, so repeating it changes
   * nothing. Refuses to touch a deployment with another app or version (an
   * operator's deployment that happens to have the id).
   */
  addDevices(id: string, spec: OwnedDeploymentSpec, deviceIds: readonly string[]): Promise<{ deployment: Deployment; added: string[] }> {
    const key = this.keys.deployment(id);
    let seq: number | undefined;
    return this.serial.run(id, () =>
      optimistic<{ deployment: Deployment; added: string[] }>(`deployment ${id}`, async () => {
        const raw = await this.redis.get(key);
        const current = raw === null ? null : Deployment.parse(JSON.parse(raw));
        if (current && (current.app !== spec.app || current.version !== spec.version || current.target.kind !== 'devices')) {
          throw new ControllerError(
            'DEPLOYMENT_EXISTS',
            `deployment ${id} exists with ${current.app}@${current.version} (${current.target.kind}); it is not this rollout's deployment of ${spec.app}@${spec.version}`,
          );
        }
        const existing = current?.target.kind === 'devices' ? current.target.devices : [];
        const have = new Set(existing);
        const added = [...new Set(deviceIds)].filter((d) => !have.has(d));
        if (added.length === 0 && current) return { tx: null, result: { deployment: current, added } };
        if (!current) seq ??= await this.redis.incr(this.keys.deploymentSeq());
        const deployment: Deployment = current
          ? Deployment.parse({ ...current, target: { kind: 'devices', devices: [...existing, ...added] } })
          : Deployment.parse({
              id,
              app: spec.app,
              version: spec.version,
              target: { kind: 'devices', devices: added },
              priority: spec.priority,
              createdAt: new Date(this.now()).toISOString(),
              seq,
            });
        const tx = this.tx().expect(key, raw).set(key, JSON.stringify(deployment)).sadd(this.keys.deployments(), id).dirtyDevices(added);
        return { tx, result: { deployment, added } };
      }),
    );
  }

  /**
   * Removes devices from deployment `id`'s device list; removes the
   * deployment when none are left. Absent deployment: nothing to do.
   * Returns the devices that were in the list.
   */
  removeDevices(id: string, deviceIds: readonly string[] | 'all'): Promise<string[]> {
    const key = this.keys.deployment(id);
    return this.serial.run(id, () =>
      optimistic<string[]>(`deployment ${id}`, async () => {
        const raw = await this.redis.get(key);
        const current = raw === null ? null : Deployment.parse(JSON.parse(raw));
        if (!current || current.target.kind !== 'devices') return { tx: null, result: [] };
        const drop = deviceIds === 'all' ? null : new Set(deviceIds);
        const removed = current.target.devices.filter((d) => !drop || drop.has(d));
        if (removed.length === 0) return { tx: null, result: [] };
        const left = current.target.devices.filter((d) => drop && !drop.has(d));
        const tx = this.tx().expect(key, raw).dirtyDevices(removed);
        if (left.length === 0) tx.del(key).srem(this.keys.deployments(), id);
        else tx.set(key, JSON.stringify({ ...current, target: { kind: 'devices', devices: left } }));
        return { tx, result: removed };
      }),
    );
  }

  /**
   * Changes the priority of deployment `id` if it still has `expected` (a
   * retried call changes nothing more). Its devices are marked dirty, so a
   * change of who wins is published. False when absent or not at `expected`.
   */
  setPriority(id: string, expected: number, priority: number): Promise<boolean> {
    const key = this.keys.deployment(id);
    return this.serial.run(id, () =>
      optimistic<boolean>(`deployment ${id}`, async () => {
        const raw = await this.redis.get(key);
        const current = raw === null ? null : Deployment.parse(JSON.parse(raw));
        if (!current || current.priority !== expected || expected === priority) return { tx: null, result: false };
        const tx = this.tx().expect(key, raw).set(key, JSON.stringify(Deployment.parse({ ...current, priority })));
        for (const s of targetScopes(current.target)) tx.dirty(s);
        return { tx, result: true };
      }),
    );
  }

  tx(): RegistryTx {
    return new RegistryTx(this.redis, this.keys);
  }
}

function sameSpec(
  d: Deployment,
  input: { id: string; app: string; version: string; target: DeploymentTarget; priority: number; apply: DeploymentApplyPolicy | undefined },
): boolean {
  return (
    d.app === input.app &&
    d.version === input.version &&
    d.priority === input.priority &&
    JSON.stringify(d.target) === JSON.stringify(input.target) &&
    canonicalJson(d.apply ?? null) === canonicalJson(input.apply ?? null)
  );
}
