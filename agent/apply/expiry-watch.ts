import type { Clock } from '../../shared/clock.js';

export interface Staleness {
  version: number;
  expiredAt: string;
}

/**
 * Freeze defence, device side (DD-026): the document the device holds says
 * until when it is valid. Past that, the agent keeps running it (a device
 * must never stop its workloads because the controller is unreachable) but
 * reports itself stale until a fresh document, or a re-signed copy, comes.
 */
export class ExpiryWatch {
  private timer: NodeJS.Timeout | undefined;
  private current: Staleness | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly onChange: (stale: Staleness | null) => void,
  ) {}

  get stale(): Staleness | null {
    return this.current;
  }

  /** The held version and its expiry (null: unsigned, never stale). */
  track(version: number, expiresAt: string | null | undefined): void {
    this.clock.clearTimeout(this.timer);
    const at = expiresAt ? Date.parse(expiresAt) : Number.NaN;
    if (!Number.isFinite(at)) {
      this.set(null);
      return;
    }
    const delay = at - this.clock.now();
    if (delay <= 0) {
      this.set({ version, expiredAt: new Date(at).toISOString() });
      return;
    }
    this.set(null);
    this.timer = this.clock.setTimeout(() => this.set({ version, expiredAt: new Date(at).toISOString() }), Math.min(delay, 2 ** 31 - 1));
  }

  stop(): void {
    this.clock.clearTimeout(this.timer);
  }

  private set(next: Staleness | null): void {
    if (JSON.stringify(next) === JSON.stringify(this.current)) return;
    this.current = next;
    this.onChange(next);
  }
}
