import { recordOutcome, startWave } from './apply-actions.js';
import type { RolloutPhase, RolloutState } from './model.js';

/**
 * Operator operations, pure like the reducer: each returns the same object
 * when it does not apply (so a repeated request is harmless), else a new
 * state with revision + 1.
 */

/** Stops notifying; device reports are still recorded. From scheduled or running. */
export function pause(state: RolloutState, reason: string, now: Date): RolloutState {
  if (state.phase !== 'scheduled' && state.phase !== 'running') return state;
  return touch(state, { ...state, phase: 'paused', pausedReason: reason }, now);
}

/**
 * Continues a paused rollout. If it was paused because its current wave
 * failed, resuming accepts that wave: the rollout goes on with the next wave
 * (or finishes, when it was the last), like advanceManually.
 */
export function resume(state: RolloutState, now: Date): RolloutState {
  if (state.phase !== 'paused') return state;
  const { pausedReason: _dropped, ...rest } = state;
  const current = state.waves[state.currentWave];
  if (current?.evaluatedAt !== undefined) return touch(state, moveOn({ ...rest, phase: 'running' }, now), now);
  const started = state.waves.some((w) => w.startedAt !== undefined);
  return touch(state, { ...rest, phase: started ? 'running' : 'scheduled' }, now);
}

/** No further devices are moved; those already moved stay on the new release. */
export function abort(state: RolloutState, now: Date): RolloutState {
  if (state.phase !== 'scheduled' && state.phase !== 'running' && state.phase !== 'paused') return state;
  return touch(state, { ...state, phase: 'aborted' }, now);
}

/** Every device the rollout moved (notified at least once), in wave order: what a rollback moves back. */
export function rollbackTargets(state: RolloutState): string[] {
  return state.waves.flatMap((w) => w.devices.filter((id) => state.devices[id]?.notifiedAt !== undefined));
}

/**
 * Rolling back: the worker moves every device in `deviceIds` back to its
 * previous release (as a new, higher desired version), then calls
 * finishRollback. Repeating it returns the same list.
 */
export function rollback(state: RolloutState, now: Date): { state: RolloutState; deviceIds: string[] } {
  const next = ROLLBACK_FROM.has(state.phase) ? touch(state, { ...state, phase: 'rolling-back' }, now) : state;
  return { state: next, deviceIds: rollbackTargets(next) };
}

export function finishRollback(state: RolloutState, now: Date): RolloutState {
  return state.phase === 'rolling-back' ? touch(state, { ...state, phase: 'rolled-back' }, now) : state;
}

/**
 * Moves to the next wave by hand, whatever the current wave's counts: the
 * current wave is recorded as passed (manual) unless already evaluated. From
 * scheduled it starts wave 0; from paused it also resumes; on the last wave
 * the rollout succeeds.
 */
export function advanceManually(state: RolloutState, now: Date): RolloutState {
  if (state.phase === 'scheduled') {
    return touch(state, startWave({ ...state, phase: 'running' }, state.currentWave, now.toISOString()), now);
  }
  if (state.phase !== 'running' && state.phase !== 'paused') return state;
  const { pausedReason: _dropped, ...rest } = state;
  const recorded = recordOutcome({ ...rest, phase: 'running' }, state.currentWave, 'passed', 'advanced by hand', now.toISOString(), true);
  return touch(state, moveOn(recorded, now), now);
}

const ROLLBACK_FROM = new Set<RolloutPhase>(['scheduled', 'running', 'paused', 'succeeded', 'aborted']);

/** After the current wave is evaluated: start the next one, or succeed after the last. */
function moveOn(state: RolloutState, now: Date): RolloutState {
  const next = state.currentWave + 1;
  if (next >= state.waves.length) return { ...state, phase: 'succeeded' };
  return startWave({ ...state, currentWave: next }, next, now.toISOString());
}

function touch(before: RolloutState, after: RolloutState, now: Date): RolloutState {
  return { ...after, revision: before.revision + 1, updatedAt: now.toISOString() };
}
