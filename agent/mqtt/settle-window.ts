import type { Clock } from '../../shared/clock.js';

export interface SettleWindowDeps<T> {
  readonly clock: Clock;
  /** Quiet time after the SUBSCRIBE was answered before the newest held document goes on. */
  readonly settleMs: number;
  /** Longest hold after a connect, answered or not. */
  readonly maxSettleMs: number;
  /** Hands a document on (to the reconciler). */
  readonly apply: (doc: T) => void;
}

/**
 * DD-006 settle window: on each (re)connection the broker may first flush a
 * queue of older documents. New documents are held from the connect until
 * the explicit SUBSCRIBE was answered and `settleMs` passed without another
 * SUBSCRIBE answer (or `maxSettleMs` in all), then only the newest goes on.
 * Outside that window a document goes on at once.
 */
export class SettleWindow<T> {
  private settled = true;
  private pending: T | null = null;
  private settleTimer: NodeJS.Timeout | undefined;
  private maxTimer: NodeJS.Timeout | undefined;

  constructor(private readonly deps: SettleWindowDeps<T>) {}

  /** A document accepted by the inbox: applied now, or held as the newest until the window closes. */
  offer(doc: T): void {
    if (this.settled) this.deps.apply(doc);
    else this.pending = doc;
  }

  /** A new connection: hold documents until the window closes. */
  connected(): void {
    this.settled = false;
    this.clearTimers();
    this.maxTimer = this.deps.clock.setTimeout(() => this.settle(), this.deps.maxSettleMs);
  }

  /** The explicit SUBSCRIBE was answered: the window closes `settleMs` later. */
  subscribed(): void {
    this.deps.clock.clearTimeout(this.settleTimer);
    this.settleTimer = this.deps.clock.setTimeout(() => this.settle(), this.deps.settleMs);
  }

  close(): void {
    this.clearTimers();
  }

  private settle(): void {
    this.clearTimers();
    if (this.settled) return;
    this.settled = true;
    const doc = this.pending;
    this.pending = null;
    if (doc !== null) this.deps.apply(doc);
  }

  private clearTimers(): void {
    this.deps.clock.clearTimeout(this.settleTimer);
    this.deps.clock.clearTimeout(this.maxTimer);
  }
}
