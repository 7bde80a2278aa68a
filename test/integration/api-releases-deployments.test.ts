import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as S from '../../controller/http/schemas.js';
import { errorOf, freshId, startApi, type ApiRig } from '../helpers/api.js';

/** Releases, deployments and the fleet summary through the HTTP API, on a real control plane. */
describe('HTTP API: releases, deployments, fleet', () => {
  let api: ApiRig;

  beforeAll(async () => {
    api = await startApi();
  });
  afterAll(async () => {
    await api?.close();
  });

  async function enroll(labels: Record<string, string> = {}): Promise<string> {
    const id = freshId('dev');
    const res = await api.call('POST', '/v1/devices', { id, labels });
    expect(res.status, res.raw.body).toBe(201);
    return id;
  }

  async function release(app: string, version: string, image = 'busybox:1') {
    const res = await api.call('POST', '/v1/releases', { app, version, workloads: { main: { image } } });
    expect(res.status, res.raw.body).toBe(201);
    return S.ReleaseEnvelope.parse(res.body).release;
  }

  async function deploy(body: Record<string, unknown>) {
    const res = await api.call('POST', '/v1/deployments', body);
    expect(res.status, res.raw.body).toBe(201);
    return S.CreatedDeployment.parse(res.body);
  }

  describe('releases', () => {
    it('creates a release (201), re-creates an identical one (200), refuses other content (409)', async () => {
      const app = freshId('app');
      const body = { app, version: '1.0.0', workloads: { web: { image: 'nginx:1.27', ports: [{ container: 80, host: 8080 }] } }, notes: 'first' };
      const created = await api.call('POST', '/v1/releases', body);
      expect(created.status).toBe(201);
      const { release } = S.ReleaseEnvelope.parse(created.body);
      expect(release).toMatchObject({ app, version: '1.0.0', notes: 'first', digest: expect.stringMatching(/^[a-f0-9]{64}$/) });
      // Defaults of the workload schema are applied and stored.
      expect(release.workloads.web).toMatchObject({ image: 'nginx:1.27', restart: 'unless-stopped', ports: [{ container: 80, host: 8080, protocol: 'tcp' }] });

      const again = await api.call('POST', '/v1/releases', body);
      expect(again.status).toBe(200);
      expect(S.ReleaseEnvelope.parse(again.body).release).toEqual(release);

      const conflict = await api.call('POST', '/v1/releases', { ...body, workloads: { web: { image: 'nginx:1.28' } } });
      expect(conflict.status).toBe(409);
      const error = errorOf(conflict);
      expect(error.code).toBe('RELEASE_CONFLICT');
      expect(error.message).toContain(`${app}@1.0.0 already exists with different content`);
      expect(error.details).toEqual({ existingDigest: release.digest, digest: expect.stringMatching(/^[a-f0-9]{64}$/) });
    });

    it('lists releases (newest first, optionally of one app) and shows one', async () => {
      const app = freshId('app');
      const other = freshId('app');
      await release(app, '1.0.0');
      await release(other, '1.0.0');
      await release(app, '1.1.0');

      const mine = await api.call('GET', `/v1/releases?app=${app}`);
      expect(mine.status).toBe(200);
      expect(S.ReleaseList.parse(mine.body).releases.map((r) => r.version)).toEqual(['1.1.0', '1.0.0']);

      const all = S.ReleaseList.parse((await api.call('GET', '/v1/releases')).body).releases.map((r) => `${r.app}@${r.version}`);
      expect(all).toEqual(expect.arrayContaining([`${app}@1.0.0`, `${app}@1.1.0`, `${other}@1.0.0`]));

      const one = await api.call('GET', `/v1/releases/${app}/1.1.0`);
      expect(one.status).toBe(200);
      expect(S.ReleaseEnvelope.parse(one.body).release).toMatchObject({ app, version: '1.1.0' });

      const missing = await api.call('GET', `/v1/releases/${app}/9.9.9`);
      expect(missing.status).toBe(404);
      expect(errorOf(missing)).toEqual({ code: 'RELEASE_NOT_FOUND', message: `release ${app}@9.9.9 does not exist` });
    });
  });

  describe('deployments', () => {
    it('deploys by selector: 201 with targeted and applied devices and the published count', async () => {
      const app = freshId('app');
      const site = freshId('site');
      await release(app, '1.0.0');
      const a = await enroll({ site, role: 'kiosk' });
      const b = await enroll({ site, role: 'kiosk' });
      await enroll({ site, role: 'sensor' });

      const { deployment, published } = await deploy({ app, version: '1.0.0', target: { kind: 'selector', selector: `site=${site},role=kiosk` }, priority: 5 });
      expect(published).toBe(2);
      expect(deployment).toMatchObject({
        app,
        version: '1.0.0',
        priority: 5,
        target: { kind: 'selector', selector: `site=${site},role=kiosk` },
        targeted: [a, b].sort(),
        applied: [a, b].sort(),
        shadowed: [],
        pinned: [],
        running: [],
      });

      const shown = await api.call('GET', `/v1/deployments/${deployment.id}`);
      expect(shown.status).toBe(200);
      expect(S.DeploymentDetail.parse(shown.body)).toEqual(deployment);

      const list = S.DeploymentList.parse((await api.call('GET', '/v1/deployments')).body).deployments;
      expect(list.map((d) => d.id)).toContain(deployment.id);
      expect(list.find((d) => d.id === deployment.id)).toEqual({
        id: deployment.id,
        app,
        version: '1.0.0',
        target: deployment.target,
        priority: 5,
        createdAt: deployment.createdAt,
        seq: deployment.seq,
      });
    });

    it('shows a device shadowed by a higher-priority deployment, and falls back when it is removed', async () => {
      const app = freshId('app');
      const group = freshId('group');
      await release(app, '1.0.0', 'busybox:1');
      await release(app, '2.0.0', 'busybox:2');
      const a = await enroll({ group });
      const b = await enroll({ group });
      const base = await deploy({ app, version: '1.0.0', target: { kind: 'selector', selector: `group=${group}` }, id: freshId('base') });
      expect(base.published).toBe(2);
      const canary = await deploy({ app, version: '2.0.0', target: { kind: 'devices', devices: [b] }, priority: 10 });
      expect(canary.published).toBe(1);
      expect(canary.deployment).toMatchObject({ targeted: [b], applied: [b], shadowed: [] });

      const baseNow = S.DeploymentDetail.parse((await api.call('GET', `/v1/deployments/${base.deployment.id}`)).body);
      expect(baseNow).toMatchObject({ targeted: [a, b].sort(), applied: [a], shadowed: [b] });
      const deviceB = S.DeviceDetail.parse((await api.call('GET', `/v1/devices/${b}`)).body);
      expect(deviceB.apps).toEqual([{ app, deploymentId: canary.deployment.id, version: '2.0.0', source: 'deployment', shadowed: [base.deployment.id] }]);

      const removed = await api.call('DELETE', `/v1/deployments/${canary.deployment.id}`);
      expect(removed.status).toBe(200);
      expect(S.Published.parse(removed.body)).toMatchObject({ published: 1, alreadyRemoved: false, delivery: { state: 'published', published: 1, pending: 0 } });
      const desiredB = S.DesiredEnvelope.parse((await api.call('GET', `/v1/devices/${b}/desired`)).body).desired;
      expect(desiredB?.workloads[`${app}-main`]?.image).toBe('busybox:1');

      const gone = await api.call('GET', `/v1/deployments/${canary.deployment.id}`);
      expect(gone.status).toBe(404);
      expect(errorOf(gone)).toEqual({ code: 'DEPLOYMENT_NOT_FOUND', message: `deployment ${canary.deployment.id} does not exist` });
      // A retried DELETE (the first answer lost) is not a 404: it says it was already removed.
      const retried = await api.call('DELETE', `/v1/deployments/${canary.deployment.id}`);
      expect(retried.status).toBe(200);
      expect(S.Published.parse(retried.body)).toMatchObject({ published: 0, alreadyRemoved: true });
      expect((await api.call('DELETE', `/v1/deployments/${freshId('never')}`)).status).toBe(404);
    });

    it('refuses a deployment of an unknown release (404), a bad selector (400) and an id taken by other content (409); the same request again is 200', async () => {
      const app = freshId('app');
      const unknown = await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'selector', selector: 'a=b' } });
      expect(unknown.status).toBe(404);
      expect(errorOf(unknown)).toEqual({ code: 'RELEASE_NOT_FOUND', message: `release ${app}@1.0.0 does not exist` });

      await release(app, '1.0.0');
      const badSelector = await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'selector', selector: 'site in (a,' } });
      expect(badSelector.status).toBe(400);
      expect(errorOf(badSelector).code).toBe('SELECTOR_INVALID');
      expect(errorOf(badSelector).message).toContain('site in (a,');

      const id = freshId('dep');
      await deploy({ app, version: '1.0.0', target: { kind: 'devices', devices: ['nobody'] }, id });
      const repeated = await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'devices', devices: ['nobody'] }, id });
      expect(repeated.status).toBe(200);
      expect(S.CreatedDeployment.parse(repeated.body)).toMatchObject({ created: false, deployment: { id } });
      const duplicate = await api.call('POST', '/v1/deployments', { app, version: '1.0.0', target: { kind: 'devices', devices: ['somebody'] }, id });
      expect(duplicate.status).toBe(409);
      expect(errorOf(duplicate)).toEqual({ code: 'DEPLOYMENT_EXISTS', message: `deployment ${id} already exists with other content (${app}@1.0.0)` });
    });
  });

  describe('fleet', () => {
    it('summarizes the fleet consistently with the lists', async () => {
      const app = freshId('app');
      await release(app, '1.0.0');
      const id = await enroll({ fleet: 'yes' });
      await deploy({ app, version: '1.0.0', target: { kind: 'devices', devices: [id] } });

      const res = await api.call('GET', '/v1/fleet');
      expect(res.status).toBe(200);
      const fleet = S.FleetSummary.parse(res.body);
      const devices = S.DeviceList.parse((await api.call('GET', '/v1/devices')).body).devices;
      const releases = S.ReleaseList.parse((await api.call('GET', '/v1/releases')).body).releases;
      const deployments = S.DeploymentList.parse((await api.call('GET', '/v1/deployments')).body).deployments;
      expect(fleet.devices).toBe(devices.length);
      expect(fleet.online + fleet.offline).toBe(devices.length);
      expect(fleet.online).toBe(0);
      expect(fleet.releases).toBe(releases.length);
      expect(fleet.deployments).toBe(deployments.length);
      expect(Object.values(fleet.byPhase).reduce((a, b) => a + b, 0)).toBe(devices.length);
      expect(fleet.byPhase.unknown).toBe(devices.length);
      expect(fleet.byRelease[`${app}@1.0.0`]).toEqual({ desired: 1, running: 0 });
      expect(fleet.inSync).toBe(devices.filter((d) => d.inSync).length);
    });
  });

  it('answers GET /healthz without a token', async () => {
    const res = await api.call('GET', '/healthz', undefined, {});
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ ok: true });
  });
});
