import type { Logger } from 'pino';
import { OutpostError, errorMessage, isOutpostError } from '../../shared/errors.js';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { ContainerRuntime, PullProgress } from '../runtime/runtime.js';
import type { EventSink } from './event-sink.js';
import { executeStep } from './execute-step.js';
import { planSteps, type DesiredWorkload } from './plan-steps.js';
import { specHash } from './spec-hash.js';
import { describeStep, type Step } from './steps.js';

export interface PassDeps {
  deviceId: string;
  runtime: ContainerRuntime;
  events: EventSink;
  logger: Logger;
  now: () => number;
  /** Called after each step succeeded; the crash-injection hook of the kill -9 tests lives here. */
  afterStep?: (step: Step) => void;
  /** Step-progress callback for live reports (pulling/starting). */
  onStep?: (step: Step, phase: 'started' | 'succeeded' | 'failed') => void;
  /** Plan→execute rounds before a pass gives up as stuck. */
  maxRounds?: number;
  pullProgressIntervalMs?: number;
}

export function desiredWorkloads(doc: DesiredState): DesiredWorkload[] {
  return Object.entries(doc.workloads).map(([name, spec]) => ({ name, spec, specHash: specHash(spec) }));
}

/**
 * One level-based pass: observe, plan, execute, and again until the plan is
 * empty. Throws an OutpostError on the first failing step, leaving whatever
 * was not yet touched as it was.
 */
export async function runReconcilePass(doc: DesiredState, deps: PassDeps, signal: AbortSignal): Promise<{ steps: number }> {
  const desired = desiredWorkloads(doc);
  const pulledThisPass = new Set<string>();
  const maxRounds = deps.maxRounds ?? 6;
  let executed = 0;
  for (let round = 0; round < maxRounds; round++) {
    throwIfAborted(signal);
    const containers = await deps.runtime.listContainers(deps.deviceId);
    const presentImages = new Set<string>();
    for (const image of new Set(desired.map((w) => w.spec.image))) {
      if (await deps.runtime.inspectImage(image)) presentImages.add(image);
    }
    const steps = planSteps({ deviceId: deps.deviceId, desired, containers, presentImages, pulledThisPass });
    if (steps.length === 0) return { steps: executed };
    for (const step of steps) {
      throwIfAborted(signal);
      await runStep(step, doc.version, deps, signal);
      if (step.kind === 'pull') pulledThisPass.add(step.image);
      executed++;
      deps.afterStep?.(step);
    }
  }
  throw new OutpostError('RECONCILE_STUCK', `no convergence after ${maxRounds} plan rounds`);
}

async function runStep(step: Step, version: number, deps: PassDeps, signal: AbortSignal): Promise<void> {
  const workload = step.kind === 'pull' ? (step.workloads[0] ?? null) : step.workload;
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
      workload: step.kind === 'pull' ? (step.workloads[0] ?? null) : null,
      data: { image, ...p },
    });
  };
}

function throwIfAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new OutpostError('RECONCILE_ABORTED', 'superseded by a newer desired version');
}
