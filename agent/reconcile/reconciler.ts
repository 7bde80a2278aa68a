import type { Logger } from 'pino';
import { backoffDelayMs, type BackoffPolicy } from '../../shared/backoff.js';
import type { Clock } from '../../shared/clock.js';
import { OutpostError, errorMessage, isOutpostError } from '../../shared/errors.js';

export interface Versioned {
  version: number;
}

export interface ReconcilerDeps<D extends Versioned, R = void> {
  runPass: (doc: D, signal: AbortSignal) => Promise<R>;
  onStart: (doc: D) => void;
  onSuccess: (doc: D, result: R) => void;
  onFailure: (doc: D, error: OutpostError, retryInMs: number) => void;
  clock: Clock;
  random: () => number;
  retry: BackoffPolicy;
  logger: Logger;
}

/**
 * Single flight, latest wins (DD-002). At most one pass runs; a newer target
 * aborts the running pass and supersedes any pending retry; a failed pass is
 * retried with the shared backoff until it succeeds or a new target arrives.
 */
export class Reconciler<D extends Versioned, R = void> {
  private target: D | null = null;
  private running: { doc: D; controller: AbortController; done: Promise<void> } | null = null;
  private rerun = false;
  private attempt = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: ReconcilerDeps<D, R>) {}

  get current(): D | null {
    return this.target;
  }

  get busy(): boolean {
    return this.running !== null;
  }

  /** Adopt a new desired document. Lower or equal versions are ignored by the caller, not here. */
  setTarget(doc: D): void {
    if (this.closed) return;
    const changed = this.target?.version !== doc.version;
    this.target = doc;
    if (changed) {
      this.attempt = 0;
      this.deps.clock.clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      if (this.running && this.running.doc.version !== doc.version) this.running.controller.abort();
    }
    this.kick();
  }

  /** Level-based resync: run a pass for the current target (no-op when none). */
  requestPass(): void {
    if (this.closed || !this.target) return;
    if (this.retryTimer) return; // a retry is already scheduled; it will observe afresh
    this.kick();
  }

  /**
   * Run the current target now, dropping a pending retry's backoff: what the
   * failed attempt lacked (registry credentials, DD-019) has just arrived.
   * While a pass runs, another one follows it.
   */
  retryNow(): void {
    if (this.closed || !this.target) return;
    this.deps.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    this.kick();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.deps.clock.clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    const running = this.running;
    if (running) {
      running.controller.abort();
      await running.done;
    }
  }

  /** Resolves when no pass is running or queued (tests and shutdown). */
  async idle(): Promise<void> {
    while (this.running) await this.running.done;
  }

  private kick(): void {
    if (this.running) {
      this.rerun = true;
      return;
    }
    const doc = this.target;
    if (!doc) return;
    const controller = new AbortController();
    const done = this.execute(doc, controller).finally(() => {
      this.running = null;
      if (this.rerun && !this.closed) {
        this.rerun = false;
        this.kick();
      }
    });
    this.running = { doc, controller, done };
  }

  private async execute(doc: D, controller: AbortController): Promise<void> {
    const log = this.deps.logger.child({ version: doc.version });
    try {
      this.deps.onStart(doc);
      const result = await this.deps.runPass(doc, controller.signal);
      this.attempt = 0;
      this.deps.onSuccess(doc, result);
    } catch (err) {
      const error = isOutpostError(err)
        ? err
        : new OutpostError('RUNTIME_UNAVAILABLE', errorMessage(err), { cause: err });
      if (error.code === 'RECONCILE_ABORTED' || controller.signal.aborted) {
        log.info('pass superseded');
        return;
      }
      const delay = backoffDelayMs(this.attempt, this.deps.retry, this.deps.random);
      this.attempt++;
      log.warn({ code: error.code, err: error.message, retryInMs: delay, attempt: this.attempt }, 'reconcile failed');
      try {
        this.deps.onFailure(doc, error, delay);
      } catch (cbErr) {
        log.error({ err: errorMessage(cbErr) }, 'failure handler threw');
      }
      if (this.closed) return;
      this.deps.clock.clearTimeout(this.retryTimer);
      this.retryTimer = this.deps.clock.setTimeout(() => {
        this.retryTimer = undefined;
        if (this.target?.version === doc.version) this.kick();
      }, delay);
    }
  }
}
