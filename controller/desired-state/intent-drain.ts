import type { Redis } from 'ioredis';
import type { BackoffPolicy } from '../../shared/backoff.js';
import { errorMessage } from '../../shared/errors.js';
import { NO_FAILPOINTS, type Failpoints } from '../../shared/failpoints.js';
import type { Logger } from '../../shared/logger.js';
import type { HeldLease, RedisLease } from '../coordination/redis-lease.js';
import { RetryTimer } from '../coordination/retry-timer.js';
import type { Device } from '../model/device.js';
import { releaseRef } from '../model/names.js';
import type { DeploymentStore } from '../registry/deployment-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { Keys } from '../registry/keys.js';
import type { ReleaseStore } from '../registry/release-store.js';
import type { RegistryCredentialStore } from '../registry-auth/registry-credential-store.js';
import { coveredBy, parseScopes } from './dirty-scopes.js';
import { prepareDeployments } from './compose-desired.js';
import { CompositionCache } from './composition-cache.js';
import type { DesiredWriter, WriteContext, WriteOutcome } from './desired-writer.js';

/** Remove the scopes a drain covered, unless they were marked again since. KEYS: dirty. ARGV: member, score, … */
const CLEAR_SCOPES = `
local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('ZREM', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n`;

export interface DrainResult extends WriteOutcome {
  /** Devices composed in this drain. */
  considered: number;
  /** Why the drain did not (fully) run, e.g. another controller held the publish lease too long. */
  deferred: string | null;
}

export interface IntentDrainDeps {
  redis: Redis;
  keys: Keys;
  devices: DeviceStore;
  deployments: DeploymentStore;
  releases: ReleaseStore;
  writer: DesiredWriter;
  /** Private-registry credentials injected into documents (DD-041); absent: none. */
  registryCredentials?: Pick<RegistryCredentialStore, 'snapshot'>;
  lease: RedisLease;
  logger: Logger;
  /** How long a drain waits for another controller's drain to finish. */
  leaseWaitMs?: number;
  /** Devices per chunk (a chunk's store and confirm take one script call per MAX_CHUNK devices, desired-scripts.ts). */
  batchSize?: number;
  /** Chunks in flight at once (DD-033). */
  chunkConcurrency?: number;
  failpoints?: Failpoints;
  /** Back-off of the retry while anything is left pending (MQTT down, lease held, Redis errors). */
  retry?: BackoffPolicy;
}

const DEFAULT_RETRY: BackoffPolicy = { baseMs: 500, capMs: 30_000, factor: 2 };

/**
 * Durable intent, delivered (DD-021). Every registry change marks the scopes
 * it affects dirty in the same atomic step as the change; the drain turns
 * dirty scopes and unacknowledged documents into published ones:
 *
 *   under the publish lease: snapshot the dirty scopes with their scores,
 *   read the registry generation, resolve scopes to devices, compose, store
 *   (refusing stale generations), publish, confirm; then clear each scope
 *   whose score did not change meanwhile.
 *
 * A crash anywhere leaves the scopes dirty or the documents unpublished, so
 * the next drain (at start, after every mutation, on every broker reconnect
 * and anti-entropy pass, and on a back-off timer while anything is pending)
 * finishes the job; repeating it is harmless, as equal content keeps its
 * version. Calls in one process coalesce: a request made while a drain runs
 * is served by one drain that starts after it.
 */
export class IntentDrain {
  private running: Promise<DrainResult> | null = null;
  private queued: Promise<DrainResult> | null = null;
  private readonly failpoints: Failpoints;
  /** While anything is left pending, drain again after a back-off; any success resets it. */
  private readonly retry: RetryTimer;

  constructor(private readonly deps: IntentDrainDeps) {
    this.failpoints = deps.failpoints ?? NO_FAILPOINTS;
    this.retry = new RetryTimer(() => this.request(), deps.retry ?? DEFAULT_RETRY, deps.logger, 'drain');
  }

  /** A drain that starts after this call; resolves with its result. */
  request(): Promise<DrainResult> {
    if (!this.running) {
      const run = this.runOnce().finally(() => {
        if (this.running === run) this.running = null;
      });
      run.then(
        (r) => this.retry.settled(r.pending.length > 0 || r.deferred !== null),
        (err: unknown) => {
          this.deps.logger.warn({ err: errorMessage(err) }, 'drain failed; will retry');
          this.retry.settled(true);
        },
      );
      this.running = run;
      return run;
    }
    this.queued ??= this.running
      .catch(() => undefined)
      .then(() => {
        this.queued = null;
        return this.request();
      });
    return this.queued;
  }

  /** Stops the retry timer; a running drain finishes. */
  close(): void {
    this.retry.close();
  }

  /** Devices with stored documents the broker has not acknowledged, and scopes not yet composed. */
  async backlog(): Promise<{ unpublished: string[]; dirtyScopes: number }> {
    const [unpublished, dirtyScopes] = await Promise.all([this.deps.redis.smembers(this.deps.keys.unpublished()), this.deps.redis.zcard(this.deps.keys.dirty())]);
    return { unpublished: unpublished.sort(), dirtyScopes };
  }

  private async runOnce(): Promise<DrainResult> {
    const { deps } = this;
    const lease = await deps.lease.acquire(deps.keys.publishLease(), deps.leaseWaitMs ?? 15_000);
    if (!lease) return emptyResult('another controller held the publish lease; its drain or the next one publishes this change');
    try {
      return await this.drainUnder(lease);
    } finally {
      await lease.release();
    }
  }

