import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient, ApiClientError } from '../../cli/client/api-client.js';
import { newSecret } from '../../shared/device-credentials.js';
import { startBrokerRig, startControllerProcess, type BrokerRig } from '../helpers/controller-process.js';
import { startInProcessControlPlane, type InProcessControlPlane } from '../helpers/controller-in-process.js';
import { watchDesired, type DesiredWatch, type SeenDesired } from '../helpers/desired-watch.js';
import { waitFor } from '../helpers/wait-for.js';

/**
 * Issue 8, test 1: a controller killed (kill -9, through a failpoint) between
 * each pair of steps of every mutation — registry write, recompute/store,
 * publish, clearing the durable mark — and then started again: the device
 * converges to what the mutation says with no manual step, and repeating the
 * request (the operator never got an answer) is a success, not a 409, 404 or
 * a duplicate, and publishes nothing new.
 */
const APP = 'crashapp';

interface Case {
  /** Device, deployment and label names of this case. */
  id: string;
  dep: string;
  label: string;
  secret: string;
}

interface Mutation {
  name: string;
  /** The mutation's own failpoint between its registry write and the drain. */
  point: string;
  prepare(c: Case, api: ApiClient): Promise<void>;
  /** The operator's request; the same call is the retry. */
  request(c: Case, api: ApiClient): Promise<unknown>;
  /** What the device must end up with. */
  converged(d: SeenDesired): boolean;
}

const image = (d: SeenDesired): string | undefined => d.doc.workloads[`${APP}-main`]?.image;

const MUTATIONS: Mutation[] = [
  {
    name: 'device add',
    point: 'device.add:after-write',
    prepare: async (c, api) => void (await api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'selector', selector: `case=${c.label}` } })),
    request: (c, api) => api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret }),
    converged: (d) => image(d) === 'busybox:1',
  },
  {
    name: 'label change',
    point: 'device.labels:after-write',
    prepare: async (c, api) => {
      await api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret });
      await api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'selector', selector: `case=${c.label},role=kiosk` } });
    },
    request: (c, api) => api.updateLabels(c.id, { set: { role: 'kiosk' } }),
    converged: (d) => image(d) === 'busybox:1',
  },
  {
    name: 'override',
    point: 'device.overrides:after-write',
    prepare: async (c, api) => {
      await api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret });
      await api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'devices', devices: [c.id] } });
    },
    request: (c, api) => api.setOverrides(c.id, { env: { GREETING: `hello-${c.label}` } }),
    converged: (d) => d.doc.workloads[`${APP}-main`]?.env?.GREETING === `hello-${d.doc.deviceId.slice(3)}`,
  },
  {
    name: 'pin',
    point: 'device.pin:after-write',
    prepare: async (c, api) => {
      await api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret });
      await api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'devices', devices: [c.id] } });
    },
    request: (c, api) => api.pin(c.id, APP, '2'),
    converged: (d) => image(d) === 'busybox:2',
  },
  {
    name: 'deploy',
    point: 'deployment.create:after-write',
    prepare: async (c, api) => void (await api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret })),
    request: (c, api) => api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'selector', selector: `case=${c.label}` } }),
    converged: (d) => image(d) === 'busybox:1',
  },
  {
    name: 'deployment rm',
    point: 'deployment.remove:after-write',
    prepare: async (c, api) => {
      await api.addDevice({ id: c.id, labels: { case: c.label }, secret: c.secret });
      await api.createDeployment({ id: c.dep, app: APP, version: '1', target: { kind: 'devices', devices: [c.id] } });
    },
    request: (c, api) => api.removeDeployment(c.dep),
    converged: (d) => Object.keys(d.doc.workloads).length === 0,
  },
];

const SHARED_POINTS = ['publish:after-store', 'publish:after-publish', 'drain:before-clear'];

