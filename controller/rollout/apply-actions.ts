import type {
  AdvanceAction,
  DropAction,
  FailAction,
  FinishAction,
  MarkAction,
  NotifyAction,
  PlaceAction,
  RolloutAction,
} from './actions.js';
import type { DeviceRolloutState, RolloutState, RolloutWave } from './model.js';

/**
 * Pure reducer. Each action is applied only if its effect is not yet in the
 * state (notify of a notified device, advance to the current wave, fail of an
 * evaluated wave, … are dropped), so replaying a job changes nothing. Returns
 * the same object when nothing changed; otherwise a new state with
 * `revision + 1` and `updatedAt = now`, for the store's compare-and-set.
 */
export function applyActions(state: RolloutState, actions: readonly RolloutAction[], now: Date): RolloutState {
  const at = now.toISOString();
  let s = state;
  for (const action of actions) s = applyOne(s, action, at);
  return s === state ? state : { ...s, revision: state.revision + 1, updatedAt: at };
}

function applyOne(s: RolloutState, a: RolloutAction, at: string): RolloutState {
  switch (a.kind) {
    case 'start':
      return s.phase === 'scheduled' ? startWave({ ...s, phase: 'running' }, s.currentWave, at) : s;
    case 'notify':
      return notify(s, a, at);
    case 'mark':
      return mark(s, a);
    case 'advance':
      return advance(s, a, at);
    case 'finish':
      return finish(s, a, at);
    case 'fail':
      return fail(s, a, at);
    case 'place':
      return place(s, a, at);
    case 'drop':
      return drop(s, a);
  }
}

/** Marks wave `index` started (once). */
export function startWave(s: RolloutState, index: number, at: string): RolloutState {
  const w = s.waves[index];
  if (!w || w.startedAt !== undefined) return s;
  return { ...s, waves: replaceAt(s.waves, index, { ...w, startedAt: at }) };
}

/** Records the verdict of wave `index` (once: a wave is never evaluated twice). */
export function recordOutcome(
  s: RolloutState,
  index: number,
  outcome: 'passed' | 'failed',
  reason: string,
  at: string,
  manual = false,
): RolloutState {
  const w = s.waves[index];
  if (!w || w.evaluatedAt !== undefined) return s;
  const recorded: RolloutWave = { ...w, evaluatedAt: at, outcome, reason, ...(manual ? { manual: true } : {}) };
  return { ...s, waves: replaceAt(s.waves, index, recorded) };
}

function notify(s: RolloutState, a: NotifyAction, at: string): RolloutState {
  const w = s.waves[a.wave];
  if (s.phase !== 'running' || !w || w.startedAt === undefined || a.wave > s.currentWave) return s;
  let devices: Record<string, DeviceRolloutState> | null = null;
  for (const id of a.deviceIds) {
    const d = (devices ?? s.devices)[id];
    const version = a.versions?.[id];
    if (!d || d.wave !== a.wave) continue;
    let next: DeviceRolloutState | null = null;
    if (d.status === 'pending') {
      next = { ...d, status: 'notified', notifiedAt: at, ...(version !== undefined ? { version } : {}) };
    } else if (d.version === undefined && version !== undefined && d.notifiedAt !== undefined) {
      next = { ...d, version };
    }
    if (next) (devices ??= { ...s.devices })[id] = next;
  }
  return devices ? { ...s, devices } : s;
}

const RANK: Record<DeviceRolloutState['status'], number> = {
  pending: 0,
  notified: 1,
  applying: 2,
  succeeded: 3,
  failed: 3,
  'timed-out': 3,
};