  private async drainUnder(lease: HeldLease): Promise<DrainResult> {
    const { deps } = this;
    const [rawScopes, unpublished] = await Promise.all([
      deps.redis.zrange(deps.keys.dirty(), 0, -1, 'WITHSCORES'),
      deps.redis.smembers(deps.keys.unpublished()),
    ]);
    const scopes: [member: string, score: string][] = [];
    for (let i = 0; i + 1 < rawScopes.length; i += 2) scopes.push([rawScopes[i] as string, rawScopes[i + 1] as string]);
    const result = emptyResult(null);
    if (scopes.length === 0 && unpublished.length === 0) return result;

    // Read before anything the composition is made of (DD-021).
    const generation = Number((await deps.redis.get(deps.keys.generation())) ?? 0);
    const devices = await this.withoutTombstoned(await this.resolve(scopes.map(([m]) => m), unpublished));
    const deployments = await deps.deployments.all();
    const refs = new Set(deployments.map((d) => releaseRef(d.app, d.version)));
    for (const d of devices) for (const [app, version] of Object.entries(d.overrides.pins)) refs.add(releaseRef(app, version));
    const releases = await deps.releases.byRefs(refs);
    const prepared = prepareDeployments(deployments);
    const registryAuth = await deps.registryCredentials?.snapshot();
    const ctx: WriteContext = {
      generation,
      deployments: prepared,
      releases,
      compositions: new CompositionCache(prepared, releases),
      stillHeld: () => lease.held,
      ...(registryAuth ? { registryAuth } : {}),
    };
    await this.writeChunks(devices, ctx, result);
    result.considered = devices.length;
    await this.forgetGone(unpublished, devices);
    if (scopes.length > 0) await this.failpoints.hit('drain:before-clear');
    if (scopes.length > 0) await deps.redis.eval(CLEAR_SCOPES, 1, deps.keys.dirty(), ...scopes.flat());
    if (result.published.length > 0 || result.pending.length > 0) {
      deps.logger.info(
        { considered: result.considered, published: result.published.length, unchanged: result.unchanged, pending: result.pending.length, superseded: result.superseded },
        'desired states published',
      );
    }
    return result;
  }

  /**
   * Chunks written by a small window of concurrent writers (DD-033): while
   * one chunk waits for its PUBACKs or a Redis reply, the next is composed,
   * stored and signed. Each device is in one chunk, so its documents stay in
   * order. Every writer finishes before this returns (the lease is released
   * after): the first error is rethrown once all have stopped.
   */
  private async writeChunks(devices: readonly Device[], ctx: WriteContext, result: DrainResult): Promise<void> {
    const batchSize = Math.max(1, this.deps.batchSize ?? 500);
    const chunks: Device[][] = [];
    for (let i = 0; i < devices.length; i += batchSize) chunks.push(devices.slice(i, i + batchSize));
    let next = 0;
    let failed = false;
    const writer = async (): Promise<void> => {
      while (!failed && next < chunks.length) {
        const chunk = chunks[next++] as Device[];
        try {
          await this.deps.writer.write(chunk, ctx, result);
        } catch (err) {
          failed = true;
          throw err;
        }
      }
    };
    const window = Math.max(1, this.deps.chunkConcurrency ?? 2);
    const settled = await Promise.allSettled(Array.from({ length: Math.min(window, chunks.length) }, writer));
    const rejected = settled.find((s): s is PromiseRejectedResult => s.status === 'rejected');
    if (rejected) throw rejected.reason;
  }

  /** The devices of the scopes plus the unpublished ones; all devices when a scope needs selectors. */
  private async resolve(members: readonly string[], unpublished: readonly string[]): Promise<Device[]> {
    const scopes = parseScopes(members, unpublished, (selector, err) =>
      // Stored selectors were validated on the way in; a bad one is logged, never fatal.
      this.deps.logger.warn({ selector, err: errorMessage(err) }, 'dirty scope with an invalid selector ignored'),
    );
    if (!scopes.needsLabels) return this.deps.devices.many([...scopes.devices].sort());
    return (await this.deps.devices.all()).filter((d) => coveredBy(scopes, d));
  }

  /**
   * A device whose decommission has begun gets nothing more (DD-022): the
   * decommission clears its retained document under this same lease, so
   * nothing published before it survives, and nothing after it is sent.
   */
  private async withoutTombstoned(devices: readonly Device[]): Promise<Device[]> {
    if (devices.length === 0) return [];
    const out: Device[] = [];
    for (let i = 0; i < devices.length; i += 1000) {
      const chunk = devices.slice(i, i + 1000);
      const tombs = await this.deps.redis.mget(...chunk.map((d) => this.deps.keys.deviceTombstone(d.id)));
      chunk.forEach((d, j) => {
        if (tombs[j] === null || tombs[j] === undefined) out.push(d);
      });
    }
    return out;
  }

  /** Unpublished entries of devices that are gone or being decommissioned are dropped. */
  private async forgetGone(unpublished: readonly string[], devices: readonly Device[]): Promise<void> {
    const present = new Set(devices.map((d) => d.id));
    const gone = unpublished.filter((id) => !present.has(id));
    if (gone.length > 0) await this.deps.redis.srem(this.deps.keys.unpublished(), ...gone);
  }
}

function emptyResult(deferred: string | null): DrainResult {
  return { considered: 0, published: [], unchanged: 0, pending: [], superseded: 0, problems: {}, deferred };
}
