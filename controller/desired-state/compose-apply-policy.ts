import type { MaintenanceWindow } from '../../shared/schemas/desired-state.js';
import type { Deployment } from '../model/deployment.js';

/** The document-level part of a desired document that says when to apply it. */
export interface DocumentApplyPolicy {
  apply?: { after?: string; window?: MaintenanceWindow };
  force: boolean;
}

/**
 * One device's apply policy from the deployments that win an app on it
 * (DD-040). A desired document has one policy for all its workloads, so the
 * winners' policies are folded, the same way for every device and
 * independently of the order they are given in:
 *   - `after`: the latest `after` of any winner — no app arrives before its
 *     own `after` promised;
 *   - `window`: the window of the newest winner (highest creation sequence)
 *     that sets one — the operator's latest word on when this device may
 *     change;
 *   - `force`: only when the newest winner asks for it — the deployment that
 *     made the latest change; an older deployment's `force` does not push a
 *     later change of another app through a workload's lock.
 * Shadowed deployments count for nothing. Pure: depends on the deployments only.
 */
export function composeApplyPolicy(winners: readonly Deployment[]): DocumentApplyPolicy {
  const newestFirst = [...winners].sort((a, b) => b.seq - a.seq);
  let after: string | undefined;
  for (const d of winners) {
    const a = d.apply?.after;
    if (a && (!after || Date.parse(a) > Date.parse(after))) after = a;
  }
  const window = newestFirst.find((d) => d.apply?.window)?.apply?.window;
  const force = newestFirst[0]?.apply?.force === true;
  const apply = { ...(after ? { after } : {}), ...(window ? { window } : {}) };
  return { ...(after || window ? { apply } : {}), force };
}

/** Whether the policy asks for anything; a document without one hashes as it did before DD-040. */
export function hasApplyPolicy(p: DocumentApplyPolicy): boolean {
  return p.apply !== undefined || p.force;
}