/** Statuses only move forward; the one change to a final status is recording a timed-out device's late success. */
function mark(s: RolloutState, a: MarkAction): RolloutState {
  let devices: Record<string, DeviceRolloutState> | null = null;
  for (const u of a.updates) {
    const d = (devices ?? s.devices)[u.deviceId];
    if (!d) continue;
    let next: DeviceRolloutState | null = null;
    if (RANK[u.status] > RANK[d.status] && RANK[u.status] >= RANK.applying && d.status !== 'pending') {
      next = { ...d, status: u.status };
      if (u.reason !== undefined) next.reason = u.reason;
      if (u.succeededAt !== undefined) next.succeededAt = u.succeededAt;
      if (u.lateSuccess) next.lateSuccess = true;
    } else if (d.status === 'timed-out' && u.status === 'timed-out' && u.lateSuccess && !d.lateSuccess) {
      next = { ...d, lateSuccess: true, ...(u.succeededAt !== undefined ? { succeededAt: u.succeededAt } : {}) };
    }
    if (next) (devices ??= { ...s.devices })[u.deviceId] = next;
  }
  return devices ? { ...s, devices } : s;
}

function advance(s: RolloutState, a: AdvanceAction, at: string): RolloutState {
  const current = s.waves[s.currentWave];
  if (s.phase !== 'running' || a.toWave !== s.currentWave + 1 || a.toWave >= s.waves.length) return s;
  if (!current || current.startedAt === undefined) return s;
  const recorded = recordOutcome(s, s.currentWave, 'passed', a.reason ?? 'success threshold reached', at);
  return startWave({ ...recorded, currentWave: a.toWave }, a.toWave, at);
}

function finish(s: RolloutState, a: FinishAction, at: string): RolloutState {
  if (s.phase !== 'running') return s;
  if (s.waves.length === 0) return { ...s, phase: 'succeeded' };
  const current = s.waves[s.currentWave];
  if (s.currentWave !== s.waves.length - 1 || !current || current.startedAt === undefined) return s;
  return { ...recordOutcome(s, s.currentWave, 'passed', a.reason ?? 'success threshold reached', at), phase: 'succeeded' };
}

function fail(s: RolloutState, a: FailAction, at: string): RolloutState {
  const w = s.waves[a.wave];
  if (s.phase !== 'running' || a.wave !== s.currentWave || !w || w.evaluatedAt !== undefined) return s;
  const recorded = recordOutcome(s, a.wave, 'failed', a.reason, at);
  return a.action === 'pause'
    ? { ...recorded, phase: 'paused', pausedReason: `wave ${a.wave} failed: ${a.reason}` }
    : { ...recorded, phase: 'rolling-back' };
}

function place(s: RolloutState, a: PlaceAction, at: string): RolloutState {
  const fresh = [...new Set(a.deviceIds)].filter((id) => !Object.prototype.hasOwnProperty.call(s.devices, id));
  if (fresh.length === 0 || a.wave > s.waves.length) return s;
  const existing = s.waves[a.wave];
  if (existing && existing.evaluatedAt !== undefined) return s;
  const wave: RolloutWave = existing ? { ...existing, devices: [...existing.devices, ...fresh] } : { index: a.wave, devices: fresh };
  const waves = existing ? replaceAt(s.waves, a.wave, wave) : [...s.waves, wave];
  const devices = { ...s.devices };
  for (const id of fresh) devices[id] = { deviceId: id, wave: a.wave, status: 'pending' };
  const placed: RolloutState = { ...s, waves, devices };
  // A running rollout's current wave is always started (a first wave placed into an empty rollout).
  return s.phase === 'running' && a.wave === s.currentWave ? startWave(placed, a.wave, at) : placed;
}

function drop(s: RolloutState, a: DropAction): RolloutState {
  const gone = new Set(a.deviceIds.filter((id) => s.devices[id]?.status === 'pending'));
  if (gone.size === 0) return s;
  const devices = { ...s.devices };
  for (const id of gone) delete devices[id];
  const waves = s.waves.map((w) => (w.devices.some((id) => gone.has(id)) ? { ...w, devices: w.devices.filter((id) => !gone.has(id)) } : w));
  return { ...s, waves, devices };
}

function replaceAt<T>(items: readonly T[], index: number, item: T): T[] {
  const copy = [...items];
  copy[index] = item;
  return copy;
}
