import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';

/** Extend only our own lease. KEYS: lease. ARGV: token, ttl ms. */
const RENEW = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`;

/** Release only our own lease. KEYS: lease. ARGV: token. */
const RELEASE = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

export interface HeldLease {
  /** False once a renewal found the lease gone or taken: stop before writing anything. */
  readonly held: boolean;
  release(): Promise<void>;
}

export interface RedisLeaseOptions {
  /** How long the lease outlives a process that died holding it (kill -9). */
  ttlMs?: number;
  /** Poll period while waiting for a lease someone else holds. */
  pollMs?: number;
  logger: Logger;
}

/**
 * A lease across processes: SET NX PX with a random token, renewed while
 * held, released only by its owner. The TTL bounds how long a killed process
 * blocks the others. A lease is a courtesy, not a fence: writes it protects
 * still compare-and-set, so a lease lost to a long pause cannot let two
 * processes both apply a change.
 */
export class RedisLease {
  readonly ttlMs: number;
  private readonly pollMs: number;

  constructor(
    private readonly redis: Redis,
    private readonly opts: RedisLeaseOptions,
  ) {
    this.ttlMs = opts.ttlMs ?? 10_000;
    this.pollMs = opts.pollMs ?? 100;
  }

  async tryAcquire(key: string): Promise<HeldLease | null> {
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
            this.opts.logger.warn({ lease: key }, 'lease lost while held');
          }
        },
        (err: unknown) => this.opts.logger.warn({ lease: key, err: errorMessage(err) }, 'lease renewal failed'),
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
          this.opts.logger.warn({ lease: key, err: errorMessage(err) }, 'lease release failed; it expires by itself');
        });
      },
    };
  }

  /** Waits up to `waitMs` for the lease; null when it stayed taken. */
  async acquire(key: string, waitMs: number): Promise<HeldLease | null> {
    const until = Date.now() + waitMs;
    for (;;) {
      const lease = await this.tryAcquire(key);
      if (lease || Date.now() >= until) return lease;
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }
}
