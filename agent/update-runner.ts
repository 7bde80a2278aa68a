import type { Logger } from 'pino';
import { errorMessage } from '../shared/errors.js';
import { parseImageRef, registryOf } from '../shared/image-ref.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { AgentState } from './agent-state.js';
import { decideApply } from './apply/apply-decision.js';
import { imagesToRemove } from './apply/image-gc.js';
import type { UpdateLocks } from './apply/update-locks.js';
import type { EventSink } from './reconcile/event-sink.js';
import { changedWorkloads, runReconcilePass, type PassDeps } from './reconcile/reconcile-pass.js';
import type { GateFailure } from './reconcile/health-gate.js';
import type { ContainerRuntime, RegistryAuth } from './runtime/runtime.js';

export type RunResult =
  | { kind: 'applied' }
  | { kind: 'resynced' }
  | { kind: 'deferred' }
  | { kind: 'rolled-back'; failure: GateFailure }
  | { kind: 'held-back' };

export interface RunnerDeps {
  deviceId: string;
  runtime: ContainerRuntime;
  state: AgentState;
  events: EventSink;
  logger: Logger;
  now: () => number;
  locks: UpdateLocks;
  /** Registry credentials of the newest document, memory only. */
  registryAuth: () => DesiredState['registryAuth'];
  /** Base of every pass's dependencies (prober, hooks, step callbacks). */
  pass: Omit<PassDeps, 'authFor' | 'extrasFor' | 'deviceId' | 'runtime' | 'events' | 'logger' | 'now'>;
  /** Ask for another pass at this time (a deferred window). */
  wakeAt: (atMs: number) => void;
  /** Ask for another pass once these workloads released their update locks. */
  wakeWhenUnlocked: (workloads: readonly string[]) => void;
}

/** An empty document: where a device with nothing applied rolls back to. */
function nothing(doc: DesiredState): DesiredState {
  return { ...doc, version: Math.max(1, doc.version - 1), workloads: {}, provenance: {} };
}

/**
 * Decides what a pass for `target` must do and does it (DD-013):
 * the applied version → level-based resync; a version that failed its gate →
 * hold the previous one; a new version → download, wait for its window and
 * locks, update with health gate, roll back by itself if unhealthy, and
 * clean up images two versions old.
 */
