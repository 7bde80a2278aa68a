import { describe, expect, it } from 'vitest';
import { buildWorkloadStatuses, derivePhase, type StatusInput } from '../../agent/reconcile/workload-status.js';
import { specHash } from '../../agent/reconcile/spec-hash.js';
import type { ObservedContainer } from '../../agent/runtime/runtime.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { WorkloadSpec } from '../../shared/schemas/workload.js';

const doc = DesiredState.parse({
  protocol: 1,
  deviceId: 'd1',
  version: 7,
  issuedAt: '2026-11-23T00:00:00Z',
  workloads: { web: { image: 'reg:5000/web:2' }, job: { image: 'reg:5000/job:1', restart: 'no' } },
});
const webHash = specHash(WorkloadSpec.parse({ image: 'reg:5000/web:2' }));
const jobHash = specHash(WorkloadSpec.parse({ image: 'reg:5000/job:1', restart: 'no' }));

function c(workload: string, hash: string, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: `${workload}-${hash.slice(0, 4)}`,
    name: workload,
    workload,
    specHash: hash,
    image: 'x',
    imageId: 'sha256:img',
    state: 'running',
    exitCode: null,
    restartCount: 0,
    startedAt: '2026-11-23T00:00:01Z',
    createdAt: '2026-11-23T00:00:00Z',
    ...over,
  };
}

const base: StatusInput = {
  doc,
  containers: [],
  images: new Map([['reg:5000/web:2', { id: 'sha256:img', repoDigests: ['reg:5000/web@sha256:abc'] }]]),
  activity: new Map(),
  failure: null,
  removed: [],
  removedInVersion: null,
};

describe('buildWorkloadStatuses', () => {
  it('running container → running with digest and container id', () => {
    const s = buildWorkloadStatuses({ ...base, containers: [c('web', webHash), c('job', jobHash, { state: 'exited', exitCode: 0 })] });
    expect(s.web).toMatchObject({ state: 'running', containerId: `web-${webHash.slice(0, 4)}`, imageDigest: 'reg:5000/web@sha256:abc', specHash: webHash });
    expect(s.job).toMatchObject({ state: 'stopped', reason: 'exited with code 0', exitCode: 0 });
  });

  it("reports the digest of the workload's own repository, never another repository's, and times in milliseconds", () => {
    const images = new Map([['reg:5000/web:2', { id: 'sha256:img', repoDigests: ['127.0.0.1:5000/other@sha256:111', 'reg:5000/web@sha256:abc'] }]]);
    const s = buildWorkloadStatuses({ ...base, images, containers: [c('web', webHash, { startedAt: '2026-11-23T00:00:01.123456789Z' })] });
    expect(s.web).toMatchObject({ imageDigest: 'reg:5000/web@sha256:abc', reason: 'running', startedAt: '2026-11-23T00:00:01.123Z' });
    const elsewhere = new Map([['reg:5000/web:2', { id: 'sha256:img', repoDigests: ['127.0.0.1:5000/other@sha256:111'] }]]);
    expect(buildWorkloadStatuses({ ...base, images: elsewhere, containers: [c('web', webHash)] }).web?.imageDigest).toBeNull();
  });

  it('a failure while the previous container still runs says so', () => {
    const s = buildWorkloadStatuses({
      ...base,
      containers: [c('web', 'oldhash')],
      failure: { code: 'IMAGE_NOT_FOUND', message: 'pull reg:5000/web:2 failed: manifest unknown' },
    });
    expect(s.web?.state).toBe('failed');
    expect(s.web?.reason).toMatch(/manifest unknown; the previous container .* is left running/);
    expect(s.web?.specHash).toBe('oldhash');
    expect(s.web?.imageDigest).toBeNull();
  });

  it('crash loop and non-zero exits are failed with the exit code', () => {
    const s = buildWorkloadStatuses({
      ...base,
      containers: [c('web', webHash, { state: 'restarting', exitCode: 3, restartCount: 5 }), c('job', jobHash, { state: 'exited', exitCode: 2 })],
    });
    expect(s.web).toMatchObject({ state: 'failed', restartCount: 5 });
    expect(s.web?.reason).toMatch(/exit code 3/);
    expect(s.job).toMatchObject({ state: 'failed', reason: 'exited with code 2' });
  });

  it('activity overrides: pulling and starting', () => {
    const s = buildWorkloadStatuses({ ...base, activity: new Map([['web', 'pulling'], ['job', 'starting']] as const) });
    expect(s.web?.state).toBe('pulling');
    expect(s.job?.state).toBe('starting');
  });

  it('removed workloads are listed once as removed', () => {
    const s = buildWorkloadStatuses({ ...base, removed: ['old'], removedInVersion: 7 });
    expect(s.old).toMatchObject({ state: 'removed', reason: 'removed from the desired state in version 7' });
  });
});

describe('derivePhase', () => {
  const running = buildWorkloadStatuses({ ...base, containers: [c('web', webHash), c('job', jobHash, { state: 'exited', exitCode: 0 })] });
  const table: [string, Parameters<typeof derivePhase>[0], string][] = [
    ['no desired state', { doc: null, appliedVersion: null, passRunning: false, failed: false, workloads: {} }, 'idle'],
    ['pass running', { doc, appliedVersion: 6, passRunning: true, failed: false, workloads: running }, 'applying'],
    ['failed attempt', { doc, appliedVersion: 6, passRunning: false, failed: true, workloads: running }, 'failed'],
    ['applied and running', { doc, appliedVersion: 7, passRunning: false, failed: false, workloads: running }, 'converged'],
    ['applied, one workload down', { doc, appliedVersion: 7, passRunning: false, failed: false, workloads: { ...running, web: { ...running.web!, state: 'failed' } } }, 'degraded'],
    ['not yet applied, waiting', { doc, appliedVersion: 6, passRunning: false, failed: false, workloads: running }, 'applying'],
  ];
  it.each(table)('%s', (_n, input, phase) => {
    expect(derivePhase(input)).toBe(phase);
  });
});
