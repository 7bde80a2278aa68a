import type { DesiredState } from '../../shared/schemas/desired-state.js';
import { isInWindow, nextWindowStart } from '../../shared/maintenance-window.js';

export type WindowDecision = { apply: true } | { apply: false; reason: 'window'; until: Date };
export type LockDecision = { apply: true } | { apply: false; reason: 'locked'; workloads: string[] };
export type ApplyDecision = WindowDecision | LockDecision;

/**
 * Whether the time allows replacing containers for `doc` now (pure):
 * `apply.after`, then the maintenance window. It depends on time only, so it
 * is decided before the download; a version that must wait is still
 * downloaded at once.
 */
export function decideWindow(doc: DesiredState, now: Date): WindowDecision {
  const after = doc.apply?.after ? new Date(doc.apply.after) : null;
  if (after && after.getTime() > now.getTime()) {
    const w = doc.apply?.window;
    const until = w && !isInWindow(w, after) ? nextWindowStart(w, after) : after;
    return { apply: false, reason: 'window', until };
  }
  if (doc.apply?.window && !isInWindow(doc.apply.window, now)) {
    return { apply: false, reason: 'window', until: nextWindowStart(doc.apply.window, now) };
  }
  return { apply: true };
}

/**
 * Whether update locks let the update go on (pure). Decided after the
 * download, from the locks the agent could not take itself (DD-018);
 * `force` overrides them.
 */
export function decideLocks(doc: DesiredState, lockedWorkloads: readonly string[]): LockDecision {
  if (lockedWorkloads.length > 0 && !doc.force) return { apply: false, reason: 'locked', workloads: [...lockedWorkloads].sort() };
  return { apply: true };
}
