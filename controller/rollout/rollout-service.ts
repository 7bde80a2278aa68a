import type { z } from 'zod';
import type { Logger } from '../../shared/logger.js';
import { canonicalJson } from '../../shared/canonical-json.js';
import { matches, parseSelector } from '../desired-state/selector.js';
import { ControllerError } from '../errors.js';
import type { RolloutDetail, RolloutSummary } from '../http/rollout-schemas.js';
import type { DeviceStore } from '../registry/device-store.js';
import type { ReleaseStore } from '../registry/release-store.js';
import { createRollout } from './create-rollout.js';
import { generateRolloutId as generateId } from './rollout-id.js';
import { RolloutSpec, type RolloutPhase, type RolloutState, type TargetDevice } from './model.js';
import { abort, advanceManually, pause, resume, rollback } from './operations.js';
import type { RolloutLock } from './rollout-lock.js';
import type { RolloutStore } from './rollout-store.js';
import { rolloutDetail, summarizeRollout } from './rollout-view.js';

export const ROLLOUT_OPERATIONS = ['pause', 'resume', 'abort', 'rollback', 'advance'] as const;
export type RolloutOperation = (typeof ROLLOUT_OPERATIONS)[number];

export interface RolloutServiceDeps {
  store: RolloutStore;
  locks: RolloutLock;
  devices: DeviceStore;
  releases: ReleaseStore;
  /** Asks for an immediate tick. */
  kick: (rolloutId: string) => Promise<void>;
  now: () => number;
  logger: Logger;
  /** How long an operation waits for a tick of the same rollout to finish. */
  lockWaitMs?: number;
}

/** The phases each operation accepts, and what to say otherwise. */
const ALLOWED: Record<RolloutOperation, { from: readonly RolloutPhase[]; what: string }> = {
  pause: { from: ['scheduled', 'running'], what: 'only a scheduled or running rollout can be paused' },
  resume: { from: ['paused'], what: 'only a paused rollout can be resumed' },
  abort: { from: ['scheduled', 'running', 'paused'], what: 'only a scheduled, running or paused rollout can be aborted' },
  rollback: {
    from: ['scheduled', 'running', 'paused', 'succeeded', 'aborted'],
    what: 'a rollout that is rolling back or rolled back cannot be rolled back again',
  },
  advance: { from: ['scheduled', 'running', 'paused'], what: 'only a scheduled, running or paused rollout can be advanced' },
};

/** Phases in which an operation has nothing left to do: repeating it answers the rollout as it is. */
const ALREADY: Record<RolloutOperation, readonly RolloutPhase[]> = {
  pause: ['paused'],
  resume: [],
  abort: ['aborted'],
  rollback: ['rolling-back', 'rolled-back'],
  advance: [],
};

/**
 * What operators do with rollouts (API and CLI go through here). Creation
 * checks the spec, the release and the target; operations run under the
 * rollout's lock with the revision check, then ask for an immediate tick.
 */
export class RolloutService {
  constructor(private readonly deps: RolloutServiceDeps) {}

  /**
   * Creates the rollout. With a client-supplied id, repeating the same
   * request answers the existing rollout (`created: false`) instead of a
   * conflict, so a retry after a lost answer is safe.
   */
  async create(input: unknown): Promise<{ rollout: RolloutDetail; created: boolean }> {
    const parsed = RolloutSpec.safeParse(input);
    if (!parsed.success) throw invalid(parsed.error.issues);
    const spec = parsed.data;
    if (spec.id !== undefined) {
      const existing = await this.deps.store.get(spec.id);
      if (existing) {
        if (canonicalJson(existing.spec) === canonicalJson(spec)) return { rollout: rolloutDetail(existing, new Date(this.deps.now())), created: false };
        throw new ControllerError('ROLLOUT_EXISTS', `rollout ${spec.id} already exists with another spec`);
      }
    }
    await this.deps.releases.require(spec.app, spec.toVersion);
    const target = await this.targetDevices(spec);
    if (target.length === 0) {
      throw new ControllerError('REQUEST_INVALID', `target: matches no enrolled device (${describeTarget(spec)}); a rollout needs at least one`);
    }
    const id = spec.id ?? generateId(spec.app, spec.toVersion);
    const now = new Date(this.deps.now());
    const state = createRollout(id, spec, target, now);
    await this.deps.store.create(state);
    this.deps.logger.info({ rolloutId: id, app: spec.app, toVersion: spec.toVersion, devices: target.length, waves: state.waves.length }, 'rollout created');
    await this.deps.kick(id);
    return { rollout: rolloutDetail(state, now), created: true };
  }

