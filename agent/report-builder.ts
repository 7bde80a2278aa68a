import { errorMessage } from '../shared/errors.js';
import { PROTOCOL_VERSION } from '../shared/schemas/common.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { ReportedState } from '../shared/schemas/reported-state.js';
import type { AgentState } from './agent-state.js';
import { buildWorkloadStatuses, derivePhase } from './reconcile/workload-status.js';
import type { ContainerRuntime, ObservedContainer, ObservedImage } from './runtime/runtime.js';

export interface ReportInput {
  deviceId: string;
  runtime: ContainerRuntime;
  state: AgentState;
  /** The version the agent works towards. */
  target: DesiredState | null;
  agent: ReportedState['agent'];
  /** The device's clock against the controller's (DD-052), null before the first reading. */
  clock: ReportedState['clock'];
}

/** The full reported document from the agent's state and what Docker says runs. */
export async function buildReport(input: ReportInput): Promise<ReportedState> {
  const { state, target } = input;
  // Read with the target, before the runtime is asked: a report built across the arrival of a newer
  // document must not say it was seen while describing the older one as the target (one instant).
  const seenVersion = state.highest?.version ?? null;
  const rolledBack = target !== null && state.meta.failedVersion === target.version;
  // After a rollback the device runs the applied version: describe that one.
  const shown = rolledBack ? state.applied : target;
  let containers: ObservedContainer[] = [];
  const images = new Map<string, ObservedImage | null>();
  try {
    containers = await input.runtime.listContainers(input.deviceId);
    for (const spec of Object.values(shown?.workloads ?? {})) {
      if (!images.has(spec.image)) images.set(spec.image, await input.runtime.inspectImage(spec.image));
    }
  } catch (err) {
    state.pushError({ code: 'RUNTIME_UNAVAILABLE', message: errorMessage(err), version: target?.version ?? null, workload: null });
  }
  const deferred = state.deferred && target && state.deferred.version === target.version && !state.passRunning ? state.deferred : null;
  const workloads = buildWorkloadStatuses({
    doc: deferred ? state.applied : shown,
    containers,
    images,
    activity: state.activity,
    failure: state.failure,
    removed: state.removed.names,
    removedInVersion: state.removed.version,
  });
  if (deferred?.reason === 'locked') {
    for (const w of deferred.workloads) {
      const current = workloads[w];
      if (current) workloads[w] = { ...current, state: 'deferred', reason: 'deferred: locked (the workload holds its update lock)' };
    }
  }
  if (rolledBack && state.meta.rollback) {
    const rb = state.meta.rollback;
    const current = workloads[rb.workload];
    if (current && current.state === 'running') {
      workloads[rb.workload] = { ...current, state: 'rolled-back', reason: `rolled back from version ${rb.version}: ${rb.reason}` };
    }
  }
  const failed = state.failure !== null || (state.rejected !== null && !state.passRunning);
  const applied = state.meta.appliedVersion;
  let phase = derivePhase({ doc: target, appliedVersion: applied, passRunning: state.passRunning, failed, workloads });
  if (!state.passRunning && !failed) {
    if (rolledBack) phase = 'rolled-back';
    else if (deferred) phase = 'deferred';
  }
  return {
    protocol: PROTOCOL_VERSION,
    deviceId: input.deviceId,
    reportedAt: state.reportStamp(),
    agent: input.agent,
    desired: {
      seenVersion,
      appliedVersion: applied,
      applyingVersion: target && target.version !== applied ? target.version : null,
    },
    phase,
    workloads,
    errors: state.errors,
    deferred,
    rollback: state.meta.rollback
      ? { ...state.meta.rollback, logs: state.meta.rollback.logs.slice(-8192), health: state.meta.rollback.health?.slice(0, 4096) ?? null }
      : null,
    rejected: state.rejected,
    stale: state.stale,
    clock: input.clock ?? null,
  };
}
