import { parseImageRef } from '../../shared/image-ref.js';
import type { WorkloadSpec } from '../../shared/schemas/workload.js';
import { containerName } from '../runtime/container-spec.js';
import type { ContainerRunState, ObservedContainer } from '../runtime/runtime.js';
import type { Step } from './steps.js';

export interface DesiredWorkload {
  name: string;
  spec: WorkloadSpec;
  specHash: string;
}

export interface PlanInput {
  deviceId: string;
  /** The whole desired document's workloads: anything not listed is removed. */
  desired: readonly DesiredWorkload[];
  /** Managed containers of this device only (the runtime filters by label). */
  containers: readonly ObservedContainer[];
  /** Desired image references already on the device. */
  presentImages: ReadonlySet<string>;
  /** References pulled earlier in this pass (so `pullPolicy: always` pulls once per pass). */
  pulledThisPass: ReadonlySet<string>;
}

const LIVE: ReadonlySet<ContainerRunState> = new Set(['running', 'restarting', 'paused']);
const PREFERENCE: Record<ContainerRunState, number> = {
  running: 0,
  restarting: 1,
  paused: 2,
  created: 3,
  exited: 4,
  removing: 9,
  dead: 9,
};

/**
 * The pure step planner: (observed, desired) → the steps that move the device
 * towards the desired state. Level-based: it is called again after every
 * batch with freshly observed state until it returns nothing.
 *
 * Order (DD-003 download before stop): while any desired image is missing the
 * plan is only pulls, so a failed pull never leaves a workload stopped.
 * Then, per workload: stop + remove stale containers, create, start.
 */
export function planSteps(input: PlanInput): Step[] {
  const desired = [...input.desired].sort((a, b) => a.name.localeCompare(b.name));
  const desiredNames = new Set(desired.map((w) => w.name));

  const pulls = planPulls(input, desired);
  if (pulls.length > 0) return pulls;

  const steps: Step[] = [];
  const undesired = input.containers
    .filter((c) => !desiredNames.has(c.workload))
    .sort((a, b) => a.name.localeCompare(b.name));
  for (const c of undesired) steps.push(...teardown(c, 10, 'workload is no longer desired'));

  for (const w of desired) {
    const mine = input.containers.filter((c) => c.workload === w.name);
    const keep = pickKeeper(mine.filter((c) => c.specHash === w.specHash && c.state !== 'dead' && c.state !== 'removing'));
    for (const c of mine) {
      if (c === keep) continue;
      const reason = c.specHash === w.specHash ? 'duplicate container for this spec' : 'spec changed';
      steps.push(...teardown(c, w.spec.stopTimeoutSeconds, reason));
    }
    if (!keep) {
      const name = containerName(input.deviceId, w.name, w.specHash);
      steps.push({ kind: 'create', workload: w.name, name, spec: w.spec, specHash: w.specHash });
      steps.push({ kind: 'start', workload: w.name, container: name });
    } else if (shouldStart(keep, w.spec)) {
      steps.push({ kind: 'start', workload: w.name, container: keep.id });
    }
  }
  return steps;
}

function planPulls(input: PlanInput, desired: readonly DesiredWorkload[]): Step[] {
  const byImage = new Map<string, string[]>();
  for (const w of desired) {
    const image = w.spec.image;
    const hasCurrent = input.containers.some(
      (c) => c.workload === w.name && c.specHash === w.specHash && c.state !== 'dead' && c.state !== 'removing',
    );
    const missing = !input.presentImages.has(image);
    const refresh =
      w.spec.pullPolicy === 'always' &&
      !hasCurrent &&
      !input.pulledThisPass.has(image) &&
      parseImageRef(image)?.digest === undefined;
    if (missing || refresh) {
      const list = byImage.get(image) ?? [];
      list.push(w.name);
      byImage.set(image, list);
    }
  }
  return [...byImage.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([image, workloads]) => ({ kind: 'pull', image, workloads }));
}

function teardown(c: ObservedContainer, timeoutSeconds: number, reason: string): Step[] {
  const steps: Step[] = [];
  if (LIVE.has(c.state)) steps.push({ kind: 'stop', workload: c.workload, container: c.id, timeoutSeconds, reason });
  steps.push({ kind: 'remove', workload: c.workload, container: c.id, reason });
  return steps;
}

function pickKeeper(candidates: readonly ObservedContainer[]): ObservedContainer | undefined {
  return [...candidates].sort(
    (a, b) => PREFERENCE[a.state] - PREFERENCE[b.state] || b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id),
  )[0];
}

/**
 * A created container was never started (crash between create and start).
 * An exited one is started again only when its restart policy says it should
 * always run; `no` and `on-failure` exits are left for the report.
 */
function shouldStart(c: ObservedContainer, spec: WorkloadSpec): boolean {
  if (c.state === 'created') return true;
  if (c.state === 'exited') return spec.restart === 'always' || spec.restart === 'unless-stopped';
  return false;
}
