import { describe, expect, it } from 'vitest';
import { planSteps, type DesiredWorkload } from '../../agent/reconcile/plan-steps.js';
import { specHash } from '../../agent/reconcile/spec-hash.js';
import { containerName } from '../../agent/runtime/container-spec.js';
import type { ObservedContainer } from '../../agent/runtime/runtime.js';
import { WorkloadSpec, type WorkloadSpecInput } from '../../shared/schemas/workload.js';

const DEVICE = 'dev-1';

function wl(name: string, input: WorkloadSpecInput): DesiredWorkload {
  const spec = WorkloadSpec.parse(input);
  return { name, spec, specHash: specHash(spec) };
}

function ctr(w: DesiredWorkload | { name: string; specHash: string; spec?: undefined }, over: Partial<ObservedContainer> = {}): ObservedContainer {
  return {
    id: over.id ?? `${w.name}-${w.specHash.slice(0, 6)}-id`,
    name: containerName(DEVICE, w.name, w.specHash),
    workload: w.name,
    specHash: w.specHash,
    image: w.spec?.image ?? 'img:old',
    imageId: 'sha256:aaaa',
    state: 'running',
    exitCode: null,
    restartCount: 0,
    startedAt: '2026-01-01T00:00:00Z',
    createdAt: '2026-01-01T00:00:00Z',
    ...over,
  };
}

const web1 = wl('web', { image: 'reg.local:5000/web:1' });
const web2 = wl('web', { image: 'reg.local:5000/web:2' });
const web2env = wl('web', { image: 'reg.local:5000/web:1', env: { MODE: 'b' } });
const db = wl('db', { image: 'reg.local:5000/db:1' });
const always = wl('web', { image: 'reg.local:5000/web:latest', pullPolicy: 'always' });
const digest = wl('web', {
  image: `reg.local:5000/web@sha256:${'a'.repeat(64)}`,
  pullPolicy: 'always',
});

function plan(desired: DesiredWorkload[], containers: ObservedContainer[], present: string[], pulled: string[] = []) {
  return planSteps({
    deviceId: DEVICE,
    desired,
    containers,
    presentImages: new Set(present),
    pulledThisPass: new Set(pulled),
  }).map((s) => {
    switch (s.kind) {
      case 'pull':
        return `pull ${s.image} [${s.workloads.join(',')}]`;
      case 'create':
        return `create ${s.workload} ${s.name}`;
      case 'start':
      case 'stop':
      case 'remove':
        return `${s.kind} ${s.workload} ${s.container}`;
    }
  });
}

