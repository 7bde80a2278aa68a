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
  /**
   * An update is in flight: replaced containers are stopped but kept, so the
   * previous version can be started again if the new one fails its health
   * gate; hand-over leaves them running. The commit pass removes them.
   */
  keepStale?: boolean;
  /** Applying is deferred (window, update lock): only downloads that stop nothing. */
  downloadOnly?: boolean;
  /** Start stopped containers of the desired spec whatever their restart policy (rolling back). */
  startStopped?: boolean;
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
const STOP_FIRST = new Set(['kill-then-download', 'delete-then-download']);

/**
 * The pure step planner: (observed, desired) → the steps that move the device
 * towards the desired state. Level-based: it is called again after every
 * batch with freshly observed state until it returns nothing.
 *
 * Order per update strategy (DD-003 download before stop):
 * 1. kill-then-download / delete-then-download stop the old container first
 *    (delete-then-download also removes it and its image, to free the disk);
 * 2. while any desired image is missing, the plan is only pulls;
 * 3. then, per workload: stop (and unless kept, remove) stale containers,
 *    create and start the new one; hand-over starts the new one beside the old.
 */
export function planSteps(input: PlanInput): Step[] {
  const desired = [...input.desired].sort((a, b) => a.name.localeCompare(b.name));
  const keepers = new Map(desired.map((w) => [w.name, keeperOf(w, input.containers)]));

  const prepare = input.downloadOnly ? [] : planStopFirst(input, desired, keepers);
  if (prepare.length > 0) return prepare;

  const pulls = planPulls(input, desired, keepers);
  if (pulls.length > 0 || input.downloadOnly) return pulls;

  const steps: Step[] = [];
  const desiredNames = new Set(desired.map((w) => w.name));
  const undesired = input.containers.filter((c) => !desiredNames.has(c.workload)).sort((a, b) => a.name.localeCompare(b.name));
  for (const c of undesired) steps.push(...retire(c, 10, 'workload is no longer desired', input.keepStale ?? false));

  for (const w of desired) {
    const keep = keepers.get(w.name);
    const handOver = w.spec.strategy === 'hand-over';
    for (const c of input.containers.filter((x) => x.workload === w.name && x !== keep)) {
      if (c.specHash === w.specHash) {
        steps.push(...retire(c, w.spec.stopTimeoutSeconds, 'duplicate container for this spec', false));
      } else if (handOver && input.keepStale) {
        // hand-over: the old container keeps serving until the new one passed its health gate
      } else {
        steps.push(...retire(c, w.spec.stopTimeoutSeconds, 'spec changed', input.keepStale ?? false));
      }
    }
    if (!keep) {
      const name = containerName(input.deviceId, w.name, w.specHash);
      steps.push({ kind: 'create', workload: w.name, name, spec: w.spec, specHash: w.specHash });
      steps.push({ kind: 'start', workload: w.name, container: name });
    } else if (shouldStart(keep, w.spec, input.startStopped ?? false)) {
      steps.push({ kind: 'start', workload: w.name, container: keep.id });
    }
  }
  return steps;
}

function keeperOf(w: DesiredWorkload, containers: readonly ObservedContainer[]): ObservedContainer | undefined {
  return [...containers]
    .filter((c) => c.workload === w.name && c.specHash === w.specHash && c.state !== 'dead' && c.state !== 'removing')
    .sort((a, b) => PREFERENCE[a.state] - PREFERENCE[b.state] || b.createdAt.localeCompare(a.createdAt) || a.id.localeCompare(b.id))[0];
}

function needsPull(w: DesiredWorkload, input: PlanInput, hasCurrent: boolean): boolean {
  if (!input.presentImages.has(w.spec.image)) return true;
  return (
    w.spec.pullPolicy === 'always' &&
    !hasCurrent &&
    !input.pulledThisPass.has(w.spec.image) &&
    parseImageRef(w.spec.image)?.digest === undefined
  );
}

function planStopFirst(input: PlanInput, desired: readonly DesiredWorkload[], keepers: Map<string, ObservedContainer | undefined>): Step[] {
  const steps: Step[] = [];
  for (const w of desired) {
    if (!STOP_FIRST.has(w.spec.strategy) || keepers.get(w.name) || !needsPull(w, input, false)) continue;
    for (const c of input.containers.filter((x) => x.workload === w.name && x.specHash !== w.specHash)) {
      if (LIVE.has(c.state)) {
        steps.push({ kind: 'stop', workload: w.name, container: c.id, timeoutSeconds: w.spec.stopTimeoutSeconds, reason: `${w.spec.strategy}: stop before the download` });
      }
      if (w.spec.strategy === 'delete-then-download') {
        steps.push({ kind: 'remove', workload: w.name, container: c.id, reason: 'delete-then-download: free the disk before the download' });
        const sharedImage = input.containers.some((o) => o !== c && o.image === c.image) || desired.some((d) => d.spec.image === c.image);
        if (!sharedImage) {
          steps.push({ kind: 'remove-image', workload: w.name, image: c.image, reason: 'delete-then-download: free the disk before the download' });
        }
      }
    }
  }
  return steps;
}

function planPulls(input: PlanInput, desired: readonly DesiredWorkload[], keepers: Map<string, ObservedContainer | undefined>): Step[] {
  const byImage = new Map<string, string[]>();
  for (const w of desired) {
    if (input.downloadOnly && STOP_FIRST.has(w.spec.strategy) && !keepers.get(w.name)) {
      // These strategies download only after stopping, which a deferred update must not do.
      const oldLive = input.containers.some((c) => c.workload === w.name && c.specHash !== w.specHash && LIVE.has(c.state));
      if (oldLive) continue;
    }
    if (!needsPull(w, input, keepers.get(w.name) !== undefined)) continue;
    const list = byImage.get(w.spec.image) ?? [];
    list.push(w.name);
    byImage.set(w.spec.image, list);
  }
  return [...byImage.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([image, workloads]) => ({ kind: 'pull', image, workloads }));
}

function retire(c: ObservedContainer, timeoutSeconds: number, reason: string, keep: boolean): Step[] {
  const steps: Step[] = [];
  if (LIVE.has(c.state)) steps.push({ kind: 'stop', workload: c.workload, container: c.id, timeoutSeconds, reason });
  if (!keep) steps.push({ kind: 'remove', workload: c.workload, container: c.id, reason });
  return steps;
}

/**
 * A created container was never started (crash between create and start).
 * An exited one is started again when its restart policy says it should
 * always run, or when rolling back to it; `no` and `on-failure` exits are
 * otherwise left for the report.
 */
function shouldStart(c: ObservedContainer, spec: WorkloadSpec, startStopped: boolean): boolean {
  if (c.state === 'created') return true;
  if (c.state === 'exited') return startStopped || spec.restart === 'always' || spec.restart === 'unless-stopped';
  return false;
}
