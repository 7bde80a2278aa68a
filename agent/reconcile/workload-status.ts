import { parseImageRef } from '../../shared/image-ref.js';
import type { DesiredState } from '../../shared/schemas/desired-state.js';
import type { DevicePhase, WorkloadStatus } from '../../shared/schemas/reported-state.js';
import type { ObservedContainer, ObservedImage } from '../runtime/runtime.js';
import { desiredWorkloads } from './reconcile-pass.js';

export type Activity = 'pulling' | 'starting';

export interface StatusInput {
  doc: DesiredState | null;
  containers: readonly ObservedContainer[];
  images: ReadonlyMap<string, ObservedImage | null>;
  /** Workloads a running pass is working on right now. */
  activity: ReadonlyMap<string, Activity>;
  /** Failure of the latest attempt for doc.version, if it failed. */
  failure: { code: string; message: string } | null;
  /** Workloads the applied version removed, reported once as `removed`. */
  removed: readonly string[];
  removedInVersion: number | null;
}

const RANK: Record<string, number> = { running: 0, restarting: 1, paused: 2, created: 3, exited: 4, removing: 8, dead: 9 };

/** Pure: the per-workload status block of the reported state. */
export function buildWorkloadStatuses(input: StatusInput): Record<string, WorkloadStatus> {
  const out: Record<string, WorkloadStatus> = {};
  if (input.doc) {
    for (const w of desiredWorkloads(input.doc)) {
      const mine = input.containers.filter((c) => c.workload === w.name);
      const current = best(mine.filter((c) => c.specHash === w.specHash));
      const previous = best(mine.filter((c) => c.specHash !== w.specHash));
      const shown = current ?? previous;
      const image = input.images.get(w.spec.image) ?? null;
      const ref = parseImageRef(w.spec.image);
      const digestInRef = ref?.digest;
      const base = {
        image: w.spec.image,
        imageId: shown?.imageId ?? null,
        imageDigest:
          current && digestInRef
            ? w.spec.image
            : current
              ? (image?.repoDigests.find((d) => ref !== null && d.startsWith(`${ref.repository}@`)) ?? null)
              : null,
        containerId: shown?.id ?? null,
        specHash: shown?.specHash ?? null,
        exitCode: shown?.exitCode ?? null,
        restartCount: shown?.restartCount ?? 0,
        startedAt: shown?.startedAt ? toMillis(shown.startedAt) : null,
      };
      const activity = input.activity.get(w.name);
      let state: WorkloadStatus['state'];
      let reason: string;
      if (activity === 'pulling') {
        state = 'pulling';
        reason = `pulling ${w.spec.image}`;
      } else if (activity === 'starting') {
        state = 'starting';
        reason = 'creating and starting the container';
      } else if (current) {
        ({ state, reason } = describeContainer(current, w.spec.restart));
      } else if (input.failure) {
        state = 'failed';
        reason = previous
          ? `${input.failure.message}; the previous container ${previous.id.slice(0, 12)} is left ${previous.state}`
          : input.failure.message;
      } else {
        state = 'pending';
        reason = previous ? 'waiting to replace the previous container' : 'waiting to be created';
      }
      out[w.name] = { state, reason: reason.slice(0, 1024), ...base };
    }
  }
  for (const name of input.removed) {
    if (out[name]) continue;
    out[name] = {
      state: 'removed',
      reason: `removed from the desired state${input.removedInVersion ? ` in version ${input.removedInVersion}` : ''}`,
      image: '',
      imageId: null,
      imageDigest: null,
      containerId: null,
      specHash: null,
      exitCode: null,
      restartCount: 0,
      startedAt: null,
    };
  }
  return out;
}

function describeContainer(c: ObservedContainer, restart: string): { state: WorkloadStatus['state']; reason: string } {
  switch (c.state) {
    case 'running':
      return { state: 'running', reason: 'running' }; // since when: startedAt
    case 'restarting':
      return {
        state: 'failed',
        reason: `restarting after exit code ${c.exitCode ?? 'unknown'} (restarted ${c.restartCount} times)`,
      };
    case 'exited':
      if (c.exitCode === 0 && (restart === 'no' || restart === 'on-failure')) {
        return { state: 'stopped', reason: 'exited with code 0' };
      }
      return { state: 'failed', reason: `exited with code ${c.exitCode ?? 'unknown'}` };
    case 'created':
      return { state: 'starting', reason: 'created, not started yet' };
    case 'paused':
      return { state: 'stopped', reason: 'paused' };
    case 'removing':
    case 'dead':
      return { state: 'failed', reason: `container is ${c.state}` };
  }
}

function best(cs: readonly ObservedContainer[]): ObservedContainer | undefined {
  return [...cs].sort((a, b) => (RANK[a.state] ?? 9) - (RANK[b.state] ?? 9) || b.createdAt.localeCompare(a.createdAt))[0];
}

/** Pure: the overall phase (see DevicePhase in the schema for the meaning of each). */
export function derivePhase(input: {
  doc: DesiredState | null;
  appliedVersion: number | null;
  passRunning: boolean;
  failed: boolean;
  workloads: Record<string, WorkloadStatus>;
}): DevicePhase {
  if (!input.doc) return input.failed ? 'failed' : 'idle';
  if (input.passRunning) return 'applying';
  if (input.failed) return 'failed';
  if (input.appliedVersion !== input.doc.version) return 'applying';
  const ok = Object.entries(input.workloads).every(
    ([, w]) => w.state === 'running' || w.state === 'stopped' || w.state === 'removed',
  );
  return ok ? 'converged' : 'degraded';
}

/** Docker's nanosecond times to the milliseconds every other timestamp has (fewer bytes per report). */
function toMillis(iso: string): string {
  const ms = Date.parse(iso);
  return Number.isNaN(ms) ? iso : new Date(ms).toISOString();
}
