import type { Clock } from '../../shared/clock.js';
import type { UpdateLocks } from './update-locks.js';

/**
 * The one timer that wakes a deferred update: at a time (its window opens),
 * or once the workloads holding their update locks released them (polling
 * only the lock files, which is cheap). A new wish replaces the old one.
 */
export class WakeTimer {
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly clock: Clock,
    private readonly locks: Pick<UpdateLocks, 'heldBy'>,
    private readonly lockPollMs: number,
    private readonly wake: () => void,
  ) {}

  at(atMs: number): void {
    this.clock.clearTimeout(this.timer);
    const delay = Math.max(0, Math.min(atMs - this.clock.now(), 2 ** 31 - 1));
    this.timer = this.clock.setTimeout(() => this.wake(), delay);
  }

  whenUnlocked(workloads: readonly string[]): void {
    this.clock.clearTimeout(this.timer);
    const check = (): void => {
      if (this.stopped) return;
      if (this.locks.heldBy(workloads).length === 0) this.wake();
      else this.timer = this.clock.setTimeout(check, this.lockPollMs);
    };
    this.timer = this.clock.setTimeout(check, this.lockPollMs);
  }

  stop(): void {
    this.stopped = true;
    this.clock.clearTimeout(this.timer);
  }
}
