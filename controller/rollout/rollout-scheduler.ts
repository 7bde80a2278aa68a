import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { z } from 'zod';
import type { Logger } from '../../shared/logger.js';
import type { Keys } from '../registry/keys.js';
import { RolloutId } from './model.js';

export const ROLLOUT_QUEUE = 'outpost-rollouts';

/** The one job kind. Parsed on receipt: job data crosses a process boundary. */
export const TickJobData = z.strictObject({ rolloutId: RolloutId });
export type TickJobData = z.infer<typeof TickJobData>;

/** A chain tick this long past its due time without running is presumed lost (failed for good, or Redis lost it). */
export const CHAIN_STALE_MS = 10_000;

export interface RolloutSchedulerDeps {
  /** BullMQ connection: its own ioredis with maxRetriesPerRequest null. */
  connection: Redis;
  /** Plain connection for the chain markers. */
  redis: Redis;
  keys: Keys;
  logger: Logger;
  now: () => number;
}

interface Marker {
  jobId: string;
  dueMs: number;
}

/**
 * Tick jobs on the BullMQ queue. Each rollout has one "chain": the tick that
 * runs next, whose job id is kept in a marker key; the chain tick schedules
 * its successor. Extra ticks (an operation's immediate tick, start-up
 * recovery, a stalled job run again) plan and apply like any tick but only
 * reschedule when the chain is lost or they need an earlier check, so ticks
 * never multiply. Job ids are deterministic per (rollout, due second):
 * duplicate schedules of the same moment collapse into one job.
 */
export class RolloutScheduler {
  readonly queue: Queue;

  constructor(private readonly deps: RolloutSchedulerDeps) {
    this.queue = new Queue(ROLLOUT_QUEUE, {
      connection: deps.connection,
      prefix: deps.keys.bullPrefix(),
      defaultJobOptions: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 500 },
        removeOnComplete: true,
        removeOnFail: { age: 86_400, count: 1000 },
      },
    });
    this.queue.on('error', (err) => deps.logger.warn({ err: err.message }, 'rollout queue error'));
  }

  static jobId(rolloutId: string, dueMs: number): string {
    return `tick-${rolloutId}-${Math.floor(dueMs / 1000)}`;
  }

  /** An immediate extra tick (after an operation or a creation); leaves the chain alone. */
  async kick(rolloutId: string): Promise<void> {
    await this.add(rolloutId, this.deps.now());
  }

  /**
   * Called by a tick, under the rollout's lock, with when it wants the next
   * one. The chain tick always schedules its successor; another tick only
   * when no chain tick is pending, or the pending one is later than needed.
   */
  async scheduleNext(rolloutId: string, currentJobId: string | undefined, wantMs: number): Promise<void> {
    const marker = await this.readMarker(rolloutId);
    const isChain = marker !== null && marker.jobId === currentJobId;
    const pending = marker !== null && !isChain && marker.dueMs > this.deps.now() - CHAIN_STALE_MS;
    if (pending && marker.dueMs <= wantMs + 250) return;
    const dueMs = await this.add(rolloutId, wantMs, currentJobId);
    await this.writeMarker(rolloutId, { jobId: RolloutScheduler.jobId(rolloutId, dueMs), dueMs });
  }

  /** The rollout needs no more ticks: drop the chain (unless a newer one is pending, which will find nothing to do). */
  async finish(rolloutId: string, currentJobId: string | undefined): Promise<void> {
    const marker = await this.readMarker(rolloutId);
    if (!marker || marker.jobId === currentJobId || marker.dueMs <= this.deps.now() - CHAIN_STALE_MS) {
      await this.deps.redis.del(this.deps.keys.rolloutNextTick(rolloutId));
    }
  }

  /**
   * Start-up recovery and the periodic sweep: every rollout that still needs
   * ticks gets a chain tick now if it has none pending (after a kill -9, or a
   * tick job that failed for good). Returns the rollouts rescheduled.
   */
  async ensureScheduled(rolloutIds: readonly string[]): Promise<string[]> {
    const rescheduled: string[] = [];
    const now = this.deps.now();
    for (const id of rolloutIds) {
      const marker = await this.readMarker(id);
      if (marker && marker.dueMs > now - CHAIN_STALE_MS) continue;
      const dueMs = await this.add(id, now, marker?.jobId);
      await this.writeMarker(id, { jobId: RolloutScheduler.jobId(id, dueMs), dueMs });
      rescheduled.push(id);
    }
    return rescheduled;
  }

  async close(): Promise<void> {
    await this.queue.close();
  }

  /** Adds the tick job due at `dueMs` (never with the id `avoidJobId`: the running job's own id would be a no-op). */
  private async add(rolloutId: string, dueMs: number, avoidJobId?: string): Promise<number> {
    let due = dueMs;
    if (RolloutScheduler.jobId(rolloutId, due) === avoidJobId) due = (Math.floor(due / 1000) + 1) * 1000;
    const jobId = RolloutScheduler.jobId(rolloutId, due);
    const data: TickJobData = { rolloutId };
    await this.queue.add('tick', data, { jobId, delay: Math.max(0, due - this.deps.now()) });
    return due;
  }

  private async readMarker(rolloutId: string): Promise<Marker | null> {
    const raw = await this.deps.redis.get(this.deps.keys.rolloutNextTick(rolloutId));
    if (!raw) return null;
    const bar = raw.lastIndexOf('|');
    const dueMs = Number(raw.slice(bar + 1));
    return bar > 0 && Number.isFinite(dueMs) ? { jobId: raw.slice(0, bar), dueMs } : null;
  }

  private async writeMarker(rolloutId: string, marker: Marker): Promise<void> {
    await this.deps.redis.set(this.deps.keys.rolloutNextTick(rolloutId), `${marker.jobId}|${marker.dueMs}`);
  }
}
