import type { Logger } from '../../shared/logger.js';
import { ControllerError } from '../errors.js';
import { matches, parseSelector } from '../desired-state/selector.js';
import type { StatusStore } from '../ingest/status-store.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { RolloutAction } from './actions.js';
import { applyActions } from './apply-actions.js';
import type { DeviceRolloutState, ObservedDevice, RolloutSpec, RolloutState, TargetDevice } from './model.js';
import { observedFromStatus } from './observed-status.js';
import { finishRollback, pause } from './operations.js';
import { planRollout } from './plan-rollout.js';
import type { HeldLock } from './rollout-lock.js';
import type { RolloutEffects } from './rollout-effects.js';
import type { RolloutStore } from './rollout-store.js';

/** How long a finished rollout keeps watching its timed-out devices for a late success. */
export const LATE_SUCCESS_WATCH_MS = 7 * 86_400_000;

export interface RolloutTickDeps {
  store: RolloutStore;
  devices: DeviceStore;
  status: StatusStore;
  effects: RolloutEffects;
  /** Publishes the rollout's status message (retained); rejects when the broker did not take it. */
  publishStatus: (state: RolloutState) => Promise<void>;
  now: () => number;
  logger: Logger;
}

export type TickResult =
  | { kind: 'gone' }
  /** Nothing will change without an operator: no further ticks. */
  | { kind: 'done'; state: RolloutState }
  | { kind: 'continue'; state: RolloutState; nextCheckAt: Date | null };

/** Saving lost the race this often in a row (a tick and an operation on another lock-less path): give up, the job retries. */
const MAX_CONFLICTS = 5;

/**
 * One tick of one rollout, run under its lock: load the state, read the
 * target and the device reports, plan (pure), carry out the notify /
 * rollback effects, apply and save with the revision check, publish the
 * status. Idempotent: a tick that runs twice, or again after a crash between
 * the effects and the save, re-plans the same step and its effects change
 * nothing more (rollout-effects.ts).
 */
export class RolloutTicker {
  constructor(private readonly deps: RolloutTickDeps) {}

  async tick(rolloutId: string, lock: HeldLock): Promise<TickResult> {
    const { deps } = this;
    for (let attempt = 0; attempt < MAX_CONFLICTS; attempt++) {
      const state = await deps.store.get(rolloutId);
      if (!state) return { kind: 'gone' };
      // Time is re-read inside the job: BullMQ delays are neither exact nor clock-safe.
      const now = new Date(deps.now());
      const { next, nextCheckAt } = await this.step(state, now, lock);
      if (next !== state) {
        if (!lock.held) throw new Error(`rollout ${rolloutId}: lock lost before saving; the step is re-planned by the next tick`);
        const saved = await deps.store.save(next, state.revision);
        if (saved === 'gone') return { kind: 'gone' };
        if (saved === 'conflict') {
          deps.logger.info({ rolloutId, revision: state.revision }, 'rollout changed while a tick ran; planning again');
          continue;
        }
        logTransition(deps.logger, state, next);
      }
      await this.publishIfNeeded(next);
      if (needsTicks(next, now) || (await deps.store.publishedRevision(rolloutId)) < next.revision) {
        return { kind: 'continue', state: next, nextCheckAt };
      }
      await deps.store.setActive(rolloutId, false);
      return { kind: 'done', state: next };
    }
    throw new Error(`rollout ${rolloutId}: ${MAX_CONFLICTS} conflicting writes in a row`);
  }

