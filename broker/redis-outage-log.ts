import { errorMessage } from '../shared/errors.js';
import type { Logger } from '../shared/logger.js';

/**
 * One warning when a Redis connection is lost and one info line when it is
 * back. ioredis emits 'error' on every failed reconnect attempt (several a
 * second), which would otherwise flood the log during an outage.
 */
export class RedisOutageLog {
  readonly #logger: Logger;
  #down = false;

  constructor(logger: Logger, connection: string) {
    this.#logger = logger.child({ redis: connection });
  }

  failed(err: unknown): void {
    if (this.#down) {
      this.#logger.debug({ err: errorMessage(err) }, 'redis still unavailable');
      return;
    }
    this.#down = true;
    this.#logger.warn({ err: errorMessage(err) }, 'redis connection lost');
  }

  recovered(): void {
    if (!this.#down) return;
    this.#down = false;
    this.#logger.info('redis connection restored');
  }
}

/** Attaches to an ioredis connection; its 'error' listener is what keeps a Redis blip from crashing the process. */
export function watchRedis(
  conn: { on(event: 'error', listener: (err: Error) => void): unknown; on(event: 'ready', listener: () => void): unknown },
  log: RedisOutageLog,
): void {
  conn.on('error', (err: Error) => log.failed(err));
  conn.on('ready', () => log.recovered());
}