  async list(): Promise<RolloutSummary[]> {
    const now = new Date(this.deps.now());
    return (await this.deps.store.all()).map((s) => summarizeRollout(s, now));
  }

  async get(id: string): Promise<RolloutDetail> {
    return rolloutDetail(await this.deps.store.require(id), new Date(this.deps.now()));
  }

  async operate(id: string, operation: RolloutOperation): Promise<RolloutDetail> {
    const lock = await this.deps.locks.acquire(id, this.deps.lockWaitMs ?? 10_000);
    if (!lock) throw new ControllerError('UNAVAILABLE', `rollout ${id} is busy (a step is being applied); retry in a moment`);
    let next: RolloutState;
    try {
      const state = await this.deps.store.require(id);
      const now = new Date(this.deps.now());
      // Asking again for what already holds (a retry whose answer was lost) is not a conflict.
      if (ALREADY[operation].includes(state.phase)) {
        await lock.release();
        return rolloutDetail(state, now);
      }
      next = apply(state, operation, now);
      if (next === state) throw phaseConflict(state, operation);
      const saved = await this.deps.store.save(next, state.revision);
      if (saved === 'gone') throw new ControllerError('ROLLOUT_NOT_FOUND', `rollout ${id} does not exist`);
      if (saved === 'conflict') throw new ControllerError('UNAVAILABLE', `rollout ${id} changed while the ${operation} was applied; retry`);
      await this.deps.store.setActive(id, true);
      this.deps.logger.info({ rolloutId: id, operation, from: state.phase, phase: next.phase }, 'rollout operation');
    } finally {
      await lock.release();
    }
    await this.deps.kick(id);
    return rolloutDetail(next, new Date(this.deps.now()));
  }

  private async targetDevices(spec: RolloutSpec): Promise<TargetDevice[]> {
    if (spec.target.kind === 'devices') {
      return (await this.deps.devices.many(spec.target.devices)).map((d) => ({ id: d.id, labels: d.labels }));
    }
    const selector = parseSelector(spec.target.selector);
    return (await this.deps.devices.all()).filter((d) => matches(selector, d.labels)).map((d) => ({ id: d.id, labels: d.labels }));
  }
}

function apply(state: RolloutState, operation: RolloutOperation, now: Date): RolloutState {
  switch (operation) {
    case 'pause':
      return pause(state, 'paused by an operator', now);
    case 'resume':
      return resume(state, now);
    case 'abort':
      return abort(state, now);
    case 'rollback':
      return rollback(state, now).state;
    case 'advance':
      return advanceManually(state, now);
  }
}

function phaseConflict(state: RolloutState, operation: RolloutOperation): ControllerError {
  const rule = ALLOWED[operation];
  return new ControllerError('ROLLOUT_PHASE_CONFLICT', `cannot ${operation} rollout ${state.id}: it is ${state.phase}; ${rule.what}`, {
    details: { phase: state.phase, operation, allowedFrom: [...rule.from] },
  });
}

function describeTarget(spec: RolloutSpec): string {
  return spec.target.kind === 'selector' ? `selector ${spec.target.selector}` : `devices ${spec.target.devices.join(', ')}`;
}

function invalid(issues: readonly z.core.$ZodIssue[]): ControllerError {
  const text = issues.map((i) => `${i.path.map(String).join('.') || 'body'}: ${i.message}`).join('; ');
  return new ControllerError('REQUEST_INVALID', `invalid rollout: ${text}`);
}
