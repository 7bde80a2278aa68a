import type { DesiredState } from '../../shared/schemas/desired-state.js';
import { isInWindow, nextWindowStart } from '../../shared/maintenance-window.js';

export type ApplyDecision =
  | { apply: true }
  | { apply: false; reason: 'window'; until: Date }
  | { apply: false; reason: 'locked'; workloads: string[] };

/**
 * Whether the agent may replace containers for `doc` now (pure). A version
 * that must wait is still downloaded. Order: `apply.after`, then the window,
 * then update locks (which `force` overrides).
 */
export function decideApply(doc: DesiredState, now: Date, lockedWorkloads: readonly string[]): ApplyDecision {
  const after = doc.apply?.after ? new Date(doc.apply.after) : null;
  if (after && after.getTime() > now.getTime()) {
    const w = doc.apply?.window;
    const until = w && !isInWindow(w, after) ? nextWindowStart(w, after) : after;
    return { apply: false, reason: 'window', until };
  }
  if (doc.apply?.window && !isInWindow(doc.apply.window, now)) {
    return { apply: false, reason: 'window', until: nextWindowStart(doc.apply.window, now) };
  }
  if (lockedWorkloads.length > 0 && !doc.force) return { apply: false, reason: 'locked', workloads: [...lockedWorkloads] };
  return { apply: true };
}
