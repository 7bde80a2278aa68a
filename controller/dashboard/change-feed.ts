import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';

/**
 * One coalesced notice of what changed since the previous one. A dashboard
 * page refetches the view the ids touch; `truncated` means "too much to
 * list, refetch whatever is open".
 */
export interface FleetChange {
  devices: string[];
  rollouts: string[];
  truncated: boolean;
}

export type ChangeListener = (change: FleetChange) => void;

export interface ChangeFeedOptions {
  logger: Logger;
  /** Changes within this window go out as one notice (DD-042): a wave of 1,000 reports is one refetch, not 1,000. */
  coalesceMs?: number;
  /** Most ids listed per notice; beyond it the notice is `truncated`. */
  maxIds?: number;
}

/**
 * In-process change notifications for the dashboard's live view (DD-042):
 * ingest says which device sent something, the service publisher which
 * device got a desired document and which rollout a new status. Nothing is
 * stored: a listener that was away refetches when it comes back.
 */
export class ChangeFeed {
  private readonly listeners = new Set<ChangeListener>();
  private devices = new Set<string>();
  private rollouts = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;
  private readonly coalesceMs: number;
  private readonly maxIds: number;

  constructor(private readonly opts: ChangeFeedOptions) {
    this.coalesceMs = opts.coalesceMs ?? 250;
    this.maxIds = opts.maxIds ?? 200;
  }

  device(deviceId: string): void {
    if (this.listeners.size === 0 || this.closed) return;
    this.devices.add(deviceId);
    this.schedule();
  }

  rollout(rolloutId: string): void {
    if (this.listeners.size === 0 || this.closed) return;
    this.rollouts.add(rolloutId);
    this.schedule();
  }

  /** Returns the unsubscribe function. */
  subscribe(listener: ChangeListener): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  get listenerCount(): number {
    return this.listeners.size;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.listeners.clear();
  }

  private schedule(): void {
    if (this.timer) return;
    this.timer = setTimeout(() => this.flush(), this.coalesceMs);
    this.timer.unref();
  }

  private flush(): void {
    this.timer = undefined;
    const truncated = this.devices.size + this.rollouts.size > this.maxIds;
    const change: FleetChange = truncated
      ? { devices: [], rollouts: [], truncated }
      : { devices: [...this.devices], rollouts: [...this.rollouts], truncated };
    this.devices = new Set();
    this.rollouts = new Set();
    for (const listener of this.listeners) {
      try {
        listener(change);
      } catch (err) {
        this.opts.logger.warn({ err: errorMessage(err) }, 'change listener failed');
      }
    }
  }
}
