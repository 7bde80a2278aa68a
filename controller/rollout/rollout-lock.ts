import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { RedisLease, type HeldLease } from '../coordination/redis-lease.js';
import type { Keys } from '../registry/keys.js';

export type HeldLock = HeldLease;

export interface RolloutLockOptions {
  /** How long the lock outlives a process that died holding it (kill -9). */
  ttlMs?: number;
  logger: Logger;
}

/**
 * One tick or operation of a rollout at a time, across processes. A
 * courtesy, not the guarantee: state writes are still compare-and-set on the
 * revision (rollout-store.ts), so a lock lost to a long pause cannot let two
 * processes both apply a step.
 */
export class RolloutLock {
  private readonly lease: RedisLease;

  constructor(
    redis: Redis,
    private readonly keys: Keys,
    opts: RolloutLockOptions,
  ) {
    this.lease = new RedisLease(redis, { logger: opts.logger, ...(opts.ttlMs !== undefined ? { ttlMs: opts.ttlMs } : {}) });
  }

  tryAcquire(rolloutId: string): Promise<HeldLock | null> {
    return this.lease.tryAcquire(this.keys.rolloutLock(rolloutId));
  }

  /** Waits up to `waitMs` for the lock. */
  acquire(rolloutId: string, waitMs: number): Promise<HeldLock | null> {
    return this.lease.acquire(this.keys.rolloutLock(rolloutId), waitMs);
  }
}
