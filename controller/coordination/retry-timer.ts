import { backoffDelayMs, type BackoffPolicy } from '../../shared/backoff.js';
import { errorMessage } from '../../shared/errors.js';
import type { Logger } from '../../shared/logger.js';

/**
 * Runs `task` again after a back-off while work is left: `settled(true)`
 * schedules the next attempt (the delay grows), `settled(false)` resets; a
 * task that throws counts as work left.
 * One timer, never overlapping itself; close() stops it.
 */
export class RetryTimer {
  private timer: NodeJS.Timeout | undefined;
  private attempt = 0;
  private closed = false;

  constructor(
    private readonly task: () => Promise<unknown>,
    private readonly policy: BackoffPolicy,
    private readonly logger: Logger,
    private readonly what: string,
  ) {}

  settled(workLeft: boolean): void {
    clearTimeout(this.timer);
    if (!workLeft) {
      this.attempt = 0;
      return;
    }
    if (this.closed) return;
    this.timer = setTimeout(() => {
      if (this.closed) return;
      this.task().catch((err: unknown) => {
        this.logger.warn({ err: errorMessage(err) }, `${this.what} retry failed`);
        this.settled(true);
      });
    }, backoffDelayMs(this.attempt++, this.policy));
    this.timer.unref();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
  }
}
