import type { Clock } from '../../shared/clock.js';

/**
 * A Clock (shared/clock.ts) whose timers fire only when the test advances
 * time, in due order, each followed by a few turns of the event loop so the
 * promises it started can settle.
 */
export class ManualClock implements Clock {
  private timers: { at: number; fn: () => void; handle: NodeJS.Timeout }[] = [];

  constructor(public t = 1_000_000) {}

  now = (): number => this.t;

  setTimeout = (fn: () => void, ms: number): NodeJS.Timeout => {
    const handle = { ref: () => handle, unref: () => handle } as unknown as NodeJS.Timeout;
    this.timers.push({ at: this.t + ms, fn, handle });
    return handle;
  };

  clearTimeout = (handle: NodeJS.Timeout | undefined): void => {
    this.timers = this.timers.filter((x) => x.handle !== handle);
  };

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.timers.length;
  }

  async advance(ms: number): Promise<void> {
    const until = this.t + ms;
    for (;;) {
      const next = this.timers.filter((x) => x.at <= until).sort((a, b) => a.at - b.at)[0];
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
      for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
    }
    this.t = until;
  }
}