export async function runFor(target: DesiredState, signal: AbortSignal, deps: RunnerDeps): Promise<RunResult> {
  const { state } = deps;
  const passDeps: PassDeps = {
    ...deps.pass,
    deviceId: deps.deviceId,
    runtime: deps.runtime,
    events: deps.events,
    logger: deps.logger,
    now: deps.now,
    authFor: (image) => authFor(image, deps.registryAuth()),
    extrasFor: (workload) => ({ lockDir: deps.locks.pathFor(workload) }),
  };
  for (const w of Object.keys(target.workloads)) await deps.locks.dirFor(w);

  if (target.version === state.meta.appliedVersion) {
    await runReconcilePass(target, 'resync', null, passDeps, signal);
    return { kind: 'resynced' };
  }
  const previous = state.applied;
  if (target.version === state.meta.failedVersion) {
    await runReconcilePass(previous ?? nothing(target), 'rollback', null, passDeps, signal);
    return { kind: 'held-back' };
  }

  const touched = touchedWorkloads(target, previous);
  // Only a running workload can hold its lock; a file left by a dead container is stale.
  const live = new Set((await deps.runtime.listContainers(deps.deviceId)).filter((c) => c.state === 'running').map((c) => c.workload));
  const decision = decideApply(target, new Date(deps.now()), deps.locks.heldBy(touched.filter((w) => live.has(w))));
  if (!decision.apply) {
    await runReconcilePass(target, 'download', null, passDeps, signal);
    if (previous) await runReconcilePass(previous, 'resync', null, passDeps, signal);
    const deferred: NonNullable<AgentState['deferred']> =
      decision.reason === 'window'
        ? { version: target.version, reason: 'window', until: decision.until.toISOString(), workloads: [] }
        : { version: target.version, reason: 'locked', until: null, workloads: decision.workloads };
    const changed = JSON.stringify(deferred) !== JSON.stringify(state.deferred);
    state.deferred = deferred;
    if (decision.reason === 'window') deps.wakeAt(decision.until.getTime());
    else deps.wakeWhenUnlocked(decision.workloads);
    if (!changed) return { kind: 'deferred' };
    deps.events.emit({
      type: 'update.deferred',
      level: 'info',
      message:
        decision.reason === 'window'
          ? `version ${target.version} downloaded; applies when its window opens at ${decision.until.toISOString()}`
          : `version ${target.version} downloaded; deferred: locked by ${decision.workloads.join(', ')}`,
      version: target.version,
      data: { reason: decision.reason },
    });
    return { kind: 'deferred' };
  }
  if (state.deferred) {
    deps.events.emit({ type: 'reconcile.started', level: 'info', message: `applying version ${target.version} (no longer deferred)`, version: target.version });
  }
  state.deferred = null;
  state.passRunning = true;
  for (const w of touched) await deps.locks.clear(w);

  const outcome = await runReconcilePass(target, 'update', previous, passDeps, signal);
  if (outcome.kind === 'unhealthy') {
    const f = outcome.failure;
    const repullNeeded = Object.values(target.workloads).some((s) => s.strategy === 'delete-then-download');
    state.meta = {
      ...state.meta,
      failedVersion: target.version,
      rollback: { version: target.version, workload: f.workload, reason: f.reason, exitCode: f.exitCode, logs: f.logs, health: f.health, at: state.iso(), repullNeeded },
    };
    await state.persistMeta();
    deps.logger.warn({ version: target.version, workload: f.workload, reason: f.reason }, 'update unhealthy; rolling back');
    await runReconcilePass(previous ?? nothing(target), 'rollback', null, passDeps, signal);
    deps.events.emit({
      type: 'update.rolled-back',
      level: 'error',
      message: `version ${target.version} rolled back: ${f.workload}: ${f.reason}`,
      version: target.version,
      workload: f.workload,
      code: 'UPDATE_UNHEALTHY',
      data: { exitCode: f.exitCode, health: f.health, logs: f.logs.slice(-2048), repullNeeded },
    });
    return { kind: 'rolled-back', failure: f };
  }

  await state.saveApplied(target);
  state.meta = { ...state.meta, appliedVersion: target.version, appliedAt: state.iso(), rollback: null };
  await state.persistMeta();
  await collectImages(target, previous, deps);
  return { kind: 'applied' };
}

/** Workloads whose containers an update would stop or replace (their locks matter). */
function touchedWorkloads(target: DesiredState, previous: DesiredState | null): string[] {
  if (!previous) return [];
  const changed = changedWorkloads(target, previous).map((w) => w.name).filter((n) => n in previous.workloads);
  const removed = Object.keys(previous.workloads).filter((n) => !(n in target.workloads));
  return [...changed, ...removed];
}

function authFor(image: string, creds: DesiredState['registryAuth']): RegistryAuth | undefined {
  const ref = parseImageRef(image);
  if (!ref || !creds) return undefined;
  const registry = registryOf(ref);
  const c = creds[registry];
  return c ? { username: c.username, password: c.password, serveraddress: registry } : undefined;
}

async function collectImages(current: DesiredState, previous: DesiredState | null, deps: RunnerDeps): Promise<void> {
  const { state } = deps;
  const remove = imagesToRemove(state.meta.pulledImages, current, previous);
  if (remove.length === 0) return;
  const gone: string[] = [];
  for (const ref of remove) {
    try {
      if (await deps.runtime.removeImage(ref)) {
        deps.events.emit({ type: 'image.removed', level: 'info', message: `removed image ${ref} (two versions old)`, version: current.version, data: { image: ref } });
      }
      gone.push(ref);
    } catch (err) {
      deps.logger.warn({ image: ref, err: errorMessage(err) }, 'image clean-up failed');
    }
  }
  state.meta = { ...state.meta, pulledImages: state.meta.pulledImages.filter((r) => !gone.includes(r)) };
  await state.persistMeta();
}