  private async step(state: RolloutState, now: Date, lock: HeldLock): Promise<{ next: RolloutState; nextCheckAt: Date | null }> {
    if (state.phase === 'rolled-back') return { next: state, nextCheckAt: null };
    if (state.phase === 'rolling-back') {
      if (!lock.held) throw new Error(`rollout ${state.id}: lock lost before rolling back`);
      await this.deps.effects.rollback(state);
      return { next: finishRollback(state, now), nextCheckAt: null };
    }
    // Read failures throw (the job is retried): never plan with a target or reports that failed to load.
    const target = state.phase === 'scheduled' || state.phase === 'running' ? await this.targetDevices(state.spec) : [];
    const plan = planRollout(state, { now, deviceStatuses: await this.observe(state), targetDevices: target, notifiedInLastMinute: 0 });
    const executed: RolloutAction[] = [];
    const unreachable: DeviceRolloutState[] = [];
    // Later actions may refer to devices placed by earlier ones: effects see the state as it is at their turn.
    let working = state;
    for (const action of plan.actions) {
      let done: RolloutAction = action;
      if (action.kind === 'notify') {
        if (!lock.held) throw new Error(`rollout ${state.id}: lock lost before notifying`);
        let result: Awaited<ReturnType<RolloutEffects['notify']>>;
        try {
          result = await this.deps.effects.notify(working, action);
        } catch (err) {
          // Someone else's deployment holds the rollout's id: retrying cannot help, an operator must act.
          if (err instanceof ControllerError && err.code === 'DEPLOYMENT_EXISTS') return { next: pause(state, err.message, now), nextCheckAt: null };
          throw err;
        }
        done = result.action;
        unreachable.push(...result.failed);
      }
      executed.push(done);
      working = applyActions(working, [done], now);
    }
    if (unreachable.length > 0) executed.push({ kind: 'mark', updates: unreachable });
    const next = applyActions(state, executed, now);
    // DD-044: before the finished phase is saved, so a crash in between folds again on the re-planned tick.
    if (next.phase === 'succeeded' || next.phase === 'aborted') {
      if (!lock.held) throw new Error(`rollout ${state.id}: lock lost before folding its deployment`);
      await this.deps.effects.fold(next, async (ids) => (await this.deps.devices.many(ids)).map((d) => ({ id: d.id, labels: d.labels })));
    }
    return { next, nextCheckAt: plan.nextCheckAt };
  }

  /** The rollout's target as it is now. */
  private async targetDevices(spec: RolloutSpec): Promise<TargetDevice[]> {
    if (spec.target.kind === 'devices') {
      return (await this.deps.devices.many(spec.target.devices)).map((d) => ({ id: d.id, labels: d.labels }));
    }
    const selector = parseSelector(spec.target.selector);
    return (await this.deps.devices.all()).filter((d) => matches(selector, d.labels)).map((d) => ({ id: d.id, labels: d.labels }));
  }

  /** Reports of the devices whose rollout status a report can still change. */
  private async observe(state: RolloutState): Promise<Record<string, ObservedDevice>> {
    const ids = Object.values(state.devices)
      .filter((d) => d.status === 'notified' || d.status === 'applying' || (d.status === 'timed-out' && !d.lateSuccess))
      .map((d) => d.deviceId);
    const statuses = await this.deps.status.many(ids);
    const out: Record<string, ObservedDevice> = {};
    ids.forEach((id, i) => {
      const s = statuses[i];
      const observed = s ? observedFromStatus(s) : undefined;
      if (observed) out[id] = observed;
    });
    return out;
  }

  /** The retained status follows the state; a failed publish is retried on the next tick. */
  private async publishIfNeeded(state: RolloutState): Promise<void> {
    if ((await this.deps.store.publishedRevision(state.id)) >= state.revision) return;
    try {
      await this.deps.publishStatus(state);
      await this.deps.store.markPublished(state.id, state.revision);
    } catch (err) {
      this.deps.logger.warn({ rolloutId: state.id, err: err instanceof Error ? err.message : String(err) }, 'rollout status not published; retrying on the next tick');
    }
  }
}

/**
 * Whether planning again can still change the rollout without an operator:
 * unfinished rollouts, and finished ones (succeeded, aborted) while a moved
 * device may still report success (a late success is recorded for a week).
 */
export function needsTicks(state: RolloutState, now: Date): boolean {
  switch (state.phase) {
    case 'scheduled':
    case 'running':
    case 'paused':
    case 'rolling-back':
      return true;
    case 'rolled-back':
      return false;
    case 'succeeded':
    case 'aborted': {
      if (now.getTime() - Date.parse(state.updatedAt) > LATE_SUCCESS_WATCH_MS) return false;
      return Object.values(state.devices).some(
        (d) => d.status === 'notified' || d.status === 'applying' || (d.status === 'timed-out' && !d.lateSuccess),
      );
    }
  }
}

function logTransition(logger: Logger, before: RolloutState, after: RolloutState): void {
  const fields = { rolloutId: after.id, phase: after.phase, wave: after.currentWave, revision: after.revision };
  if (before.phase !== after.phase) logger.info({ ...fields, from: before.phase }, 'rollout phase changed');
  else if (before.currentWave !== after.currentWave) logger.info(fields, 'rollout advanced to the next wave');
  else logger.debug(fields, 'rollout step saved');
}
