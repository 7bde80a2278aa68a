import type { Logger } from 'pino';
import { OutpostError, errorMessage, isOutpostError } from '../../shared/errors.js';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { ContainerRuntime, PullProgress, RegistryAuth } from '../runtime/runtime.js';
import type { ContainerExtras } from '../runtime/container-spec.js';
import type { CreateGuard } from './create-guard.js';
import type { EventSink } from './event-sink.js';
import { executeStep } from './execute-step.js';
import { GATE_DEFAULTS, healthGate, type GateFailure, type GateTarget } from './health-gate.js';
import { planSteps, type DesiredWorkload, type PlanInput } from './plan-steps.js';
import type { Prober } from './probes.js';
import { specHash } from './spec-hash.js';
import { describeStep, stepWorkloads, type Step } from './steps.js';
import { containerName } from '../runtime/container-spec.js';

export interface PassDeps {
  deviceId: string;
  runtime: ContainerRuntime;
  events: EventSink;
  logger: Logger;
  now: () => number;
  prober: Prober;
  authFor: (image: string) => RegistryAuth | undefined;
  extrasFor: (workload: string) => ContainerExtras;
  /** The device policy, checked before each pass and each create (DD-024). */
  guard: CreateGuard;
  /** Called before each step runs (the update runner gives back its update locks here); must not throw. */
  beforeStep?: (step: Step) => Promise<void>;
  /** Images already pulled by an earlier pass of the same run, so `pullPolicy: always` pulls once. */
  pulled?: Set<string>;
  /** Called after each step succeeded; the crash-injection hook of the kill -9 tests lives here. */
  afterStep?: (step: Step) => void;
  /** Step-progress callback for live reports (pulling/starting). */
  onStep?: (step: Step, phase: 'started' | 'succeeded' | 'failed') => void;
  /** Plan→execute rounds before a pass gives up as stuck. */
  maxRounds?: number;
  pullProgressIntervalMs?: number;
  gate?: Partial<typeof GATE_DEFAULTS>;
}

/**
 * What a pass is for:
 * - resync: keep the applied version as it is (level-based repair);
 * - update: move to a new version, health-gate what changed, then commit;
 * - rollback: go back to the previous version, starting its kept containers;
 * - download: pull what a deferred version needs, stop nothing.
 */
export type PassMode = 'resync' | 'update' | 'rollback' | 'download';

export type PassOutcome = { kind: 'converged'; steps: number } | { kind: 'downloaded'; steps: number } | { kind: 'unhealthy'; failure: GateFailure };

export function desiredWorkloads(doc: DesiredState): DesiredWorkload[] {
  return Object.entries(doc.workloads).map(([name, spec]) => ({ name, spec, specHash: specHash(spec) }));
}

/** Workloads whose spec differs between two documents (or that are new). */
export function changedWorkloads(doc: DesiredState, previous: DesiredState | null): DesiredWorkload[] {
  const before = new Map(previous ? desiredWorkloads(previous).map((w) => [w.name, w.specHash]) : []);
  return desiredWorkloads(doc).filter((w) => before.get(w.name) !== w.specHash);
}

/**
 * One level-based pass: observe, plan, execute, and again until the plan is
 * empty. An update keeps the replaced containers (stopped, or running for
 * hand-over) until every changed workload passed its health gate, then
 * removes them; an unhealthy outcome leaves both so the caller can roll back.
 */
export async function runReconcilePass(
  doc: DesiredState,
  mode: PassMode,
  previous: DesiredState | null,
  deps: PassDeps,
  signal: AbortSignal,
): Promise<PassOutcome> {
  const desired = desiredWorkloads(doc);
  // Before anything is pulled, stopped or created: a document the device refuses now leaves everything as it is.
  await deps.guard.checkDocument(doc, async () => {
    const observed = await deps.runtime.listContainers(deps.deviceId);
    return new Set(desired.filter((w) => !observed.some((c) => c.workload === w.name && c.specHash === w.specHash)).map((w) => w.name));
  });
  if (mode === 'update') await checkHandOver(desired, deps);
  const converge = async (opts: Pick<PlanInput, 'keepStale' | 'downloadOnly' | 'startStopped'>): Promise<number> => {
    const pulledThisPass = deps.pulled ?? new Set<string>();
    const maxRounds = deps.maxRounds ?? 8;
    let executed = 0;
    for (let round = 0; round < maxRounds; round++) {
      throwIfAborted(signal);
      const containers = await deps.runtime.listContainers(deps.deviceId);
      const presentImages = new Set<string>();
      for (const image of new Set(desired.map((w) => w.spec.image))) {
        if (await deps.runtime.inspectImage(image)) presentImages.add(image);
      }
      const steps = planSteps({ deviceId: deps.deviceId, desired, containers, presentImages, pulledThisPass, ...opts });
      if (steps.length === 0) return executed;
      for (const step of steps) {
        throwIfAborted(signal);
        await deps.beforeStep?.(step);
        await runStep(step, doc, deps, signal);
        if (step.kind === 'pull') pulledThisPass.add(step.image);
        executed++;
        deps.afterStep?.(step);
      }
    }
    throw new OutpostError('RECONCILE_STUCK', `no convergence after ${maxRounds} plan rounds`);
  };

  switch (mode) {
    case 'download':
      return { kind: 'downloaded', steps: await converge({ downloadOnly: true }) };
    case 'resync':
      return { kind: 'converged', steps: await converge({}) };
    case 'rollback':
      return { kind: 'converged', steps: await converge({ startStopped: true }) };
    case 'update': {
      let steps = await converge({ keepStale: true });
      const targets: GateTarget[] = changedWorkloads(doc, previous).map((w) => ({
        workload: w.name,
        container: containerName(deps.deviceId, w.name, w.specHash),
        spec: w.spec,
      }));
      if (targets.length > 0) {
        deps.logger.info({ workloads: targets.map((t) => t.workload) }, 'health gate');
        const failure = await healthGate(targets, {
          runtime: deps.runtime,
          prober: deps.prober,
          now: deps.now,
          signal,
          ...GATE_DEFAULTS,
          ...deps.gate,
        });
        throwIfAborted(signal);
        if (failure) return { kind: 'unhealthy', failure };
      }
      steps += await converge({});
      return { kind: 'converged', steps };
    }
  }
}

