import type { WorkloadSpec } from '../../shared/schemas/workload.js';

/** What the planner asks the executor to do: one Docker operation each. */
export type Step =
  | { kind: 'pull'; image: string; workloads: string[] }
  | { kind: 'stop'; workload: string; container: string; timeoutSeconds: number; reason: string }
  | { kind: 'remove'; workload: string; container: string; reason: string }
  | { kind: 'remove-image'; workload: string; image: string; reason: string }
  | { kind: 'create'; workload: string; name: string; spec: WorkloadSpec; specHash: string }
  | { kind: 'start'; workload: string; container: string };

export type StepKind = Step['kind'];

export function stepWorkloads(step: Step): string[] {
  return step.kind === 'pull' ? step.workloads : [step.workload];
}

export function describeStep(step: Step): string {
  switch (step.kind) {
    case 'pull':
      return `pull ${step.image}`;
    case 'stop':
      return `stop ${step.workload} (${step.container.slice(0, 12)}): ${step.reason}`;
    case 'remove':
      return `remove ${step.workload} (${step.container.slice(0, 12)}): ${step.reason}`;
    case 'remove-image':
      return `remove image ${step.image} of ${step.workload}: ${step.reason}`;
    case 'create':
      return `create ${step.workload} as ${step.name}`;
    case 'start':
      return `start ${step.workload} (${step.container.slice(0, 12)})`;
  }
}