describe('planSteps: (observed, desired) → steps', () => {
  const table: { name: string; desired: DesiredWorkload[]; containers: ObservedContainer[]; present: string[]; pulled?: string[]; steps: string[] }[] = [
    { name: 'nothing desired, nothing running', desired: [], containers: [], present: [], steps: [] },
    {
      name: 'fresh device: pull first, nothing else in the same plan',
      desired: [web1, db],
      containers: [],
      present: [],
      steps: ['pull reg.local:5000/db:1 [db]', 'pull reg.local:5000/web:1 [web]'],
    },
    {
      name: 'images present: create then start each workload',
      desired: [web1, db],
      containers: [],
      present: [web1.spec.image, db.spec.image],
      steps: [
        `create db ${containerName(DEVICE, 'db', db.specHash)}`,
        `start db ${containerName(DEVICE, 'db', db.specHash)}`,
        `create web ${containerName(DEVICE, 'web', web1.specHash)}`,
        `start web ${containerName(DEVICE, 'web', web1.specHash)}`,
      ],
    },
    {
      name: 'converged: no steps (an unchanged running container is never touched)',
      desired: [web1],
      containers: [ctr(web1)],
      present: [web1.spec.image],
      steps: [],
    },
    {
      name: 'image change: download before stop — only the pull while the new image is missing',
      desired: [web2],
      containers: [ctr(web1)],
      present: [web1.spec.image],
      steps: ['pull reg.local:5000/web:2 [web]'],
    },
    {
      name: 'image change with image present: stop, remove old, create, start new',
      desired: [web2],
      containers: [ctr(web1, { id: 'old' })],
      present: [web2.spec.image],
      steps: ['stop web old', 'remove web old', `create web ${containerName(DEVICE, 'web', web2.specHash)}`, `start web ${containerName(DEVICE, 'web', web2.specHash)}`],
    },
    {
      name: 'env-only change replaces the container without a pull',
      desired: [web2env],
      containers: [ctr(web1, { id: 'old' })],
      present: [web1.spec.image],
      steps: ['stop web old', 'remove web old', `create web ${containerName(DEVICE, 'web', web2env.specHash)}`, `start web ${containerName(DEVICE, 'web', web2env.specHash)}`],
    },
    {
      name: 'crash after stopping the old container: remove it, create, start',
      desired: [web2],
      containers: [ctr(web1, { id: 'old', state: 'exited', exitCode: 137 })],
      present: [web2.spec.image],
      steps: ['remove web old', `create web ${containerName(DEVICE, 'web', web2.specHash)}`, `start web ${containerName(DEVICE, 'web', web2.specHash)}`],
    },
    {
      name: 'crash after create: start the created container, no second create',
      desired: [web2],
      containers: [ctr(web2, { id: 'new', state: 'created', startedAt: null })],
      present: [web2.spec.image],
      steps: ['start web new'],
    },
    {
      name: 'duplicates for the same spec: keep the running one, remove the rest',
      desired: [web1],
      containers: [ctr(web1, { id: 'a', state: 'exited', exitCode: 0 }), ctr(web1, { id: 'b' })],
      present: [web1.spec.image],
      steps: ['remove web a'],
    },
    {
      name: 'workload removed from desired state: stop and remove it',
      desired: [web1],
      containers: [ctr(web1), ctr(db, { id: 'dbc' })],
      present: [web1.spec.image],
      steps: ['stop db dbc', 'remove db dbc'],
    },
    {
      name: 'exited container with restart unless-stopped is started again',
      desired: [web1],
      containers: [ctr(web1, { id: 'w', state: 'exited', exitCode: 1 })],
      present: [web1.spec.image],
      steps: ['start web w'],
    },
    {
      name: 'exited container with restart "no" is left for the report',
      desired: [wl('job', { image: 'x:1', restart: 'no' })],
      containers: [ctr(wl('job', { image: 'x:1', restart: 'no' }), { id: 'j', state: 'exited', exitCode: 0 })],
      present: ['x:1'],
      steps: [],
    },
    {
      name: 'crash-looping container (restarting) is left to Docker',
      desired: [web1],
      containers: [ctr(web1, { state: 'restarting', exitCode: 1, restartCount: 4 })],
      present: [web1.spec.image],
      steps: [],
    },
    {
      name: 'dead container is replaced',
      desired: [web1],
      containers: [ctr(web1, { id: 'd', state: 'dead' })],
      present: [web1.spec.image],
      steps: ['remove web d', `create web ${containerName(DEVICE, 'web', web1.specHash)}`, `start web ${containerName(DEVICE, 'web', web1.specHash)}`],
    },
    {
      name: 'pullPolicy always: pulls once per pass before creating',
      desired: [always],
      containers: [],
      present: [always.spec.image],
      steps: ['pull reg.local:5000/web:latest [web]'],
    },
    {
      name: 'pullPolicy always: already pulled this pass → create',
      desired: [always],
      containers: [],
      present: [always.spec.image],
      pulled: [always.spec.image],
      steps: [`create web ${containerName(DEVICE, 'web', always.specHash)}`, `start web ${containerName(DEVICE, 'web', always.specHash)}`],
    },
    {
      name: 'pullPolicy always: running container is not re-pulled (no registry needed to keep running)',
      desired: [always],
      containers: [ctr(always)],
      present: [always.spec.image],
      steps: [],
    },
    {
      name: 'digest reference present: never re-pulled, whatever the policy',
      desired: [digest],
      containers: [],
      present: [digest.spec.image],
      steps: [`create web ${containerName(DEVICE, 'web', digest.specHash)}`, `start web ${containerName(DEVICE, 'web', digest.specHash)}`],
    },
    {
      name: 'two workloads sharing an image pull it once',
      desired: [wl('a', { image: 'shared:1' }), wl('b', { image: 'shared:1' })],
      containers: [],
      present: [],
      steps: ['pull shared:1 [a,b]'],
    },
  ];

  for (const row of table) {
    it(row.name, () => {
      expect(plan(row.desired, row.containers, row.present, row.pulled)).toEqual(row.steps);
    });
  }

  it('is deterministic regardless of input order', () => {
    const a = plan([web1, db], [], [web1.spec.image, db.spec.image]);
    const b = plan([db, web1], [], [db.spec.image, web1.spec.image]);
    expect(a).toEqual(b);
  });

  it('spec hash ignores key order and counts defaults', () => {
    const x = WorkloadSpec.parse({ image: 'a:1', env: { A: '1', B: '2' } });
    const y = WorkloadSpec.parse({ env: { B: '2', A: '1' }, image: 'a:1', restart: 'unless-stopped' });
    expect(specHash(x)).toBe(specHash(y));
    expect(specHash(x)).not.toBe(specHash(WorkloadSpec.parse({ image: 'a:1', env: { A: '1', B: '3' } })));
  });
});