/** hand-over runs old and new side by side: refuse when they would bind the same host port. */
async function checkHandOver(desired: readonly DesiredWorkload[], deps: PassDeps): Promise<void> {
  const containers = await deps.runtime.listContainers(deps.deviceId);
  for (const w of desired) {
    if (w.spec.strategy !== 'hand-over') continue;
    const wanted = new Set((w.spec.ports ?? []).map((p) => `${p.host}/${p.protocol}`));
    if (wanted.size === 0) continue;
    for (const old of containers.filter((c) => c.workload === w.name && c.specHash !== w.specHash && c.state === 'running')) {
      const detail = await deps.runtime.inspectContainer(old.id);
      const clash = (detail?.hostPorts ?? []).filter((p) => wanted.has(p));
      if (clash.length > 0) {
        throw new OutpostError(
          'HANDOVER_PORT_CONFLICT',
          `workload ${w.name}: hand-over would run the new container beside the old one, but both bind host port ${clash.join(', ')}; ` +
            'use strategy download-then-kill or another host port',
        );
      }
    }
  }
}

async function runStep(step: Step, doc: DesiredState, deps: PassDeps, signal: AbortSignal): Promise<void> {
  const version = doc.version;
  const workload = stepWorkloads(step)[0] ?? null;
  const log = deps.logger.child({ step: step.kind, workload });
  deps.onStep?.(step, 'started');
  deps.events.emit({ type: 'step.started', level: 'info', message: describeStep(step), version, workload, data: { step: step.kind } });
  const started = deps.now();
  try {
    await executeStep(step, {
      deviceId: deps.deviceId,
      runtime: deps.runtime,
      signal,
      onPullProgress: throttledPullProgress(deps, version, step, deps.pullProgressIntervalMs ?? 2000),
      authFor: deps.authFor,
      extrasFor: deps.extrasFor,
      grantFor: (w, spec) => deps.guard.grant(doc, w, spec),
    });
  } catch (err) {
    const e = isOutpostError(err) ? err : new OutpostError('RUNTIME_UNAVAILABLE', errorMessage(err), { cause: err });
    deps.onStep?.(step, 'failed');
    if (e.code !== 'RECONCILE_ABORTED') {
      log.warn({ code: e.code, err: e.message }, 'step failed');
      deps.events.emit({
        type: 'step.failed',
        level: 'error',
        message: `${describeStep(step)}: ${e.message}`,
        version,
        workload,
        code: e.code,
        data: { step: step.kind },
      });
    }
    throw e;
  }
  deps.onStep?.(step, 'succeeded');
  log.debug({ ms: deps.now() - started }, 'step done');
  deps.events.emit({
    type: 'step.succeeded',
    level: 'info',
    message: describeStep(step),
    version,
    workload,
    data: { step: step.kind, ms: deps.now() - started },
  });
}

function throttledPullProgress(deps: PassDeps, version: number, step: Step, intervalMs: number) {
  let last = 0;
  return (image: string, p: PullProgress): void => {
    const now = deps.now();
    if (now - last < intervalMs) return;
    last = now;
    deps.events.emit({
      type: 'pull.progress',
      level: 'info',
      message: `${image}: ${p.status}`,
      version,
      workload: stepWorkloads(step)[0] ?? null,
      data: { image, ...p },
    });
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new OutpostError('RECONCILE_ABORTED', 'superseded by a newer desired version');
}
