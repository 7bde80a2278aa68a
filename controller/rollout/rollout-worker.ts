import { Worker, type Job, type Queue } from 'bullmq';
import { Redis } from 'ioredis';
import type { Logger } from '../../shared/logger.js';
import { errorMessage } from '../../shared/errors.js';
import { ROLLOUT_QUEUE } from './rollout-scheduler.js';

export interface RolloutWorkerDeps {
  redisUrl: string;
  /** BullMQ key prefix (Keys.bullPrefix()). */
  prefix: string;
  /** The queue the worker consumes, to see jobs that wait too long. */
  queue: Queue;
  process: (job: Job) => Promise<void>;
  logger: Logger;
  now: () => number;
  /** Ticks of different rollouts run side by side; one rollout's ticks are serialized by its lock. */
  concurrency?: number;
  /** A due job this long unprocessed while this worker did nothing means it is stuck. */
  stuckAfterMs?: number;
}

/**
 * The BullMQ worker for tick jobs, with a health check: workers have failed
 * to resume after Redis restarts (bullmq #2466, #2964), so a worker that is
 * not running, or that leaves due jobs untouched while doing nothing itself,
 * is closed and created again on a fresh connection.
 */
export class RolloutWorker {
  private worker: Worker | null = null;
  private connection: Redis | null = null;
  private lastActivityMs = 0;
  private closed = false;
  private checking = false;
  /** How many times the health check replaced the worker (for logs and tests). */
  recreated = 0;

  constructor(private readonly deps: RolloutWorkerDeps) {}

  start(): void {
    this.create();
  }

  get running(): boolean {
    return this.worker?.isRunning() === true;
  }

  /** One health check; called periodically by the engine. */
  async check(): Promise<void> {
    if (this.closed || this.checking) return;
    this.checking = true;
    try {
      const why = await this.problem();
      if (why) {
        this.deps.logger.error({ why }, 'rollout worker unhealthy; recreating it');
        await this.replace();
      }
    } catch (err) {
      this.deps.logger.debug({ err: errorMessage(err) }, 'rollout worker health check could not run');
    } finally {
      this.checking = false;
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.dispose(false);
  }

  private async problem(): Promise<string | null> {
    if (!this.worker || !this.worker.isRunning()) return 'the worker is not running';
    const now = this.deps.now();
    const stuckAfter = this.deps.stuckAfterMs ?? 15_000;
    if (now - this.lastActivityMs < stuckAfter) return null;
    const [waiting] = await this.deps.queue.getJobs(['wait', 'prioritized'], 0, 0, true);
    const [delayed] = await this.deps.queue.getJobs(['delayed'], 0, 0, true);
    const overdue = [waiting, delayed]
      .filter((j): j is NonNullable<typeof j> => j !== undefined)
      .map((j) => now - (j.timestamp + (j.delay ?? 0)))
      .filter((late) => late > stuckAfter);
    return overdue.length > 0 ? `a tick job is ${Math.round(Math.max(...overdue) / 1000)}s overdue and this worker processed nothing meanwhile` : null;
  }

  private create(): void {
    const connection = new Redis(this.deps.redisUrl, { maxRetriesPerRequest: null });
    connection.on('error', (err) => this.deps.logger.debug({ err: err.message }, 'rollout worker redis error'));
    const worker = new Worker(ROLLOUT_QUEUE, (job) => this.deps.process(job), {
      connection,
      prefix: this.deps.prefix,
      concurrency: this.deps.concurrency ?? 4,
    });
    const touch = (): void => {
      this.lastActivityMs = this.deps.now();
    };
    worker.on('active', touch);
    worker.on('completed', touch);
    worker.on('failed', (job, err) => {
      touch();
      this.deps.logger.warn({ jobId: job?.id, attempt: job?.attemptsMade, err: err.message }, 'rollout tick failed; BullMQ retries it');
    });
    worker.on('error', (err) => this.deps.logger.warn({ err: err.message }, 'rollout worker error'));
    this.worker = worker;
    this.connection = connection;
    this.lastActivityMs = this.deps.now();
  }

  private async replace(): Promise<void> {
    await this.dispose(true);
    if (this.closed) return;
    this.create();
    this.recreated++;
  }

  /** Closes the worker (waiting for running jobs unless `force`), bounded: a dead connection must not hang us. */
  private async dispose(force: boolean): Promise<void> {
    const worker = this.worker;
    const connection = this.connection;
    this.worker = null;
    this.connection = null;
    if (worker) {
      const closing = worker.close(force).catch((err: unknown) => this.deps.logger.debug({ err: errorMessage(err) }, 'rollout worker close failed'));
      await Promise.race([closing, new Promise((r) => setTimeout(r, force ? 2_000 : 15_000).unref())]);
    }
    connection?.disconnect();
  }
}