describe('controller killed between the steps of a mutation', () => {
  let rig: BrokerRig;
  let watch: DesiredWatch;
  let cp: InProcessControlPlane | null = null;
  let n = 0;

  beforeAll(async () => {
    rig = await startBrokerRig();
    watch = await watchDesired(rig.brokerUrl, rig.serviceAuth);
    cp = await startInProcessControlPlane(rig);
    for (const version of ['1', '2']) {
      await cp.client.createRelease({ app: APP, version, workloads: { main: { image: `busybox:${version}`, command: ['sleep', '3600'] } } });
    }
  });
  afterAll(async () => {
    await cp?.close();
    await watch?.close();
    await rig?.close();
  });

  /** A controller process armed to kill -9 itself at `point`, and a client for its API. */
  async function startDoomed(point: string) {
    const doomed = await startControllerProcess({
      name: `controller-${point}`,
      redisUrl: rig.redis.url,
      brokerUrl: rig.brokerUrl,
      servicePassword: rig.servicePassword,
      adminToken: rig.adminToken,
      env: { OUTPOST_FAILPOINTS: `${point}=kill` },
      // A controller killed while publishing blocks the others this long (the lease's TTL).
      extraArgs: ['--publish-lease', '2'],
    });
    return { doomed, doomedApi: new ApiClient({ baseUrl: doomed.apiUrl, token: rig.adminToken, retryDelayMs: 50 }) };
  }

  const cases = MUTATIONS.flatMap((m) => [m.point, ...SHARED_POINTS].map((point) => [m.name, point, m] as const));

  it.each(cases)('%s, killed at %s: converges after a restart; the retried request succeeds and changes nothing', async (_name, point, m) => {
    n += 1;
    const label = `k${n}${Date.now().toString(36)}`;
    const c: Case = { id: `cp-${label}`, dep: `dep-${label}`, label, secret: newSecret() };
    if (!cp) throw new Error('no control plane');
    await m.prepare(c, cp.client);
    await cp.close();
    cp = null;

    // The same controller, armed to die at `point`.
    const { doomed, doomedApi } = await startDoomed(point);
    const answer = await m.request(c, doomedApi).then(
      () => 'answered',
      (err: unknown) => (err instanceof ApiClientError ? err.code : String(err)),
    );
    expect(answer, doomed.proc.output()).toBe('API_UNREACHABLE');
    expect((await doomed.proc.waitForExit(10_000)).signal).toBe('SIGKILL');

    // Started again: nobody repeats anything, yet the device gets what the mutation said.
    cp = await startInProcessControlPlane(rig);
    const converged = await watch.waitForDoc(c.id, m.converged, `converged after a crash at ${point}`);
    const before = await cp.client.getDevice(c.id);
    expect(before.pending).toBe(false);

    // The operator, who never got an answer, sends the same request again.
    await m.request(c, cp.client);
    const after = await cp.client.getDevice(c.id);
    expect(after.desiredVersion).toBe(before.desiredVersion);
    expect(after.desiredVersion).toBe(converged.version);
    expect(after.pending).toBe(false);
    expect(watch.violations()).toEqual([]);
  });

  it('a decommission killed after each of its steps finishes by itself after a restart, and a retried DELETE reports it done', async () => {
    for (const point of ['decommission:after-tombstone', 'decommission:after-clear-retained', 'decommission:after-purge-session']) {
      n += 1;
      const label = `k${n}${Date.now().toString(36)}`;
      const id = `cp-${label}`;
      if (!cp) throw new Error('no control plane');
      await cp.client.addDevice({ id, labels: { case: label }, secret: newSecret() });
      await cp.client.createDeployment({ id: `dep-${label}`, app: APP, version: '1', target: { kind: 'devices', devices: [id] } });
      await watch.waitForDoc(id, (d) => image(d) === 'busybox:1', 'deployed');
      await cp.close();
      cp = null;

      const { doomed, doomedApi } = await startDoomed(point);
      await expect(doomedApi.removeDevice(id)).rejects.toMatchObject({ code: 'API_UNREACHABLE' });
      expect((await doomed.proc.waitForExit(10_000)).signal).toBe('SIGKILL');

      cp = await startInProcessControlPlane(rig);
      const api = cp.client;
      // resume() at start carries the decommission through to the end.
      await waitFor(async () => (await api.getDevice(id).then(() => false, (e: unknown) => e instanceof ApiClientError && e.code === 'DEVICE_NOT_FOUND')), {
        timeoutMs: 30_000,
        description: `${id} decommissioned after a crash at ${point}`,
      });
      const retried = await api.removeDevice(id);
      expect(retried.status).toBe(200);
      expect(retried.decommission).toMatchObject({ deviceId: id, state: 'done', remaining: [] });
      expect((await api.fleet()).decommissioning).toEqual([]);
      // Its retained document was cleared, and nothing was published for it afterwards.
      await api.addDevice({ id: `${id}-sentinel`, labels: { case: label }, secret: newSecret() });
      await api.createDeployment({ id: `dep-${label}-s`, app: APP, version: '1', target: { kind: 'devices', devices: [`${id}-sentinel`] } });
      await watch.waitForDoc(`${id}-sentinel`, (d) => image(d) === 'busybox:1', 'sentinel');
      expect(watch.lastIsClear(id)).toBe(true);
      expect(watch.violations()).toEqual([]);
    }
  });
});
