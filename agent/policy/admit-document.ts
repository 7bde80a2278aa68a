import type { DesiredState } from '../../shared/schemas/desired-state.js';
import { viewHost, type HostView } from './bind-sources.js';
import { admitWorkload, type Admission, type WorkloadGrant } from './admit-workload.js';
import type { DevicePolicy } from './device-policy.js';
import type { HostFs } from './host-fs.js';

/** The device policy and the filesystem it is checked against. */
export interface AgentPolicy {
  rules: DevicePolicy;
  fs: HostFs;
}

export type DocumentAdmission = { ok: true; grants: Map<string, WorkloadGrant> } | { ok: false; reason: string };

/**
 * A whole desired document against the device policy (DD-024), at receipt,
 * for the cached document at start, and before every reconcile pass. Every
 * violation is listed, so one rejection tells the operator everything to fix.
 */
export function admitDocument(doc: DesiredState, policy: AgentPolicy): DocumentAdmission {
  const view = lazyView(policy);
  const grants = new Map<string, WorkloadGrant>();
  const reasons: string[] = [];
  for (const [workload, spec] of Object.entries(doc.workloads)) {
    const admitted = admitWorkload({ workload, spec, provenance: doc.provenance[workload], policy: policy.rules, view, fs: policy.fs });
    if (admitted.ok) grants.set(workload, admitted.grant);
    else reasons.push(...admitted.reasons);
  }
  return reasons.length > 0 ? { ok: false, reason: reasons.join('; ') } : { ok: true, grants };
}

/** One workload's grant, checked against the filesystem as it is now (the create guard). */
export function admitOne(doc: DesiredState, workload: string, spec: DesiredState['workloads'][string], policy: AgentPolicy): Admission {
  return admitWorkload({ workload, spec, provenance: doc.provenance[workload], policy: policy.rules, view: lazyView(policy), fs: policy.fs });
}

/**
 * The host view, resolved on first use and then kept for this one check: resolving it touches the
 * filesystem (realpath and stat of every allowed root and forbidden path), which a document without
 * host-path binds never needs.
 */
function lazyView(policy: AgentPolicy): () => HostView {
  let view: HostView | undefined;
  return () => (view ??= viewHost(policy.rules, policy.fs));
}
