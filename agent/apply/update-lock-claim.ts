import type { Logger } from 'pino';
import { errorMessage } from '../../shared/errors.js';
import type { Step } from '../reconcile/steps.js';
import type { UpdateLocks } from './update-locks.js';

export interface UpdateLockClaimOptions {
  /** hand-over: the old container runs until the commit, so the lock is kept until the update ends. */
  keepUntilEnd: (workload: string) => boolean;
  logger: Logger;
}

/**
 * The update locks the agent holds during one update (DD-018). Taken after
 * the download and before the first stop, with O_EXCL like a workload does,
 * so no workload can lock between the decision and the stop. Each is given
 * back just before the workload's new container starts (it starts unlocked),
 * and whatever is left when the update ends (committed, rolled back, failed,
 * aborted) by `releaseAll`, which callers run in a `finally`.
 */
export class UpdateLockClaim {
  private readonly held = new Set<string>();

  constructor(
    private readonly locks: UpdateLocks,
    private readonly opts: UpdateLockClaimOptions,
  ) {}

  get workloads(): string[] {
    return [...this.held].sort();
  }

  /**
   * Takes each workload's lock; returns the workloads whose running container
   * holds it. A lock file with no running container behind it is stale (the
   * container that took it is gone) and is replaced by the agent's.
   */
  async claim(workloads: readonly string[], running: ReadonlySet<string>): Promise<string[]> {
    const locked: string[] = [];
    for (const w of workloads) {
      if (this.held.has(w) || (await this.takeOne(w))) continue;
      if (await this.locks.heldByAgent(w)) {
        // Ours, from an earlier pass that could not give it back.
        this.held.add(w);
        continue;
      }
      if (running.has(w)) {
        locked.push(w);
        continue;
      }
      await this.locks.clear(w);
      if (!(await this.takeOne(w))) locked.push(w);
    }
    return locked.sort();
  }

  /** Takes the locks whatever holds them: `force`, or a rollback replacing the containers that failed. */
  async seize(workloads: readonly string[]): Promise<void> {
    for (const w of workloads) {
      if (this.held.has(w)) continue;
      await this.locks.clear(w);
      await this.takeOne(w);
    }
  }

  /** Step hook of the update and rollback passes: a workload's new container starts unlocked. */
  async beforeStep(step: Step): Promise<void> {
    if (step.kind !== 'start' || !this.held.has(step.workload) || this.opts.keepUntilEnd(step.workload)) return;
    await this.releaseOne(step.workload);
  }

  /** Never throws: it runs in `finally` blocks. A lock that cannot be removed is retried at the next start. */
  async releaseAll(): Promise<void> {
    for (const w of this.workloads) await this.releaseOne(w);
  }

  private async takeOne(workload: string): Promise<boolean> {
    if (!(await this.locks.take(workload))) return false;
    this.held.add(workload);
    this.opts.logger.debug({ workload }, 'update lock taken');
    return true;
  }

  private async releaseOne(workload: string): Promise<void> {
    this.held.delete(workload);
    try {
      await this.locks.release(workload);
      this.opts.logger.debug({ workload }, 'update lock released');
    } catch (err) {
      this.opts.logger.warn({ workload, err: errorMessage(err) }, 'cannot release update lock');
    }
  }
}
