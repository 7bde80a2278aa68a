import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import { ControllerError } from '../errors.js';
import { Deployment, DeploymentInput } from '../model/deployment.js';
import { getJson, mgetJson } from './json-store.js';
import type { Keys } from './keys.js';

export class DeploymentStore {
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
}
