import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffPolicy } from '../shared/backoff.js';
import { errorMessage } from '../shared/errors.js';
import { redactUrl } from '../shared/redact-url.js';

/** Between two pings while Redis is not there yet: jittered, at most 2 s (one retry-delay function, shared/backoff.ts). */
const POLICY: BackoffPolicy = { baseMs: 250, capMs: 2_000, factor: 2 };

export interface RedisWaitDeps {
  readonly ping: () => Promise<unknown>;
  readonly logger: Logger;
  readonly redisUrl: string;
  readonly now?: () => number;
  readonly sleep?: (ms: number) => Promise<void>;
  readonly random?: () => number;
}

/**
 * Start-up waits for Redis (`--redis-wait`, default 60 s) instead of failing
 * on the first refused connection: Redis started beside the controller (a
 * compose file, a host's boot) may still be loading its append-only file.
 * Once the time is up the start fails with what to check. 0 = one try.
 */
export async function waitForRedis(waitMs: number, deps: RedisWaitDeps): Promise<void> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const deadline = now() + waitMs;
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.ping();
      if (attempt > 0) deps.logger.info({ redis: redactUrl(deps.redisUrl), attempts: attempt + 1 }, 'Redis reachable');
      return;
    } catch (err) {
      const left = deadline - now();
      if (left <= 0) {
        throw new Error(
          `Redis at ${redactUrl(deps.redisUrl)} not reachable${waitMs > 0 ? ` after ${Math.round(waitMs / 1000)} s` : ''} (${errorMessage(err)}): start it, or check --redis / REDIS_URL; --redis-wait sets how long start waits for it`,
          { cause: err },
        );
      }
      if (attempt === 0) deps.logger.warn({ redis: redactUrl(deps.redisUrl), err: errorMessage(err), waitSeconds: Math.round(waitMs / 1000) }, 'Redis not reachable yet; waiting for it');
      await sleep(Math.max(50, Math.min(left, backoffDelayMs(attempt, POLICY, deps.random))));
    }
  }
}
