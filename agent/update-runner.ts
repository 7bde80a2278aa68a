import type { Logger } from 'pino';
import { errorMessage } from '../shared/errors.js';
import { parseImageRef, registryOf } from '../shared/image-ref.js';
import type { DesiredState } from '../shared/schemas/desired-state.js';
import type { AgentState } from './agent-state.js';
import { decideLocks, decideWindow, type ApplyDecision } from './apply/apply-decision.js';
import { imagesToRemove } from './apply/image-gc.js';
import { passKind } from './apply/pass-kind.js';
import { UpdateLockClaim } from './apply/update-lock-claim.js';
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
  /** The controller's time (DD-052): apply windows and `after` are the controller's instants. */
  controllerNow: () => number;
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
    pulled: new Set<string>(),
  };
  for (const w of Object.keys(target.workloads)) await deps.locks.dirFor(w);

  const kind = passKind(target.version, { appliedVersion: state.meta.appliedVersion, failedVersion: state.meta.failedVersion, deferredVersion: state.deferred?.version ?? null });
  if (kind === 'resync') {
    await runReconcilePass(target, 'resync', null, passDeps, signal);
    return { kind: 'resynced' };
  }
  const previous = state.applied;
  if (kind === 'held-back') {
    await runReconcilePass(previous ?? nothing(target), 'rollback', null, passDeps, signal);
    return { kind: 'held-back' };
  }

  // Time alone decides the window, so it is known before the download; either way the version downloads at once.
  const window = decideWindow(target, new Date(deps.controllerNow()));
  await runReconcilePass(target, 'download', null, passDeps, signal);
  if (!window.apply) return defer(target, window, previous, passDeps, signal, deps);

  // DD-018: locks are decided only now that the download is done, by taking them.
  const claim = new UpdateLockClaim(deps.locks, {
    keepUntilEnd: (w) => target.workloads[w]?.strategy === 'hand-over',
    logger: deps.logger,
  });
  try {
    const touched = touchedWorkloads(target, previous);
    const locked = await claim.claim(touched, await runningWorkloads(deps));
    const locks = decideLocks(target, locked);
    if (!locks.apply) {
      await claim.releaseAll();
      return await defer(target, locks, previous, passDeps, signal, deps);
    }
    if (locked.length > 0) {
      deps.logger.info({ workloads: locked }, 'force: updating despite update locks');
      await claim.seize(locked);
    }
    return await update(target, previous, claim, passDeps, signal, deps);
  } finally {
    await claim.releaseAll();
  }
}

/** Downloaded, but not to be applied yet: keep the previous version as it is and say why. */
async function defer(
  target: DesiredState,
  decision: Exclude<ApplyDecision, { apply: true }>,
  previous: DesiredState | null,
  passDeps: PassDeps,
  signal: AbortSignal,
  deps: RunnerDeps,
): Promise<RunResult> {
  const { state } = deps;
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

/** Replace the touched workloads (the agent holding their update locks), health-gate, commit or roll back. */
async function update(
  target: DesiredState,
  previous: DesiredState | null,
  claim: UpdateLockClaim,
  basePassDeps: PassDeps,
  signal: AbortSignal,
  deps: RunnerDeps,
): Promise<RunResult> {
  const { state } = deps;
  if (state.deferred) {
    deps.events.emit({ type: 'reconcile.started', level: 'info', message: `applying version ${target.version} (no longer deferred)`, version: target.version });
  }
  state.deferred = null;
  state.passRunning = true;
  const passDeps: PassDeps = { ...basePassDeps, beforeStep: (step) => claim.beforeStep(step) };

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
    // The failed containers' locks die with them; the kept containers start unlocked again.
    await claim.seize([...new Set([...touchedWorkloads(target, previous), ...changedWorkloads(target, previous).map((w) => w.name)])]);
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

  await claim.releaseAll();
  await state.saveApplied(target);
  state.meta = { ...state.meta, appliedVersion: target.version, appliedAt: state.iso(), rollback: null };
  await state.persistMeta();
  await collectImages(target, previous, deps);
  return { kind: 'applied' };
}

/** Only a running workload can hold its lock; a file left by a dead container is stale. */
async function runningWorkloads(deps: RunnerDeps): Promise<Set<string>> {
  return new Set((await deps.runtime.listContainers(deps.deviceId)).filter((c) => c.state === 'running').map((c) => c.workload));
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

