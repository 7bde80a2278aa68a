import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import type { WorkloadGrant } from '../policy/admit-workload.js';
import type { ContainerRuntime, PullProgress, RegistryAuth } from '../runtime/runtime.js';
import { toContainerCreate, type ContainerExtras } from '../runtime/container-spec.js';
import type { Step, StepKind } from './steps.js';

export interface StepContext {
  deviceId: string;
  runtime: ContainerRuntime;
  signal: AbortSignal;
  onPullProgress: (image: string, progress: PullProgress) => void;
  /** Registry credentials for an image, from the desired document (memory only). */
  authFor: (image: string) => RegistryAuth | undefined;
  /** Per-workload additions the agent makes to every container (update-lock mount). */
  extrasFor: (workload: string) => ContainerExtras;
  /** The device policy's grant for a container about to be created; throws CONTAINER_CREATE_REFUSED (DD-024). */
  grantFor: (workload: string, spec: WorkloadSpec) => WorkloadGrant;
}

type Executor<K extends StepKind> = (step: Extract<Step, { kind: K }>, ctx: StepContext) => Promise<void>;

/** The thin executor: one Docker call per step kind, nothing decided here. */
const EXECUTORS: { [K in StepKind]: Executor<K> } = {
  pull: (step, ctx) => {
    const auth = ctx.authFor(step.image);
    return ctx.runtime.pullImage(step.image, {
      signal: ctx.signal,
      onProgress: (p) => ctx.onPullProgress(step.image, p),
      ...(auth ? { auth } : {}),
    });
  },
  stop: (step, ctx) => ctx.runtime.stopContainer(step.container, step.timeoutSeconds),
  remove: (step, ctx) => ctx.runtime.removeContainer(step.container),
  'remove-image': async (step, ctx) => {
    await ctx.runtime.removeImage(step.image);
  },
  create: async (step, ctx) => {
    // Last line of defence: checked at this moment, and the container gets exactly what was checked.
    const grant = ctx.grantFor(step.workload, step.spec);
    await ctx.runtime.createContainer(toContainerCreate(ctx.deviceId, step.workload, step.spec, step.specHash, grant, ctx.extrasFor(step.workload)));
  },
  start: (step, ctx) => ctx.runtime.startContainer(step.container),
};

export function executeStep(step: Step, ctx: StepContext): Promise<void> {
  return (EXECUTORS[step.kind] as Executor<StepKind>)(step as never, ctx);
}
