import { describe, expect, it } from 'vitest';
import type { AgentPolicy } from '../../agent/policy/admit-document.js';
import { DEFAULT_CAPABILITIES } from '../../agent/policy/capabilities.js';
import { devicePolicy } from '../../agent/policy/device-policy.js';
import type { HostFs } from '../../agent/policy/host-fs.js';
import { createGuard } from '../../agent/reconcile/create-guard.js';
import { executeStep, type StepContext } from '../../agent/reconcile/execute-step.js';
import { specHash } from '../../agent/reconcile/spec-hash.js';
import type { ContainerCreateRequest, ContainerRuntime } from '../../agent/runtime/runtime.js';
import { isOutpostError } from '../../shared/errors.js';
import { DesiredState } from '../../shared/schemas/desired-state.js';
import { fakeHostFs } from '../helpers/fake-host-fs.js';

/** The host before and after something swapped /srv/app/data for a symlink to the Docker socket's directory. */
const BEFORE = fakeHostFs({ '/run/docker.sock': 'file', '/var/run': { link: '/run' }, '/srv/app/data': 'dir', '/var/lib/outpost': 'dir' });
const AFTER = fakeHostFs({ '/run/docker.sock': 'file', '/var/run': { link: '/run' }, '/srv/app/data': { link: '/var/run' }, '/var/lib/outpost': 'dir' });

function swappableFs(): { fs: HostFs; swap: () => void } {
  let current = BEFORE;
  return {
    fs: { realpath: (p) => current.realpath(p), identity: (p) => current.identity(p), linkTarget: (p) => current.linkTarget(p) },
    swap: () => {
      current = AFTER;
    },
  };
}

const policyOn = (fs: HostFs): AgentPolicy => ({
  rules: devicePolicy({ allowedHostPaths: ['/srv/app'], stateDir: '/var/lib/outpost', secretFiles: [], allowedCapabilities: [], allowedVolumes: [] }),
  fs,
});

const doc = DesiredState.parse({
  protocol: 1,
  deviceId: 'kiosk-a',
  version: 7,
  issuedAt: '2026-11-23T10:00:00Z',
  workloads: {
    'kiosk-web': {
      image: 'busybox:1',
      volumes: [
        { type: 'bind', source: '/srv/app/data', target: '/data' },
        { type: 'volume', name: 'db', target: '/db' },
      ],
    },
  },
  provenance: { 'kiosk-web': { release: 'kiosk@1.0.0' } },
});
const spec = doc.workloads['kiosk-web'] as DesiredState['workloads'][string];

const volumes = (existing: string[]): Pick<ContainerRuntime, 'volumeExists'> => ({ volumeExists: async (name) => existing.includes(name) });

async function refusal(p: Promise<unknown> | (() => unknown)): Promise<{ code: string; message: string }> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    if (isOutpostError(err)) return { code: err.code, message: err.message };
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('create guard', () => {
  it('a pass refuses a document the filesystem now makes unsafe, before touching anything', async () => {
    const host = swappableFs();
    const guard = createGuard(policyOn(host.fs), volumes([]));
    await guard.checkDocument(doc, async () => new Set(['kiosk-web']));
    host.swap();
    const r = await refusal(guard.checkDocument(doc, async () => new Set()));
    expect(r.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(r.message).toMatch(/version 7 is refused by the device policy now .*\/srv\/app\/data \(resolves to \/run\) would expose the container engine/);
  });

  it('refuses to start on an empty namespaced volume while the pre-namespacing volume exists', async () => {
    const guard = (existing: string[]) => createGuard(policyOn(BEFORE), volumes(existing));
    const creating = async () => new Set(['kiosk-web']);
    const r = await refusal(guard(['db']).checkDocument(doc, creating));
    expect(r.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(r.message).toMatch(/named volume db exists from before volume namespacing; this agent would mount outpost.kiosk.db.*--allow-volume db/);
    await guard(['db', 'outpost.kiosk.db']).checkDocument(doc, creating);
    await guard([]).checkDocument(doc, creating);
    // A running container made by an older agent keeps its volume: only a new container would miss the data.
    await guard(['db']).checkDocument(doc, async () => new Set());
  });

  it('the create step checks again and Docker gets exactly what was checked', async () => {
    const host = swappableFs();
    const guard = createGuard(policyOn(host.fs), volumes([]));
    const created: ContainerCreateRequest[] = [];
    const runtime = {
      createContainer: async (req: ContainerCreateRequest) => {
        created.push(req);
        return 'id';
      },
    } as unknown as ContainerRuntime;
    const ctx: StepContext = {
      deviceId: 'kiosk-a',
      runtime,
      signal: new AbortController().signal,
      onPullProgress: () => undefined,
      authFor: () => undefined,
      extrasFor: () => ({ lockDir: '/var/lib/outpost/locks/kiosk-web' }),
      grantFor: (w, s) => guard.grant(doc, w, s),
    };
    const step = { kind: 'create', workload: 'kiosk-web', name: 'n', spec, specHash: specHash(spec) } as const;

    await executeStep(step, ctx);
    const hostConfig = created[0]?.options.HostConfig as Record<string, unknown>;
    expect(hostConfig).toMatchObject({
      Privileged: false,
      SecurityOpt: ['no-new-privileges:true'],
      CapDrop: ['ALL'],
      CapAdd: [...DEFAULT_CAPABILITIES].sort(),
      Mounts: [
        { Type: 'bind', Source: '/srv/app/data', Target: '/data', ReadOnly: false },
        {
          Type: 'volume',
          Source: 'outpost.kiosk.db',
          Target: '/db',
          ReadOnly: false,
          VolumeOptions: { Labels: { 'io.outpost.managed': 'true', 'io.outpost.volume-namespace': 'kiosk' } },
        },
        { Type: 'bind', Source: '/var/lib/outpost/locks/kiosk-web', Target: '/run/outpost', ReadOnly: false },
      ],
    });

    host.swap();
    const r = await refusal(() => executeStep(step, ctx));
    expect(r.code).toBe('CONTAINER_CREATE_REFUSED');
    expect(r.message).toMatch(/create refused by the device policy: workload kiosk-web: bind mount of \/srv\/app\/data \(resolves to \/run\)/);
    expect(created).toHaveLength(1);
  });
});
