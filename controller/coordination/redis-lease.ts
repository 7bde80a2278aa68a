import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import type { Keys } from '../registry/keys.js';

/** Extend only our own lock. KEYS: lock. ARGV: token, ttl ms. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Release only our own lock. KEYS: lock. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface HeldLock {
  /** False once a renewal found the lock gone or taken: stop before writing anything. */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface RolloutLockOptions {
  /** How long the lock outlives a process that died holding it (kill -9). */
  ttlMs?: number;
  logger: Logger;
}

/**
 * One tick or operation of a rollout at a time, across processes: SET NX PX
 * with a random token, renewed while held, released only by its owner. The
 * TTL bounds how long a killed controller blocks the rollout. It is a
 * courtesy, not the guarantee: state writes are still compare-and-set on the
 * revision (rollout-store.ts), so a lock lost to a long pause cannot let two
 * processes both apply a step.
 */
export class RolloutLock {
  private readonly ttlMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly keys: Keys,
    private readonly opts: RolloutLockOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
  }

  async tryAcquire(rolloutId: string): Promise<HeldLock | null> {
    const key = this.keys.rolloutLock(rolloutId);
    const token = randomBytes(12).toString('hex');
    const ok = await this.redis.set(key, token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return null;
    let held = true;
    let released = false;
    const timer = setInterval(() => {
      this.redis.eval(RENEW, 1, key, token, String(this.ttlMs)).then(
        (res) => {
          if (res !== 1 && !released) {
            held = false;
            this.opts.logger.warn({ rolloutId }, 'rollout lock lost while held; the step will not be saved');
          }
        },
        (err: unknown) => this.opts.logger.warn({ rolloutId, err: errorMessage(err) }, 'rollout lock renewal failed'),
      );
    }, Math.max(200, Math.floor(this.ttlMs / 3)));
    timer.unref();
    return {
      get held() {
        return held;
      },
      release: async () => {
        if (released) return;
        released = true;
        clearInterval(timer);
        await this.redis.eval(RELEASE, 1, key, token).catch((err: unknown) => {
          this.opts.logger.warn({ rolloutId, err: errorMessage(err) }, 'rollout lock release failed; it expires by itself');
        });
      },
    };
  }

  /** Waits up to `waitMs` for the lock. */
  async acquire(rolloutId: string, waitMs: number): Promise<HeldLock | null> {
    const until = Date.now() + waitMs;
    for (;;) {
      const lock = await this.tryAcquire(rolloutId);
      if (lock || Date.now() >= until) return lock;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}
