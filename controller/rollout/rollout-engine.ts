import type { Job } from 'bullmq';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import type { RolloutState } from './model.js';
import type { RolloutLock } from './rollout-lock.js';
import { RolloutScheduler, TickJobData } from './rollout-scheduler.js';
import type { RolloutStore } from './rollout-store.js';
import type { RolloutTicker, TickResult } from './rollout-tick.js';
import type { RolloutWorker } from './rollout-worker.js';

export interface RolloutEngineDeps {
  store: RolloutStore;
  locks: RolloutLock;
  ticker: RolloutTicker;
  scheduler: RolloutScheduler;
  /** Built with `process` = engine.processJob (see createRolloutEngine in create-controller). */
  worker: () => RolloutWorker;
  logger: Logger;
  now: () => number;
  /** Longest wait between ticks of a running rollout: device progress is polled, not pushed. */
  pollSeconds: number;
  /** Worker health check and chain sweep period. */
  housekeepingMs?: number;
}

/** Shortest wait between two ticks of one rollout. */
export const MIN_TICK_DELAY_MS = 200;
/** Paused and finished rollouts (still recording late successes) are polled this many times slower. */
export const IDLE_POLL_FACTOR = 5;

/**
 * Runs rollouts: the BullMQ worker processes tick jobs (one tick plans a
 * whole wave), each under the rollout's lock, and schedules the next tick
 * as a delayed job; housekeeping health-checks the worker and gives every
 * rollout that lost its tick chain a new one (also at start, after a kill -9).
 */
export class RolloutEngine {
  private worker: RolloutWorker | null = null;
  private timer: NodeJS.Timeout | undefined;
  private housekeeping: Promise<void> = Promise.resolve();
  private closed = false;

  constructor(private readonly deps: RolloutEngineDeps) {}

  async start(): Promise<void> {
    await this.deps.scheduler.queue.waitUntilReady();
    this.worker = this.deps.worker();
    this.worker.start();
    const recovered = await this.deps.scheduler.ensureScheduled(await this.deps.store.activeIds());
    if (recovered.length > 0) this.deps.logger.info({ rollouts: recovered }, 'rollout ticks scheduled at start');
    const every = this.deps.housekeepingMs ?? 5_000;
    const loop = (): void => {
      if (this.closed) return;
      this.housekeeping = this.runHousekeeping().finally(() => {
        if (this.closed) return;
        this.timer = setTimeout(loop, every);
        this.timer.unref();
      });
    };
    this.timer = setTimeout(loop, every);
    this.timer.unref();
  }

  /** An immediate tick, e.g. after an operation. */
  async kick(rolloutId: string): Promise<void> {
    await this.deps.scheduler.kick(rolloutId);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    await this.housekeeping.catch(() => undefined);
    await this.worker?.close();
    await this.deps.scheduler.close();
  }

  /** The tick job handler. Idempotent: a job processed twice changes nothing more. */
  async processJob(job: Pick<Job, 'id' | 'data'>): Promise<void> {
    const { rolloutId } = TickJobData.parse(job.data);
    const { deps } = this;
    const lock = await deps.locks.tryAcquire(rolloutId);
    if (!lock) {
      // Another process (or job) is ticking this rollout. If this job is the chain, keep the chain alive.
      await deps.scheduler.scheduleNext(rolloutId, job.id, deps.now() + 1000);
      deps.logger.debug({ rolloutId, jobId: job.id }, 'rollout busy; tick skipped');
      return;
    }
    try {
      const result = await deps.ticker.tick(rolloutId, lock);
      if (result.kind === 'continue') await deps.scheduler.scheduleNext(rolloutId, job.id, this.nextDue(result));
      else await deps.scheduler.finish(rolloutId, job.id);
    } finally {
      await lock.release();
    }
  }

  /** When to tick next: at the plan's next check, bounded so device reports are polled. */
  nextDue(result: Extract<TickResult, { kind: 'continue' }>): number {
    const now = this.deps.now();
    const poll = this.deps.pollSeconds * 1000;
    const cap = busy(result.state) ? poll : poll * IDLE_POLL_FACTOR;
    const wanted = result.nextCheckAt ? result.nextCheckAt.getTime() - now : cap;
    return now + Math.min(cap, Math.max(MIN_TICK_DELAY_MS, wanted));
  }

  private async runHousekeeping(): Promise<void> {
    try {
      await this.worker?.check();
      const rescheduled = await this.deps.scheduler.ensureScheduled(await this.deps.store.activeIds());
      if (rescheduled.length > 0) this.deps.logger.warn({ rollouts: rescheduled }, 'rollout tick chain was lost; ticks rescheduled');
    } catch (err) {
      this.deps.logger.warn({ err: errorMessage(err) }, 'rollout housekeeping failed');
    }
  }
}

function busy(state: RolloutState): boolean {
  return state.phase === 'running' || state.phase === 'scheduled' || state.phase === 'rolling-back';
}
