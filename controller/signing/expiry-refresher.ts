import type { Redis } from 'ioredis';
import { PeriodicPass } from '../../shared/periodic-pass.js';
import type { Logger } from '../../shared/logger.js';
import type { IntentDrain } from '../desired-state/intent-drain.js';
import type { Keys } from '../registry/keys.js';

export interface ExpiryRefresherDeps {
  redis: Redis;
  keys: Keys;
  drain: Pick<IntentDrain, 'request'>;
  logger: Logger;
  now: () => number;
  /** How long a signed document is valid. */
  validityMs: number;
  /** How often to look for documents that expire soon. */
  checkEveryMs: number;
}

/** Devices re-signed per round; the rest follow at the next check. */
const BATCH = 5000;

/**
 * Freeze defence, controller side (DD-026): a published document is
 * re-signed (same version, same content, later `expiresAt`) once less than
 * half of its validity is left, so a device that hears its controller never
 * runs an expired document, and one that does not know something is wrong.
 * It only marks the devices unpublished; the drain re-signs and publishes.
 */
export class ExpiryRefresher {
  private readonly passes: PeriodicPass<number>;

  constructor(private readonly deps: ExpiryRefresherDeps) {
    this.passes = new PeriodicPass(() => this.refreshDue(), {
      intervalMs: deps.checkEveryMs,
      logger: deps.logger,
      failure: 'refreshing signed documents failed; retried at the next check',
    });
  }

  /** A check now, then every checkEveryMs. */
  start(): void {
    this.passes.start();
  }

  /** Marks every device whose document expires within half a validity; returns how many. */
  async refreshDue(): Promise<number> {
    const { deps } = this;
    const horizon = deps.now() + deps.validityMs / 2;
    const due = await deps.redis.zrangebyscore(deps.keys.expiries(), '-inf', String(horizon), 'LIMIT', 0, BATCH);
    if (due.length === 0) return 0;
    await markUnpublished(deps.redis, deps.keys, due);
    deps.logger.info({ devices: due.length }, 'signed desired documents due for a refresh');
    await deps.drain.request();
    return due.length;
  }

  /** Stops the checks and waits for a running one. */
  close(): Promise<void> {
    return this.passes.close();
  }
}

/** The stored documents of these devices go out again, re-signed (refresh, key rotation). */
export async function markUnpublished(redis: Redis, keys: Keys, deviceIds: readonly string[]): Promise<void> {
  for (let i = 0; i < deviceIds.length; i += 1000) {
    const pipeline = redis.pipeline();
    for (const id of deviceIds.slice(i, i + 1000)) pipeline.hdel(keys.desired(id), 'published').sadd(keys.unpublished(), id);
    await pipeline.exec();
  }
}
